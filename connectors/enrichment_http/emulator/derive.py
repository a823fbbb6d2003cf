"""How the emulated enrichment service answers: a pure function of each input record.

Tests assert exact results, so every rule is written down here.

**Which domain.** A ``company`` uses ``fields.domain`` (else ``fields.website``); a ``contact`` uses
``fields.domain`` (an earlier provider's finding) else the domain of ``fields.email``. A domain is
lower-cased, its scheme, path, port and leading ``www.`` dropped.

**Outcomes per record.**

- ``type`` other than contact/company → error ``invalid_input``.
- No domain and no e-mail → error ``insufficient_input``.
- An e-mail that is not ``local@domain`` (and no domain) or a domain that is not a host name
  (``^[a-z0-9-]+(\\.[a-z0-9-]+)+$``) → error ``invalid_input``.
- A free-mail domain (``connectors.freemail``: gmail.com, yahoo.com, outlook.com, ...) → no company
  data: ``fields`` ``{}``, no score, no signals.
- Otherwise the company data below.

**Company data** from ``digest = sha256(domain)``, with ``n(i)`` the big-endian 16-bit number of
digest bytes ``2i, 2i+1`` (0 ≤ n(i) ≤ 65535):

- ``name`` (used in the summary only): the domain's first label, "-" and "_" as spaces, title-cased
  (``acme-saas.io`` → "Acme Saas").
- ``industry``: the first rule whose keyword occurs in the first label: "saas", "soft", "cloud" →
  "SaaS"; "bank", "pay", "fin" → "Fintech"; "health", "med" → "Healthcare"; "shop", "store" →
  "E-commerce"; otherwise ``INDUSTRIES[n(0) % 8]``.
- ``employees`` = ``int(10 ** (1 + 3 * n(1) / 65535))`` (10 … 10,000, evenly spread on a log scale).
- ``country`` from the top-level domain: ``.uk`` (so ``.co.uk``) → GB; com, io, net, org, ai, co,
  app, dev, tech → US; any other two-letter TLD → that code upper-cased (``.de`` → DE); else US.
- ``annual_revenue`` = ``employees * (80_000 + (n(2) % 121) * 1_000)``.
- ``funding_stage`` = ``FUNDING_STAGES[n(3) % 6]``; ``funding_total`` = 0 when bootstrapped, else
  ``FUNDING_BASE[stage] * (1 + n(4) % 10)``.
- ``growth_rate`` = ``n(5) % 81 - 20`` (percent, −20 … 60).
- ``open_roles`` = ``n(6) % 40``.
- ``summary`` = "{name} is a {industry} company of about {employees} people in {country}."
- ``signals``: "hiring" when open_roles ≥ 5, "funding" when the stage starts with ``series_``.
- ``score`` = ``n(7) % 101``.

``fields`` carries domain, industry, employees, country, annual_revenue, funding_stage,
funding_total, growth_rate, open_roles and summary (the keys of ``sync.enrichment.types``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

from connectors.freemail import email_domain, is_free_mail

INDUSTRIES = (
    "SaaS",
    "Fintech",
    "Healthcare",
    "E-commerce",
    "Manufacturing",
    "Consulting",
    "Logistics",
    "Media",
)
KEYWORD_INDUSTRIES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("saas", "soft", "cloud"), "SaaS"),
    (("bank", "pay", "fin"), "Fintech"),
    (("health", "med"), "Healthcare"),
    (("shop", "store"), "E-commerce"),
)
US_TLDS = frozenset({"com", "io", "net", "org", "ai", "co", "app", "dev", "tech"})
FUNDING_STAGES = ("bootstrapped", "seed", "series_a", "series_b", "series_c", "public")
FUNDING_BASE = {
    "seed": 500_000,
    "series_a": 2_000_000,
    "series_b": 10_000_000,
    "series_c": 30_000_000,
    "public": 100_000_000,
}
HIRING_ROLES = 5
_HOST = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)+$")


class RecordRefused(ValueError):
    """One record cannot be enriched: its result carries ``error`` {code, message}."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def clean_domain(value: Any) -> str:
    """A bare lower-case host from a domain or website value."""
    text = str(value or "").strip().lower()
    text = re.sub(r"^[a-z][a-z0-9+.-]*://", "", text)
    text = re.split(r"[/?#:]", text, maxsplit=1)[0].rstrip(".")
    return text.removeprefix("www.")


def record_domain(record_type: str, fields: Mapping[str, Any]) -> str:
    """The domain the record's company data is derived from, or RecordRefused."""
    if record_type not in ("contact", "company"):
        raise RecordRefused("invalid_input", f"type must be contact or company, not {record_type!r}")
    domain = clean_domain(fields.get("domain") or (fields.get("website") if record_type == "company" else ""))
    email = str(fields.get("email") or "").strip() if record_type == "contact" else ""
    if not domain and not email:
        raise RecordRefused("insufficient_input", "give an email or a domain to enrich this record")
    if not domain:
        domain = email_domain(email)
        if not domain:
            raise RecordRefused("invalid_input", f"email {email!r} is not an e-mail address")
    if not _HOST.match(domain):
        raise RecordRefused("invalid_input", f"{domain!r} is not a domain name")
    return domain


def _numbers(domain: str) -> list[int]:
    digest = hashlib.sha256(domain.encode()).digest()
    return [int.from_bytes(digest[2 * i : 2 * i + 2], "big") for i in range(8)]


def industry_for(label: str, n0: int) -> str:
    for keywords, industry in KEYWORD_INDUSTRIES:
        if any(keyword in label for keyword in keywords):
            return industry
    return INDUSTRIES[n0 % len(INDUSTRIES)]


def country_for(domain: str) -> str:
    tld = domain.rsplit(".", 1)[-1]
    if tld == "uk":
        return "GB"
    if tld in US_TLDS or len(tld) != 2 or not tld.isalpha():
        return "US"
    return tld.upper()


def company_data(domain: str) -> tuple[dict[str, Any], int, list[str]]:
    """(fields, score, signals) for a company domain, by the rules of this module's docstring."""
    n = _numbers(domain)
    label = domain.split(".", 1)[0]
    name = re.sub(r"[-_]+", " ", label).strip().title()
    industry = industry_for(label, n[0])
    employees = int(10 ** (1 + 3 * n[1] / 65535))
    country = country_for(domain)
    stage = FUNDING_STAGES[n[3] % len(FUNDING_STAGES)]
    open_roles = n[6] % 40
    fields = {
        "domain": domain,
        "industry": industry,
        "employees": employees,
        "country": country,
        "annual_revenue": employees * (80_000 + (n[2] % 121) * 1_000),
        "funding_stage": stage,
        "funding_total": FUNDING_BASE[stage] * (1 + n[4] % 10) if stage in FUNDING_BASE else 0,
        "growth_rate": n[5] % 81 - 20,
        "open_roles": open_roles,
        "summary": f"{name} is a {industry} company of about {employees} people in {country}.",
    }
    signals = []
    if open_roles >= HIRING_ROLES:
        signals.append("hiring")
    if stage.startswith("series_"):
        signals.append("funding")
    return fields, n[7] % 101, signals


def enrich_one(record: Mapping[str, Any]) -> dict[str, Any]:
    """The ``results`` entry for one input record."""
    record_id = record["id"]
    fields = record.get("fields") if isinstance(record.get("fields"), Mapping) else {}
    try:
        domain = record_domain(str(record.get("type") or ""), fields)
    except RecordRefused as refused:
        return {"id": record_id, "error": {"code": refused.code, "message": str(refused)}}
    if is_free_mail(domain):
        return {"id": record_id, "fields": {}, "signals": []}
    data, score, signals = company_data(domain)
    return {"id": record_id, "fields": data, "score": score, "signals": signals}
