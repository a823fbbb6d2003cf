"""The enrichment providers the pipeline runs, in order: ``BuiltinProvider`` first, then one
``HttpProvider`` per active enriching integration of the sub-account (``providers_for``).

The built-in provider is deterministic, offline and cheap (it runs on every job): per batch it reads
the sub-accounts' phone regions and the companies it may need in two queries, never one per record,
and only ever within each record's own sub-account. It derives:

- contact: the company ``domain`` from the e-mail (free-mail domains, ``connectors.freemail``,
  say nothing), a link to the sub-account's live company with that domain when the contact has no
  company (``canonical["company_id"]``, the lowest id when several share it), ``industry`` /
  ``size`` / ``country`` from the linked company (its own ``industry``, then what providers found
  for it), ``country`` from the phone's country code otherwise; phones and names cleaned up.
- company: ``domain`` normalised, ``country`` from its phone, ``size`` from a provider's
  ``employees``; its phone cleaned up.

Clean-ups are ``canonical`` updates, present only when they change the value: a phone that is not
E.164 read in the sub-account's ``default_region``; a first or last name written all in lower or
all in upper case put in name case ("MCDONALD" → "McDonald", "o'brien" → "O'Brien", "VAN DER
BERG" → "van der Berg").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

import phonenumbers
from django.db.models import Q

from connectors.base import CANONICAL_FIELDS, EnrichmentRecord, EnrichmentResult
from connectors.freemail import email_domain, is_free_mail
from connectors.registry import connector_class, is_registered
from integrations.models import Integration, SubAccount
from integrations.services import connector_for
from sync.enrichment.types import EnrichmentProvider, Finding, Record, enriched_view, size_band
from sync.models import Company, Contact
from sync.normalize import normalise_domain, normalise_phone

BUILTIN = "builtin"
PHONE_FIELDS = {"contact": ("phone", "mobile_phone"), "company": ("phone",)}
NAME_FIELDS = ("first_name", "last_name")
# Lower-case name particles ("van der Berg", "de la Cruz"): kept lower inside a name.
PARTICLES = frozenset(
    {
        "van",
        "von",
        "der",
        "den",
        "de",
        "da",
        "di",
        "del",
        "della",
        "la",
        "le",
        "du",
        "dos",
        "das",
        "ten",
        "ter",
    }
)
_NAME_PIECES = re.compile(r"([-'’])")
# Canonical fields an enrichment service is given (ids and owners say nothing about a company).
NOT_SENT = frozenset({"external_id", "owner_id"})


# --- small derivations ----------------------------------------------------------------------------


def domain_of(value: str) -> str:
    """A normalised domain, or "" when ``value`` is none (never raises)."""
    try:
        return normalise_domain(value)
    except ValueError:
        return ""


def company_domain_from_email(email: str) -> str:
    """The company domain an e-mail address reveals: "" for free-mail and malformed addresses."""
    domain = domain_of(email_domain(email))
    return "" if not domain or is_free_mail(domain) else domain


def country_from_phone(phone: str) -> str:
    """ISO country of an E.164 number ("" when unknown or non-geographic)."""
    if not phone.startswith("+"):
        return ""
    try:
        region = phonenumbers.region_code_for_number(phonenumbers.parse(phone, None))
    except phonenumbers.NumberParseException:
        return ""
    return region if region and region.isalpha() and region != "ZZ" else ""


def clean_phone(value: str, region: str) -> str:
    """``value`` in E.164 read in ``region``; the value itself when it cannot be read."""
    try:
        return normalise_phone(value, region=region)
    except ValueError:
        return value


def _name_word(word: str, *, first: bool) -> str:
    if word in PARTICLES and not first:
        return word
    pieces = _NAME_PIECES.split(word)
    out = []
    for piece in pieces:
        if piece.startswith("mc") and len(piece) > 2:
            out.append("Mc" + piece[2:].capitalize())
        else:
            out.append(piece.capitalize())
    return "".join(out)


def name_case(value: str) -> str:
    """A name typed all lower or all upper case, in name case; any other name as it is."""
    if not value or not any(c.isalpha() for c in value) or not (value.islower() or value.isupper()):
        return value
    words = value.lower().split()
    # A particle leads a surname ("van der Berg") but a name made only of particles is capitalised.
    only_particles = all(w in PARTICLES for w in words)
    return " ".join(_name_word(w, first=only_particles) for w in words)


def _canonical_changes(record: Record, entity: str, region: str) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for name in PHONE_FIELDS[entity]:
        value = getattr(record, name) or ""
        if value:
            cleaned = clean_phone(value, region)
            if cleaned != value:
                changes[name] = cleaned
    if entity == "contact":
        for name in NAME_FIELDS:
            value = getattr(record, name) or ""
            cased = name_case(value)
            if cased != value:
                changes[name] = cased
    return changes


def _phone_country(record: Record, entity: str, changes: Mapping[str, Any]) -> str:
    for name in PHONE_FIELDS[entity]:
        country = country_from_phone(str(changes.get(name, getattr(record, name) or "")))
        if country:
            return country
    return ""


# --- the built-in provider ------------------------------------------------------------------------


class BuiltinProvider:
    """What can be derived offline, deterministically (module docstring)."""

    name: ClassVar[str] = BUILTIN
    batch_size = 1000

    def enrich(self, entity: str, records: Sequence[Record]) -> dict[int, Finding]:
        records = [r for r in records if r.pk is not None]
        if not records or entity not in PHONE_FIELDS:
            return {}
        regions = dict(
            SubAccount.objects.filter(pk__in={r.subaccount_id for r in records}).values_list(
                "pk", "default_region"
            )
        )
        if entity == "company":
            return {r.pk: self._company(r, regions.get(r.subaccount_id, "US")) for r in records}
        by_id, by_domain = self._companies(records)
        return {r.pk: self._contact(r, regions.get(r.subaccount_id, "US"), by_id, by_domain) for r in records}

    @staticmethod
    def _companies(
        contacts: Sequence[Contact],
    ) -> tuple[dict[int, Company], dict[tuple[int, str], Company]]:
        """The contacts' own companies and, for contacts without one, the live companies of their
        sub-account with their e-mail's domain: one query, tenant-scoped by construction."""
        wanted_ids = {c.company_id for c in contacts if c.company_id}
        wanted_domains: dict[int, set[str]] = {}
        for contact in contacts:
            domain = company_domain_from_email(contact.email or "")
            if domain and not contact.company_id:
                wanted_domains.setdefault(contact.subaccount_id, set()).add(domain)
        match = Q(pk__in=wanted_ids) if wanted_ids else Q(pk__in=[])
        for subaccount_id, domains in wanted_domains.items():
            match |= Q(subaccount_id=subaccount_id, domain__in=domains)
        by_id: dict[int, Company] = {}
        by_domain: dict[tuple[int, str], Company] = {}
        if not wanted_ids and not wanted_domains:
            return by_id, by_domain
        for company in Company.objects.filter(match, is_deleted=False).order_by("pk"):
            by_id[company.pk] = company
            if company.domain:
                by_domain.setdefault((company.subaccount_id, company.domain), company)
        return by_id, by_domain

    def _contact(
        self,
        contact: Contact,
        region: str,
        by_id: Mapping[int, Company],
        by_domain: Mapping[tuple[int, str], Company],
    ) -> Finding:
        canonical = _canonical_changes(contact, "contact", region)
        domain = company_domain_from_email(contact.email or "")
        company = None
        if contact.company_id:
            company = by_id.get(contact.company_id)
        elif domain:
            company = by_domain.get((contact.subaccount_id, domain))
            if company is not None:
                canonical["company_id"] = company.pk
        if company is not None and company.subaccount_id != contact.subaccount_id:
            company = None  # never read another tenant's company, whatever the link says
        enriched: dict[str, Any] = {}
        if company is not None:
            view = enriched_view(company.enriched)
            domain = domain or company.domain or str(view.get("domain") or "")
            enriched["industry"] = company.industry or view.get("industry") or ""
            enriched["size"] = view.get("size") or size_band(_int(view.get("employees")))
            enriched["country"] = view.get("country") or ""
        enriched["domain"] = domain
        enriched["country"] = enriched.get("country") or _phone_country(contact, "contact", canonical)
        return Finding(enriched=_filled(enriched), canonical=canonical)

    def _company(self, company: Company, region: str) -> Finding:
        canonical = _canonical_changes(company, "company", region)
        domain = domain_of(company.domain or "")
        if company.domain and domain and domain != company.domain:
            canonical["domain"] = domain
        view = enriched_view({k: v for k, v in (company.enriched or {}).items() if k != BUILTIN})
        enriched = {
            "domain": domain,
            "country": _phone_country(company, "company", canonical),
            "size": size_band(_int(view.get("employees"))),
        }
        return Finding(enriched=_filled(enriched), canonical=canonical)


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _filled(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v not in (None, "")}


# --- enrichment services (connectors that enrich) ------------------------------------------------


class HttpProvider:
    """One enriching integration (``enrichment_http``): records go to its service in batches of its
    ``max_batch``, with their canonical values and the built-in provider's findings (the domain),
    and each answer becomes a Finding. TransientError / RateLimited propagate: the pipeline retries
    the job later."""

    def __init__(self, integration: Integration):
        self.integration = integration
        self.connector = connector_for(integration)
        self.name = self.connector.key
        self.batch_size = self.connector.batch_size

    def enrich(self, entity: str, records: Sequence[Record]) -> dict[int, Finding]:
        sent = [self.record_for(entity, r) for r in records if r.pk is not None]
        findings: dict[int, Finding] = {}
        for start in range(0, len(sent), self.batch_size):
            for result in self.connector.enrich(sent[start : start + self.batch_size]):
                if result.id.isdigit():
                    findings[int(result.id)] = finding_from(result)
        return findings

    @staticmethod
    def record_for(entity: str, record: Record) -> EnrichmentRecord:
        """The record as the service sees it: its non-empty canonical values, then what the built-in
        provider found (domain, industry, size, country) where the record has nothing."""
        fields: dict[str, Any] = {}
        for name in CANONICAL_FIELDS[entity]:
            value = getattr(record, name, "")
            if name not in NOT_SENT and value not in (None, ""):
                fields[name] = value
        builtin = dict((record.enriched or {}).get(BUILTIN) or {})
        if entity == "contact" and "domain" not in builtin:
            builtin["domain"] = company_domain_from_email(record.email or "")
        for key, value in builtin.items():
            if value not in (None, "", [], {}) and key not in fields:
                fields[key] = value
        return EnrichmentRecord(id=str(record.pk), type=entity, fields=fields)


def finding_from(result: EnrichmentResult) -> Finding:
    """A service's answer as a Finding; a provider giving ``employees`` and no ``size`` gets the
    band (``size_band``), so every reader finds sizes in one vocabulary."""
    if result.error:
        return Finding(error=f"{result.code}: {result.error}" if result.code else result.error)
    enriched = dict(result.fields)
    if not enriched.get("size") and _int(enriched.get("employees")):
        enriched["size"] = size_band(_int(enriched["employees"]))
    return Finding(enriched=enriched, score=result.score, signals=tuple(result.signals))


def enriching_integrations(subaccount: SubAccount) -> Iterable[Integration]:
    """The sub-account's active integrations whose connector is an enrichment provider, by id."""
    integrations = Integration.objects.filter(
        subaccount=subaccount, status=Integration.Status.ACTIVE
    ).select_related("template", "subaccount")
    return [
        i
        for i in integrations.order_by("pk")
        if is_registered(i.template.connector) and connector_class(i.template.connector).enriches
    ]


def providers_for(subaccount: SubAccount) -> list[EnrichmentProvider]:
    """The providers to run for ``subaccount``'s records, in order: built-in first."""
    return [BuiltinProvider(), *(HttpProvider(i) for i in enriching_integrations(subaccount))]
