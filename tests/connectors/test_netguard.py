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


# --- connect-time enforcement: DNS rebinding ------------------------------------------------------


@pytest.fixture
def local_server():
    """A loopback HTTP server that counts what reaches it."""
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's naming)
            hits.append(self.path)
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            return

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], hits
    server.shutdown()


@pytest.fixture
def rebinding_dns(monkeypatch):
    """``rebind.example`` answers a public address the first time and loopback after that."""
    import socket

    from connectors import netguard

    real = socket.getaddrinfo
    answers = iter(["93.184.215.14"])

    def getaddrinfo(host, port, *args, **kwargs):
        if host != "rebind.example":
            return real(host, port, *args, **kwargs)
        address = next(answers, "127.0.0.1")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(netguard.socket, "getaddrinfo", getaddrinfo)


def test_a_guarded_session_refuses_a_name_that_resolves_to_loopback_and_sends_nothing(
    local_server, monkeypatch, settings
):
    import socket

    import requests

    from connectors import netguard

    port, hits = local_server
    real = socket.getaddrinfo
    monkeypatch.setattr(
        netguard.socket,
        "getaddrinfo",
        lambda host, *a, **k: real("127.0.0.1" if host == "inside.example" else host, *a, **k),
    )
    session = netguard.guarded_session()

    with pytest.raises(requests.ConnectionError) as refused:
        session.post(f"http://inside.example:{port}/x", data=b"{}", timeout=5)
    assert netguard.refused_address(refused.value) is not None and hits == []

    settings.SANDBOX = True  # loopback allowlisted by name: the emulators' case
    assert session.post(f"http://127.0.0.1:{port}/ok", data=b"{}", timeout=5).status_code == 204
    assert hits == ["/ok"]


def test_a_webhook_target_rebinding_to_loopback_after_the_check_is_refused_not_retried(
    local_server, rebinding_dns, settings
):
    from webhooks.outbound.http import post_signed

    settings.SANDBOX = True  # plain http allowed; rebind.example itself is not allowlisted
    port, hits = local_server
    result = post_signed(f"http://rebind.example:{port}/hook", body=b"{}", headers={}, timeout=5)

    assert result.status_code is None and result.error.startswith("target refused")
    assert not result.retryable and hits == []


def test_a_connector_whose_host_now_resolves_to_loopback_fails_for_good(local_server, monkeypatch, settings):
    """Its base URL passed the check when it was configured; the DNS answer changed since."""
    import socket

    from connectors import netguard
    from connectors.base import PermanentError
    from connectors.http import ProviderClient

    real = socket.getaddrinfo
    monkeypatch.setattr(
        netguard.socket,
        "getaddrinfo",
        lambda host, *a, **k: real("127.0.0.1" if host == "crm.example" else host, *a, **k),
    )
    settings.SANDBOX = True
    port, hits = local_server
    client = ProviderClient(base_url=f"http://crm.example:{port}", max_attempts=1)
    with pytest.raises(PermanentError, match="private address"):
        client.request("POST", "/api")
    assert hits == []
