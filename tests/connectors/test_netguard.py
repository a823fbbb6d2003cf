import pytest

from connectors.base import ConfigError
from connectors.netguard import check_url, ip_allowed


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data",
        "https://10.0.0.5/api",
        "https://192.168.1.1",
        "https://[::ffff:127.0.0.1]/",
        "ftp://example.com",
    ],
)
def test_private_metadata_and_odd_schemes_are_refused(url, settings):
    settings.SANDBOX = False
    with pytest.raises(ConfigError):
        check_url(url, resolve=False)


def test_loopback_is_allowed_only_in_the_sandbox_or_when_allowlisted(settings):
    settings.SANDBOX = False
    with pytest.raises(ConfigError):
        check_url("http://127.0.0.1:8000/sandbox/hubspot", resolve=False)
    settings.ALLOWED_PRIVATE_HOSTS = ["127.0.0.1"]
    assert check_url("http://127.0.0.1:8000/x", resolve=False)
    settings.ALLOWED_PRIVATE_HOSTS = []
    settings.SANDBOX = True
    assert check_url("http://127.0.0.1:8000/x", resolve=False)


def test_production_wants_https(settings):
    settings.SANDBOX = False
    with pytest.raises(ConfigError):
        check_url("http://api.example.com", resolve=False)


def test_ip_allowed_matches_addresses_and_cidrs_and_ignores_bad_entries():
    allowed = ["203.0.113.7", "198.51.100.0/24", "2001:db8::/32", "not-an-ip"]
    assert ip_allowed("203.0.113.7", allowed)
    assert ip_allowed("198.51.100.200", allowed)
    assert ip_allowed("2001:db8::1", allowed)
    assert not ip_allowed("203.0.113.8", allowed)
    assert not ip_allowed("", allowed)
    assert not ip_allowed("garbage", allowed)
    assert not ip_allowed("203.0.113.7", [])
