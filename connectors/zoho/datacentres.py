"""Zoho's data centres: each has its own accounts server (OAuth) and API domain, and an account lives in
exactly one. ``accounts_url`` in the config picks it; the token response's ``api_domain`` must belong to
the same data centre (or to the configured sandbox ``base_url``)."""

from __future__ import annotations

from urllib.parse import urlsplit

from connectors.base import ConfigError

# accounts server → API domain (providers.md §7 Auth; SA from Zoho's SDK data-centre list).
DATA_CENTRES: dict[str, str] = {
    "https://accounts.zoho.com": "https://www.zohoapis.com",
    "https://accounts.zoho.eu": "https://www.zohoapis.eu",
    "https://accounts.zoho.in": "https://www.zohoapis.in",
    "https://accounts.zoho.com.au": "https://www.zohoapis.com.au",
    "https://accounts.zoho.jp": "https://www.zohoapis.jp",
    "https://accounts.zoho.com.cn": "https://www.zohoapis.com.cn",
    "https://accounts.zoho.ca": "https://www.zohoapis.ca",
    "https://accounts.zoho.sa": "https://www.zohoapis.sa",
}
DEFAULT_ACCOUNTS = "https://accounts.zoho.com"


def accounts_server(value: str | None) -> str:
    """The configured accounts server, normalised; ConfigError (field ``accounts_url``) when unknown."""
    url = str(value or DEFAULT_ACCOUNTS).strip().rstrip("/").lower()
    if url not in DATA_CENTRES:
        known = ", ".join(urlsplit(u).hostname or u for u in DATA_CENTRES)
        raise ConfigError(
            f"unknown Zoho data centre {value!r}: use the accounts server you log in to ({known})",
            field="accounts_url",
        )
    return url


def api_domain_allowed(api_domain: str, accounts: str, sandbox: str) -> bool:
    """Whether a token's api_domain is the data centre's API host (or lies under the sandbox base URL)."""
    api_domain = api_domain.rstrip("/")
    if sandbox:
        return api_domain == sandbox or api_domain.startswith(sandbox + "/")
    expected = urlsplit(DATA_CENTRES[accounts]).hostname or ""
    host = urlsplit(api_domain).hostname or ""
    suffix = expected.removeprefix("www.")
    return urlsplit(api_domain).scheme == "https" and (host == expected or host.endswith("." + suffix))
