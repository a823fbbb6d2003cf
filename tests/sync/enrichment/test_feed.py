"""The change feed queues enrichment jobs for what matters, by the toggles of where it came from."""

import pytest

from integrations.models import Integration
from sync.enrichment.feed import feed_run
from sync.enrichment.jobs import PRIORITY_BULK, PRIORITY_NORMAL
from sync.models import EnrichmentCursor, EnrichmentJob, SyncRun
from sync.services import record_create, record_update
from tests.factories import IntegrationFactory

pytestmark = pytest.mark.django_db

API = "api_key:test"


def _on(subaccount, **toggles):
    for name, value in {"auto_enrich": True, "auto_score": True, **toggles}.items():
        setattr(subaccount, name, value)
    subaccount.save()


def _jobs():
    return sorted(
        EnrichmentJob.objects.values_list("entity", "record_id", "operation", "priority", "integration_id")
    )


def test_everything_off_skips_ahead_without_queuing(subaccount):
    contact = record_create(
        subaccount=subaccount, entity="contact", fields={"email": "a@acme.com"}, origin=API
    )
    assert feed_run().jobs == 0
    assert EnrichmentJob.objects.count() == 0
    assert EnrichmentCursor.objects.get(subaccount=subaccount).position > 0
    # Turned on later, the feed starts from there: old changes are not replayed.
    _on(subaccount)
    record_update(record=contact, fields={"job_title": "CTO"}, origin=API)
    feed_run()
    assert _jobs() == [("contact", contact.pk, "update", PRIORITY_NORMAL, None)]


def test_created_and_changed_contacts_and_companies_are_queued_once(subaccount):
    _on(subaccount)
    contact = record_create(
        subaccount=subaccount, entity="contact", fields={"email": "a@acme.com"}, origin=API
    )
    record_update(record=contact, fields={"first_name": "Ann"}, origin=API)
    company = record_create(
        subaccount=subaccount, entity="company", fields={"domain": "acme.com"}, origin=API
    )
    feed_run()
    assert _jobs() == [
        ("company", company.pk, "create", PRIORITY_NORMAL, None),
        ("contact", contact.pk, "create", PRIORITY_NORMAL, None),
    ]
    assert feed_run().changes == 0  # the cursor moved past them


def test_a_change_to_a_field_scoring_ignores_queues_nothing(subaccount):
    _on(subaccount)
    contact = record_create(
        subaccount=subaccount, entity="contact", fields={"email": "a@acme.com"}, origin=API
    )
    feed_run()
    EnrichmentJob.objects.all().delete()
    record_update(record=contact, fields={"owner_id": "someone"}, origin=API)
    record_update(record=contact, fields={"custom_fields": {"shoe_size": 9}}, origin=API)
    feed_run()
    assert _jobs() == []


def test_enrichment_and_automation_writes_are_not_news(subaccount):
    _on(subaccount, auto_assign=True)
    record_create(
        subaccount=subaccount, entity="contact", fields={"email": "a@acme.com"}, origin="enrichment"
    )
    record_create(
        subaccount=subaccount, entity="contact", fields={"email": "b@acme.com"}, origin="automation"
    )
    feed_run()
    assert _jobs() == []


def test_activities_and_deal_stages_queue_their_contacts_and_companies(subaccount):
    _on(subaccount)
    company = record_create(
        subaccount=subaccount, entity="company", fields={"domain": "acme.com"}, origin=API
    )
    contact = record_create(
        subaccount=subaccount,
        entity="contact",
        fields={"email": "a@acme.com", "company_id": company.pk},
        origin=API,
    )
    feed_run()
    EnrichmentJob.objects.all().delete()
    record_create(
        subaccount=subaccount,
        entity="activity",
        fields={"kind": "meeting", "subject": "Demo", "contact_id": contact.pk},
        origin=API,
    )
    feed_run()
    assert _jobs() == [("contact", contact.pk, "update", PRIORITY_NORMAL, None)]
    EnrichmentJob.objects.all().delete()
    deal = record_create(
        subaccount=subaccount,
        entity="deal",
        fields={"name": "Big", "contact_ids": [contact.pk], "company_id": company.pk},
        origin=API,
    )
    EnrichmentJob.objects.all().delete()
    feed_run()
    EnrichmentJob.objects.all().delete()
    record_update(record=deal, fields={"amount": "10"}, origin=API)  # not a stage move
    feed_run()
    assert _jobs() == []
    record_update(record=deal, fields={"stage": "closedwon"}, origin=API)
    feed_run()
    assert _jobs() == [
        ("company", company.pk, "update", PRIORITY_NORMAL, None),
        ("contact", contact.pk, "update", PRIORITY_NORMAL, None),
    ]


def test_an_integrations_own_toggles_decide_for_what_it_brings_in(subaccount):
    quiet = IntegrationFactory(subaccount=subaccount, auto_enrich=False, auto_score=False)
    loud = IntegrationFactory(subaccount=subaccount, auto_score=True)
    a = record_create(
        subaccount=subaccount,
        entity="contact",
        fields={"email": "a@acme.com"},
        origin=f"integration:{quiet.pk}",
    )
    b = record_create(
        subaccount=subaccount,
        entity="contact",
        fields={"email": "b@acme.com"},
        origin=f"integration:{loud.pk}",
    )
    record_create(subaccount=subaccount, entity="contact", fields={"email": "c@acme.com"}, origin=API)
    feed_run()
    assert a.pk not in [job[1] for job in _jobs()]
    assert _jobs() == [("contact", b.pk, "create", PRIORITY_NORMAL, loud.pk)]


def test_what_a_full_sync_brings_in_is_a_bulk_backlog(subaccount):
    _on(subaccount)
    integration = IntegrationFactory(subaccount=subaccount, status=Integration.Status.ACTIVE)
    SyncRun.objects.create(
        subaccount=subaccount,
        integration=integration,
        kind=SyncRun.Kind.FULL,
        status=SyncRun.Status.RUNNING,
        direction="bidirectional",
    )
    contact = record_create(
        subaccount=subaccount,
        entity="contact",
        fields={"email": "a@acme.com"},
        origin=f"integration:{integration.pk}",
    )
    feed_run()
    assert _jobs() == [("contact", contact.pk, "create", PRIORITY_BULK, integration.pk)]


def test_tenants_feeds_are_apart(subaccount, other_subaccount):
    _on(subaccount)
    record_create(subaccount=other_subaccount, entity="contact", fields={"email": "x@globex.com"}, origin=API)
    mine = record_create(subaccount=subaccount, entity="contact", fields={"email": "a@acme.com"}, origin=API)
    feed_run()
    assert list(EnrichmentJob.objects.values_list("subaccount_id", "record_id")) == [(subaccount.pk, mine.pk)]


def test_new_company_data_queues_the_company_and_its_people(subaccount):
    _on(subaccount)
    company = record_create(
        subaccount=subaccount, entity="company", fields={"domain": "acme.com"}, origin=API
    )
    ana = record_create(
        subaccount=subaccount,
        entity="contact",
        fields={"email": "a@acme.com", "company_id": company.pk},
        origin=API,
    )
    feed_run()
    EnrichmentJob.objects.all().delete()
    record_update(record=company, fields={"industry": "SaaS"}, origin=API)
    feed_run()
    assert _jobs() == [
        ("company", company.pk, "update", PRIORITY_NORMAL, None),
        ("contact", ana.pk, "update", PRIORITY_BULK, None),
    ]
