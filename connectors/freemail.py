"""Free-mail domains: an address at one of these says nothing about the person's company.

One list for the platform: the built-in enrichment provider (``sync.enrichment.providers``) and the
``enrichment_http`` emulator both skip these domains when deriving a company from an e-mail, so the
two can never disagree about whether ``ana@gmail.com`` works somewhere.
"""

from __future__ import annotations

FREE_MAIL_DOMAINS: frozenset[str] = frozenset(
    {
        "aol.com",
        "fastmail.com",
        "gmail.com",
        "gmx.com",
        "gmx.de",
        "gmx.net",
        "googlemail.com",
        "hey.com",
        "hotmail.co.uk",
        "hotmail.com",
        "hotmail.fr",
        "icloud.com",
        "live.com",
        "mail.com",
        "mail.ru",
        "me.com",
        "msn.com",
        "outlook.com",
        "proton.me",
        "protonmail.com",
        "qq.com",
        "web.de",
        "yahoo.co.uk",
        "yahoo.com",
        "yahoo.fr",
        "yandex.ru",
        "zoho.com",
    }
)


def is_free_mail(domain: str) -> bool:
    """Whether ``domain`` (any case, with or without ``www.``) is a free-mail provider's."""
    return domain.strip().lower().removeprefix("www.") in FREE_MAIL_DOMAINS


def email_domain(email: str) -> str:
    """The lower-case domain of an e-mail address ("" when it has none)."""
    local, at, domain = (email or "").strip().rpartition("@")
    return domain.lower().rstrip(".") if at and local else ""
