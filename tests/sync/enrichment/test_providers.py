"""The enrichment providers: the built-in one's exact findings, and HttpProvider against the live
enrichment_http emulator (its rules: connectors/enrichment_http/emulator/derive.py)."""

import math

import pytest
import requests

from connectors.base import TransientError
from connectors.enrichment_http.emulator import emulator as enrichment_emulator
from integrations.models import Integration
from integrations.services import integration_set_status
from sync.enrichment.providers import BuiltinProvider, HttpProvider, name_case, providers_for
from sync.enrichment.types import Finding
from tests.sandbox import emulator_control, sandbox_integration
from tests.sync.factories import CompanyFactory, ContactFactory

ACME_FIELDS = {
    "domain": "acme-saas.io",
    "industry": "SaaS",
    "employees": 780,
    "size": "201-1000",
    "country": "US",
    "annual_revenue": 152_880_000,
    "funding_stage": "public",
    "funding_total": 600_000_000,
    "growth_rate": -19,
    "open_roles": 33,
    "summary": "Acme Saas is a SaaS company of about 780 people in US.",
}


def builtin(entity, records):
    return BuiltinProvider().enrich(entity, records)


# --- the built-in provider ------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_contact_gets_its_company_domain_from_the_email_but_not_from_free_mail(subaccount):
    work = ContactFactory(subaccount=subaccount, email="ana@acme-saas.io", first_name="Ana", last_name="Lee")
    free = ContactFactory(subaccount=subaccount, email="joe@gmail.com", first_name="Joe", last_name="Doe")
    findings = builtin("contact", [work, free])
    assert findings == {work.pk: Finding(enriched={"domain": "acme-saas.io"}), free.pk: Finding()}


@pytest.mark.django_db
def test_a_contact_without_company_is_linked_by_domain_and_takes_its_data(subaccount):
    gone = CompanyFactory(subaccount=subaccount, domain="acme-saas.io", is_deleted=True)
    linked = CompanyFactory(
        subaccount=subaccount,
        domain="acme-saas.io",
        industry="SaaS",
        enriched={"enrichment_http": {"employees": 240, "country": "GB"}},
    )
    CompanyFactory(subaccount=subaccount, domain="acme-saas.io")  # a later duplicate: not chosen
    ana = ContactFactory(subaccount=subaccount, email="ana@acme-saas.io", first_name="Ana", last_name="Lee")
    assert gone.pk < linked.pk
    assert builtin("contact", [ana])[ana.pk] == Finding(
        enriched={"domain": "acme-saas.io", "industry": "SaaS", "size": "201-1000", "country": "GB"},
        canonical={"company_id": linked.pk},
    )


@pytest.mark.django_db
def test_a_contact_keeps_its_own_company_and_reads_it(subaccount):
    own = CompanyFactory(
        subaccount=subaccount,
        domain="globex.co.uk",
        industry="",
        enriched={"enrichment_http": {"industry": "Consulting", "size": "1001-5000"}},
    )
    CompanyFactory(subaccount=subaccount, domain="acme-saas.io", industry="SaaS")
    ana = ContactFactory(
        subaccount=subaccount, email="ana@acme-saas.io", company=own, first_name="Ana", last_name="Lee"
    )
    assert builtin("contact", [ana])[ana.pk] == Finding(
        enriched={"domain": "acme-saas.io", "industry": "Consulting", "size": "1001-5000"}
    )


@pytest.mark.django_db
def test_another_tenants_company_is_never_linked(subaccount, other_subaccount):
    CompanyFactory(subaccount=other_subaccount, domain="acme-saas.io", industry="SaaS")
    ana = ContactFactory(subaccount=subaccount, email="ana@acme-saas.io", first_name="Ana", last_name="Lee")
    theirs = CompanyFactory(subaccount=other_subaccount, domain="globex.co.uk", industry="Consulting")
    # A link to another tenant's company (which the services never write) is not read either.
    bob = ContactFactory(
        subaccount=subaccount, email="bob@x.io", company=theirs, first_name="Bob", last_name="Roe"
    )
    findings = builtin("contact", [ana, bob])
    assert findings[ana.pk] == Finding(enriched={"domain": "acme-saas.io"})
    assert findings[bob.pk] == Finding(enriched={"domain": "x.io"})


@pytest.mark.parametrize(
    ("typed", "cased"),
    [
        ("ana", "Ana"),
        ("ANA", "Ana"),
        ("MCDONALD", "McDonald"),
        ("o'brien", "O'Brien"),
        ("VAN DER BERG", "van der Berg"),
        ("jean-luc", "Jean-Luc"),
        ("de", "De"),
        ("McDonald", "McDonald"),
        ("van der Berg", "van der Berg"),
        ("deWitt", "deWitt"),
        ("", ""),
        ("O'", "O'"),
    ],
)
def test_name_casing(typed, cased):
    assert name_case(typed) == cased


@pytest.mark.django_db
def test_names_are_cased_only_when_that_changes_them(subaccount):
    shouting = ContactFactory(subaccount=subaccount, email="", first_name="MARY", last_name="O'BRIEN")
    fine = ContactFactory(subaccount=subaccount, email="", first_name="Mary", last_name="van der Berg")
    findings = builtin("contact", [shouting, fine])
    assert findings[shouting.pk].canonical == {"first_name": "Mary", "last_name": "O'Brien"}
    assert findings[fine.pk] == Finding()


@pytest.mark.django_db
def test_phones_are_normalised_in_the_subaccounts_region_and_give_the_country(subaccount):
    subaccount.default_region = "GB"
    subaccount.save()
    local = ContactFactory(
        subaccount=subaccount,
        email="",
        first_name="Ana",
        last_name="Lee",
        phone="020 7946 0958",
        mobile_phone="+4915123456789",
    )
    e164 = ContactFactory(
        subaccount=subaccount, email="", first_name="Bo", last_name="Li", phone="+4930901820"
    )
    unreadable = ContactFactory(
        subaccount=subaccount, email="", first_name="Cy", last_name="Ng", phone="ext 12"
    )
    findings = builtin("contact", [local, e164, unreadable])
    assert findings[local.pk] == Finding(enriched={"country": "GB"}, canonical={"phone": "+442079460958"})
    assert findings[e164.pk] == Finding(enriched={"country": "DE"})
    assert findings[unreadable.pk] == Finding()


@pytest.mark.django_db
def test_a_company_gets_its_domain_normalised_country_from_phone_and_size_from_employees(subaccount):
    company = CompanyFactory(
        subaccount=subaccount,
        domain="WWW.Acme-SaaS.io",
        phone="+33142685300",
        enriched={"enrichment_http": {"employees": 45}},
    )
    bare = CompanyFactory(subaccount=subaccount, domain="", phone="")
    findings = builtin("company", [company, bare])
    assert findings[company.pk] == Finding(
        enriched={"domain": "acme-saas.io", "country": "FR", "size": "11-50"},
        canonical={"domain": "acme-saas.io"},
    )
    assert findings[bare.pk] == Finding()


@pytest.mark.django_db
def test_a_batch_costs_two_queries_whatever_its_size(subaccount, other_subaccount, django_assert_num_queries):
    for n in range(20):
        CompanyFactory(subaccount=subaccount, domain=f"firm{n}.com")
    contacts = [
        ContactFactory(subaccount=owner, email=f"p{n}@firm{n % 25}.com", first_name="x", phone="415 555 0100")
        for n in range(60)
        for owner in (subaccount, other_subaccount)
    ]
    with django_assert_num_queries(2):
        findings = builtin("contact", contacts)
    linked = [c for c in contacts if "company_id" in findings[c.pk].canonical]
    assert len(linked) == 50 and all(c.subaccount_id == subaccount.pk for c in linked)


# --- the enrichment service ------------------------------------------------------------------------


@pytest.fixture
def enrichment(transactional_db):
    enrichment_emulator.reset()
    yield enrichment_emulator
    enrichment_emulator.reset()


@pytest.fixture
def service(catalog, subaccount, enrichment, sandbox_url) -> Integration:
    return sandbox_integration(subaccount, "enrichment_http", sandbox_url)


def requests_seen(integration: Integration) -> int:
    return emulator_control(integration.config["base_url"], "state", {})["requests"]


def test_providers_run_builtin_first_then_each_active_service_by_id(
    catalog, subaccount, other_subaccount, enrichment, sandbox_url
):
    first = sandbox_integration(subaccount, "enrichment_http", sandbox_url)
    second = sandbox_integration(subaccount, "enrichment_http", sandbox_url)
    paused = sandbox_integration(subaccount, "enrichment_http", sandbox_url)
    integration_set_status(integration=paused, status=Integration.Status.PAUSED, actor="test")
    sandbox_integration(other_subaccount, "enrichment_http", sandbox_url)
    sandbox_integration(subaccount, "hubspot", sandbox_url)  # a CRM: not an enrichment provider
    providers = providers_for(subaccount)
    assert [p.name for p in providers] == ["builtin", "enrichment_http", "enrichment_http"]
    assert [p.integration.pk for p in providers[1:]] == [first.pk, second.pk]
    assert providers[1].batch_size == 50


def test_the_service_enriches_contacts_with_exact_findings(service, subaccount):
    ana = ContactFactory(subaccount=subaccount, email="ana@acme-saas.io", first_name="Ana", last_name="Lee")
    free = ContactFactory(subaccount=subaccount, email="joe@gmail.com", first_name="Joe", last_name="Doe")
    # A free-mail contact linked to a company: the built-in provider's domain is what is sent.
    linked = ContactFactory(
        subaccount=subaccount,
        email="kim@gmail.com",
        first_name="Kim",
        last_name="Ho",
        enriched={"builtin": {"domain": "acme-saas.io"}},
    )
    nameless = ContactFactory(subaccount=subaccount, email="", first_name="", last_name="")
    findings = HttpProvider(service).enrich("contact", [ana, free, linked, nameless])
    assert findings[ana.pk] == Finding(enriched=ACME_FIELDS, score=46, signals=("hiring",))
    assert findings[free.pk] == Finding()
    assert findings[linked.pk] == findings[ana.pk]
    assert findings[nameless.pk] == Finding(
        error="insufficient_input: give an email or a domain to enrich this record"
    )


def test_the_record_sent_carries_canonical_values_and_builtin_findings(subaccount, db):
    ana = ContactFactory(
        subaccount=subaccount,
        email="ana@gmail.com",
        first_name="Ana",
        last_name="",
        job_title="CTO",
        owner_id="u-1",
        enriched={"builtin": {"domain": "acme-saas.io", "country": "GB"}, "other": {"industry": "x"}},
    )
    sent = HttpProvider.record_for("contact", ana)
    assert (sent.id, sent.type) == (str(ana.pk), "contact")
    assert sent.fields == {
        "first_name": "Ana",
        "email": "ana@gmail.com",
        "job_title": "CTO",
        "domain": "acme-saas.io",
        "country": "GB",
    }


def test_the_service_enriches_companies(service, subaccount):
    globex = CompanyFactory(subaccount=subaccount, name="Globex", domain="globex.co.uk")
    findings = HttpProvider(service).enrich("company", [globex])
    assert (
        findings[globex.pk].enriched["summary"]
        == "Globex is a Consulting company of about 1639 people in GB."
    )
    assert findings[globex.pk].enriched["size"] == "1001-5000"
    assert (findings[globex.pk].score, findings[globex.pk].signals) == (48, ("funding",))


@pytest.mark.parametrize("count", [50, 120])
def test_records_go_to_the_service_in_batches_of_its_max_batch(service, subaccount, count):
    contacts = [
        ContactFactory(subaccount=subaccount, email=f"p{n}@firm{n}.com", first_name="x") for n in range(count)
    ]
    findings = HttpProvider(service).enrich("contact", contacts)
    assert set(findings) == {c.pk for c in contacts}
    assert all(findings[c.pk].enriched["domain"] == f"firm{n}.com" for n, c in enumerate(contacts))
    assert requests_seen(service) == math.ceil(count / 50)


def test_a_service_outage_propagates_for_the_pipeline_to_retry(service, subaccount):
    ana = ContactFactory(subaccount=subaccount, email="ana@acme-saas.io", first_name="Ana")
    emulator_control(service.config["base_url"], "faults", {"fail_status": 503, "fail_count": 50})
    with pytest.raises(TransientError):
        HttpProvider(service).enrich("contact", [ana])


def test_a_rate_limited_service_is_waited_out(service, subaccount):
    ana = ContactFactory(subaccount=subaccount, email="ana@acme-saas.io", first_name="Ana")
    emulator_control(service.config["base_url"], "faults", {"ratelimit_count": 1})
    assert HttpProvider(service).enrich("contact", [ana])[ana.pk].score == 46
    assert (
        requests.post(f"{service.config['base_url']}/_control/state", timeout=10).json()["ratelimit_count"]
        == 0
    )
