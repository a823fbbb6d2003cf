"""The pipeline over claimed jobs: providers in order, scoring, automation, and nothing written
when nothing changed. HttpProvider runs against the live enrichment_http emulator."""

from datetime import timedelta

import pytest
from django.utils import timezone

from connectors.enrichment_http.emulator import emulator as enrichment_emulator
from sync import push_feed
from sync.enrichment.feed import feed_run
from sync.enrichment.jobs import PRIORITY_HIGH, jobs_enqueue
from sync.enrichment.pipeline import jobs_run
from sync.models import (
    Activity,
    Change,
    Contact,
    Deal,
    EnrichmentJob,
    NextActionRule,
    ScoreHistory,
    ScoringProfile,
)
from sync.services import record_create, record_update
from tests.sandbox import emulator_control, sandbox_integration

API = "api_key:test"


@pytest.fixture
def pushes(monkeypatch):
    """Integrations asked to push (the kick that queues a delta run), instead of queuing tasks."""
    asked: list[int] = []

    def kick(task, *, key, window, args):
        if key.startswith("push:"):  # the integration's push, not the feed's look at the sub-account
            asked.append(args[0])

    monkeypatch.setattr(push_feed, "kick", kick)
    return asked


def _on(subaccount, **toggles):
    for name, value in {"auto_enrich": True, "auto_score": True, **toggles}.items():
        setattr(subaccount, name, value)
    subaccount.save()


def _new_contact(subaccount, **fields):
    contact = record_create(subaccount=subaccount, entity="contact", fields=fields, origin=API)
    feed_run()
    return contact


@pytest.mark.django_db
def test_a_new_contact_is_enriched_scored_and_logged(subaccount, pushes):
    _on(subaccount)
    company = record_create(
        subaccount=subaccount,
        entity="company",
        fields={"name": "Acme", "domain": "acme-saas.io", "industry": "SaaS"},
        origin=API,
    )
    contact = _new_contact(
        subaccount, email="ana@acme-saas.io", first_name="ANA", last_name="lee", phone="+442071234567"
    )
    result = jobs_run()
    assert (result.claimed, result.succeeded) == (2, 2)
    contact.refresh_from_db()
    # The built-in provider: name casing and the company link (canonical), domain and country.
    assert (contact.first_name, contact.last_name, contact.company_id) == ("Ana", "Lee", company.pk)
    assert contact.enriched["builtin"]["domain"] == "acme-saas.io"
    assert contact.enriched["builtin"]["country"] == "GB"
    assert contact.score is not None and contact.scorer_version and contact.score_reasons
    assert set(contact.score_breakdown) == {"financial", "growth", "engagement", "fit"}
    assert ScoreHistory.objects.filter(entity="contact", record_id=contact.pk).count() == 1
    job = EnrichmentJob.objects.get(entity="contact", record_id=contact.pk)
    assert job.status == "succeeded" and job.enrichments["leadScore"] == contact.score
    assert job.enrichments["providers"] == ["builtin"] and job.duration_ms is not None
    assert pushes == []  # no CRM connected


@pytest.mark.django_db
def test_re_enriching_unchanged_input_changes_nothing(catalog, subaccount, pushes, sandbox_url):
    _on(subaccount, auto_create_tasks=True)
    sandbox_integration(subaccount, "hubspot", sandbox_url)
    contact = _new_contact(subaccount, email="ana@acme-saas.io", first_name="Ana", last_name="Lee")
    jobs_run()
    contact.refresh_from_db()
    seq, version = Change.objects.latest("seq").seq, contact.version
    tasks = Activity.objects.count()
    jobs_enqueue(subaccount_id=subaccount.pk, entity="contact", record_ids=[contact.pk], reason="again")
    pushes.clear()
    assert jobs_run().succeeded == 1
    assert pushes == []  # nothing written, nothing to push
    contact.refresh_from_db()
    assert Change.objects.latest("seq").seq == seq and contact.version == version
    assert Activity.objects.count() == tasks  # no second task for the same rule


@pytest.mark.django_db
def test_skip_enrichment_scores_without_asking_providers(subaccount, pushes):
    _on(subaccount)
    contact = record_create(
        subaccount=subaccount,
        entity="contact",
        fields={"email": "bo@acme-saas.io", "first_name": "BO"},
        origin=API,
    )
    jobs_enqueue(
        subaccount_id=subaccount.pk,
        entity="contact",
        record_ids=[contact.pk],
        skip_enrichment=True,
        priority=9,
    )
    jobs_run()
    contact.refresh_from_db()
    assert contact.enriched == {} and contact.first_name == "BO"
    assert contact.score is not None


@pytest.mark.django_db
def test_toggles_off_for_scoring_leave_the_score_alone(subaccount, pushes):
    _on(subaccount, auto_score=False)
    contact = _new_contact(subaccount, email="ana@acme-saas.io")
    jobs_run()
    contact.refresh_from_db()
    assert contact.enriched and contact.score is None


@pytest.mark.django_db
def test_a_high_score_makes_one_task_and_one_deal_and_asks_the_crms_to_push(
    catalog, subaccount, pushes, sandbox_url
):
    _on(subaccount, auto_create_tasks=True, auto_create_deals=True, deal_threshold=0)
    crm = sandbox_integration(subaccount, "hubspot", sandbox_url)
    ScoringProfile.objects.create(subaccount=subaccount, deal_stage="appointmentscheduled")
    NextActionRule.objects.create(subaccount=subaccount, action="Schedule call within 48 h", due_in_hours=48)
    contact = _new_contact(subaccount, email="ana@acme-saas.io", first_name="Ana", last_name="Lee")
    jobs_run()
    deal = Deal.objects.get()
    assert deal.contact_ids == [contact.pk] and deal.stage == "appointmentscheduled"
    task = Activity.objects.get(kind="task")
    assert (task.contact_id, task.subject) == (contact.pk, "Schedule call within 48 h")
    job = EnrichmentJob.objects.get(record_id=contact.pk)
    assert job.enrichments["deal_created"] == deal.pk and job.enrichments["tasks_created"] == [task.pk]
    assert pushes == [crm.pk]
    # Automation's own writes are not news for the feed: no job for the deal or the task.
    feed_run()
    assert EnrichmentJob.objects.filter(status="pending").count() == 0


@pytest.fixture
def enrichment_service(catalog, subaccount, sandbox_url):
    enrichment_emulator.reset()
    yield sandbox_integration(subaccount, "enrichment_http", sandbox_url)
    enrichment_emulator.reset()


@pytest.mark.django_db(transaction=True)
def test_the_http_provider_fills_the_summary_and_its_signals(subaccount, enrichment_service, pushes):
    _on(subaccount)
    contact = _new_contact(subaccount, email="ana@acme-saas.io", first_name="Ana")
    jobs_run()
    contact.refresh_from_db()
    part = contact.enriched["enrichment_http"]
    assert part["summary"] == "Acme Saas is a SaaS company of about 780 people in US."
    assert part["provider_score"] == 46 and part["signals"] == ["hiring"]
    assert "hiring" in contact.signals
    assert EnrichmentJob.objects.get().enrichments["providers"] == ["builtin", "enrichment_http"]


@pytest.mark.django_db(transaction=True)
def test_a_provider_outage_leaves_records_unscored_with_a_reason_and_retries(
    subaccount, enrichment_service, pushes
):
    _on(subaccount)
    base = enrichment_service.config["base_url"]
    emulator_control(base, "faults", {"fail_status": 503, "fail_count": 1000})
    contact = _new_contact(subaccount, email="ana@acme-saas.io", first_name="Ana")
    result = jobs_run()
    assert (result.claimed, result.retried) == (1, 1)
    contact.refresh_from_db()
    assert contact.score is None
    assert contact.enrichment_error.startswith("enrichment_http unavailable")
    job = EnrichmentJob.objects.get()
    assert job.status == "pending" and job.available_at > timezone.now()
    # The service recovers; the retry (once due) scores the record and clears the reason.
    emulator_control(base, "faults", {"fail_count": 0})
    EnrichmentJob.objects.update(available_at=timezone.now() - timedelta(seconds=1))
    assert jobs_run().succeeded == 1
    contact.refresh_from_db()
    assert contact.score is not None and contact.enrichment_error == ""


@pytest.mark.django_db(transaction=True)
def test_a_record_error_fails_only_that_record(subaccount, enrichment_service, pushes):
    _on(subaccount)
    good = record_create(
        subaccount=subaccount, entity="contact", fields={"email": "ana@acme-saas.io"}, origin=API
    )
    bare = record_create(
        subaccount=subaccount,
        entity="contact",
        fields={"first_name": "Nobody", "phone": "+14155550100"},
        origin=API,
    )
    feed_run()
    jobs_run()
    good.refresh_from_db()
    bare.refresh_from_db()
    assert good.enrichment_error == "" and "enrichment_http" in good.enriched
    assert bare.enrichment_error.startswith("enrichment_http: insufficient_input")
    assert bare.score is not None  # scored with what there is
    assert set(EnrichmentJob.objects.values_list("status", flat=True)) == {"succeeded"}


@pytest.mark.django_db
def test_a_deleted_record_finishes_its_job_quietly(subaccount, pushes):
    _on(subaccount)
    contact = _new_contact(subaccount, email="ana@acme-saas.io")
    record_update(record=contact, fields={"first_name": "X"}, origin=API)
    Contact.objects.filter(pk=contact.pk).update(is_deleted=True)
    jobs_enqueue(
        subaccount_id=subaccount.pk, entity="contact", record_ids=[contact.pk], priority=PRIORITY_HIGH
    )
    assert jobs_run().succeeded == 1
    assert EnrichmentJob.objects.get().enrichments == {"skipped": "the record was deleted"}
