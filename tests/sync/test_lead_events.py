"""Lead-lifecycle events reach every active EventSink integration of the sub-account exactly once:
read from the Change log, queued in the outbox, validated, sent in the connector's chunks, retried
after transient errors, never sent when invalid, never to another tenant or a paused integration.

The sink is a test connector registered for the test (``RecordingSink``): it records what it is
sent and fails when told to, so none of this depends on a real analytics provider."""

from __future__ import annotations

import importlib
import threading
from datetime import timedelta
from typing import Any, ClassVar

import pytest
from celery import current_app
from django.apps import apps as django_apps
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from connectors import registry
from connectors.base import NoRecordsConnector, PermanentError, RateLimited, TestResult, TransientError
from connectors.capabilities import (
    CLOSE_CONVERT_LEAD,
    GENERATE_LEAD,
    QUALIFY_LEAD,
    EventSink,
    LeadEvent,
)
from integrations.models import Integration
from sync import lead_events
from sync.lead_events import (
    CLIENT_ID_FIELD,
    DEFAULT_CURRENCY,
    lead_events_queue,
    lead_events_retry,
    lead_events_run,
    lead_events_send,
)
from sync.models import Contact, Deal, LeadEventCursor, LeadEventOutbox, SyncRun
from sync.services import record_create, record_update
from tests.factories import IntegrationFactory, IntegrationTemplateFactory

SCHEDULE_MIGRATION = importlib.import_module("sync.migrations.0019_lead_events")
SINK_KEY = "event_sink_test"
API = "api_key:test"


class RecordingSink(NoRecordsConnector, EventSink):
    """Records every request (integration id, events); raises ``failures`` first, in order; waits on
    ``gate`` inside a send when one is set (to hold a send open while another worker runs)."""

    key = SINK_KEY
    display_name = "Recording sink"
    does = "receives lead events"
    max_events_per_request = 25

    requests: ClassVar[list[tuple[int, list[LeadEvent]]]] = []
    failures: ClassVar[list[Exception]] = []
    gate: ClassVar[threading.Event | None] = None
    entered: ClassVar[threading.Event] = threading.Event()

    def test_connection(self) -> TestResult:
        return TestResult(ok=True, message="ok")

    def events_problems(self, events: list[LeadEvent]) -> list[str | None]:
        return [None if (e.user_id or e.client_id) else "neither a user_id nor a client_id" for e in events]

    def events_send(self, events: list[LeadEvent]) -> None:
        assert 0 < len(events) <= self.max_events_per_request
        if RecordingSink.gate is not None:
            RecordingSink.entered.set()
            assert RecordingSink.gate.wait(10)
        if RecordingSink.failures:
            raise RecordingSink.failures.pop(0)
        RecordingSink.requests.append((int(self.integration_id), list(events)))


@pytest.fixture(autouse=True)
def sink_registered(monkeypatch):
    monkeypatch.setitem(registry.CONNECTORS, SINK_KEY, f"{__name__}.RecordingSink")
    registry.connector_class.cache_clear()
    RecordingSink.requests, RecordingSink.failures, RecordingSink.gate = [], [], None
    RecordingSink.entered = threading.Event()
    yield
    registry.connector_class.cache_clear()


@pytest.fixture(autouse=True)
def kicks(monkeypatch) -> list[dict[str, Any]]:
    """The commit hook's kicks, recorded instead of queued: the tests run the sends themselves."""
    sent: list[dict[str, Any]] = []
    monkeypatch.setattr(lead_events, "kick", lambda task, **options: sent.append(options))
    return sent


def make_sink(subaccount, *, status: str = "active") -> Integration:
    template = IntegrationTemplateFactory(
        key=SINK_KEY, display_name="Recording sink", category="Analytics", auth_type="api_key"
    )
    return IntegrationFactory(subaccount=subaccount, template=template, status=status)


@pytest.fixture
def sink(subaccount) -> Integration:
    return make_sink(subaccount)


def contact(subaccount, *, origin: str = API, **fields) -> Contact:
    n = Contact.objects.count()
    fields = {"email": f"lead{n}@example.com", **fields}
    return record_create(subaccount=subaccount, entity="contact", fields=fields, origin=origin)


def deal(subaccount, *, origin: str = API, **fields) -> Deal:
    return record_create(
        subaccount=subaccount, entity="deal", fields={"name": "Deal", **fields}, origin=origin
    )


def sent(name: str | None = None) -> list[LeadEvent]:
    return [e for _, events in RecordingSink.requests for e in events if name is None or e.name == name]


def test_a_new_contact_is_one_generate_lead_with_where_it_came_from(subaccount, sink):
    source = IntegrationFactory(
        subaccount=subaccount,
        template=IntegrationTemplateFactory(key="lead_form", display_name="Lead Form"),
        status="active",
    )
    ana = contact(subaccount)
    bob = contact(subaccount, origin=f"integration:{source.pk}")

    first = lead_events_run(subaccount_id=subaccount.pk)
    again = lead_events_run(subaccount_id=subaccount.pk)

    by_user = {e.user_id: e for e in sent(GENERATE_LEAD)}
    assert len(sent()) == 2 and set(by_user) == {str(ana.pk), str(bob.pk)}
    assert by_user[str(ana.pk)].params == {"lead_source": "api"}
    assert by_user[str(bob.pk)].params == {"lead_source": "Lead Form"}
    assert (by_user[str(ana.pk)].record_type, by_user[str(ana.pk)].record_id) == ("contact", ana.pk)
    assert by_user[str(ana.pk)].client_id == ""
    # One request per visitor (the service's requests each speak for one).
    assert (first["sent"], first["requests"], again["queued"], again["sent"]) == (2, 2, 0, 0)
    row = LeadEventOutbox.objects.get(integration=sink, record_id=ana.pk)
    assert (row.status, row.attempts, row.error) == ("sent", 1, "")
    assert row.sent_at is not None


def test_a_commit_that_wrote_changes_kicks_the_send_for_its_subaccount(
    subaccount, sink, kicks, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        contact(subaccount)
    assert [k["args"] for k in kicks] == [(subaccount.pk,)]
    assert kicks[0]["key"] == f"lead-events:{subaccount.pk}"


def test_each_stage_a_deal_enters_is_one_qualify_lead_with_stage_and_pipeline(subaccount, sink):
    ana = contact(subaccount)
    opportunity = deal(subaccount, stage="appointment", pipeline="sales", contact_ids=[ana.pk])
    lead_events_run(subaccount_id=subaccount.pk)
    record_update(record=opportunity, fields={"stage": "presentation"}, origin=API)
    record_update(record=Deal.objects.get(pk=opportunity.pk), fields={"name": "Renamed"}, origin=API)
    lead_events_run(subaccount_id=subaccount.pk)
    record_update(record=Deal.objects.get(pk=opportunity.pk), fields={"stage": "appointment"}, origin=API)
    lead_events_run(subaccount_id=subaccount.pk)

    qualified = sent(QUALIFY_LEAD)
    assert [e.params["stage"] for e in qualified] == ["appointment", "presentation"]
    assert qualified[0].params == {"stage": "appointment", "pipeline": "sales"}
    assert {(e.record_type, e.record_id, e.user_id) for e in qualified} == {
        ("deal", opportunity.pk, str(ana.pk))
    }
    assert sent(CLOSE_CONVERT_LEAD) == []


def test_a_won_deal_is_close_convert_lead_with_value_and_currency(subaccount, sink):
    ana = contact(subaccount)
    euros = deal(subaccount, stage="proposal", amount="1200.50", currency="EUR", contact_ids=[ana.pk])
    plain = deal(subaccount, stage="proposal", amount="300", contact_ids=[ana.pk])
    lead_events_run(subaccount_id=subaccount.pk)
    assert sent(CLOSE_CONVERT_LEAD) == []

    record_update(record=euros, fields={"stage": "Closed Won"}, origin=API)
    record_update(record=plain, fields={"stage": "won"}, origin=API)
    lead_events_run(subaccount_id=subaccount.pk)
    record_update(record=Deal.objects.get(pk=plain.pk), fields={"stage": "closedwon"}, origin=API)
    lead_events_run(subaccount_id=subaccount.pk)

    converted = {e.record_id: e for e in sent(CLOSE_CONVERT_LEAD)}
    assert len(sent(CLOSE_CONVERT_LEAD)) == 2  # once per deal, whatever won stage it moves to next
    assert (converted[euros.pk].params["value"], converted[euros.pk].params["currency"]) == (1200.5, "EUR")
    assert (converted[plain.pk].params["value"], converted[plain.pk].params["currency"]) == (
        300,
        DEFAULT_CURRENCY,
    )
    assert converted[euros.pk].user_id == str(ana.pk)
    assert "Closed Won" in [e.params["stage"] for e in sent(QUALIFY_LEAD)]


def test_the_contacts_analytics_client_id_is_sent_when_known(subaccount, sink):
    ana = contact(subaccount, custom_fields={CLIENT_ID_FIELD: "1197596843.1673515000"})
    deal(subaccount, stage="qualified", contact_ids=[ana.pk])
    lead_events_run(subaccount_id=subaccount.pk)

    assert [(e.name, e.client_id, e.user_id) for e in sent()] == [
        (GENERATE_LEAD, "1197596843.1673515000", str(ana.pk)),
        (QUALIFY_LEAD, "1197596843.1673515000", str(ana.pk)),
    ]


def test_one_visitors_sixty_events_go_in_three_requests_of_the_connectors_size(subaccount, sink):
    ana = contact(subaccount)
    for n in range(59):  # each deal's qualify_lead speaks for its first contact: Ana
        deal(subaccount, name=f"Deal {n}", stage="qualified", contact_ids=[ana.pk])
    result = lead_events_run(subaccount_id=subaccount.pk)

    assert [len(events) for _, events in RecordingSink.requests] == [25, 25, 10]
    assert {e.user_id for e in sent()} == {str(ana.pk)}
    assert (result["queued"], result["sent"], result["requests"]) == (60, 60, 3)
    assert LeadEventOutbox.objects.filter(integration=sink, status="sent").count() == 60


def test_each_request_speaks_for_one_visitor(subaccount, sink):
    people = [contact(subaccount) for _ in range(3)]
    deal(subaccount, stage="qualified", contact_ids=[people[0].pk])
    lead_events_run(subaccount_id=subaccount.pk)

    by_request = [{e.user_id for e in events} for _, events in RecordingSink.requests]
    assert all(len(visitors) == 1 for visitors in by_request)
    assert sorted(len(events) for _, events in RecordingSink.requests) == [1, 1, 2]
    assert len(sent()) == 4


def test_an_invalid_event_is_marked_invalid_with_the_reason_and_never_sent(subaccount, sink):
    orphan = deal(subaccount, stage="qualified")  # no contact: nobody to attribute it to
    ana = contact(subaccount)
    lead_events_run(subaccount_id=subaccount.pk)
    lead_events_run(subaccount_id=subaccount.pk, now=timezone.now() + timedelta(days=1))

    row = LeadEventOutbox.objects.get(integration=sink, record_type="deal", record_id=orphan.pk)
    assert (row.event, row.status, row.error) == (
        QUALIFY_LEAD,
        "invalid",
        "neither a user_id nor a client_id",
    )
    assert [e.record_id for e in sent()] == [ana.pk]


def test_a_transient_error_is_retried_after_its_back_off_and_sent_once(subaccount, sink):
    RecordingSink.failures = [TransientError("service unavailable", status=503)]
    ana = contact(subaccount)
    now = timezone.now()

    first = lead_events_run(subaccount_id=subaccount.pk, now=now)
    row = LeadEventOutbox.objects.get(integration=sink)
    assert (first["retrying"], row.status, row.attempts, row.error) == (
        1,
        "pending",
        1,
        "service unavailable",
    )
    assert row.available_at > now
    assert lead_events_run(subaccount_id=subaccount.pk, now=now)["requests"] == 0  # still backing off

    later = row.available_at + timedelta(seconds=1)
    lead_events_run(subaccount_id=subaccount.pk, now=later)
    lead_events_run(subaccount_id=subaccount.pk, now=later + timedelta(hours=1))

    assert [e.record_id for e in sent()] == [ana.pk]
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("sent", 2)


def test_a_rate_limit_waits_as_long_as_the_service_asks(subaccount, sink):
    RecordingSink.failures = [RateLimited("slow down", retry_after=120)]
    contact(subaccount)
    now = timezone.now()
    lead_events_run(subaccount_id=subaccount.pk, now=now)
    row = LeadEventOutbox.objects.get(integration=sink)
    assert row.available_at == now + timedelta(seconds=120)


def test_a_permanent_error_fails_the_chunk_and_the_retry_sends_it_again(subaccount, sink):
    RecordingSink.failures = [PermanentError("event refused", status=400)]
    ana = contact(subaccount)
    result = lead_events_run(subaccount_id=subaccount.pk)
    row = LeadEventOutbox.objects.get(integration=sink)
    assert (result["failed"], row.status, row.error) == (1, "failed", "event refused")

    assert lead_events_retry([row]) == 1
    lead_events_run(subaccount_id=subaccount.pk)
    row.refresh_from_db()
    assert row.status == "sent"
    assert [e.record_id for e in sent()] == [ana.pk]


def test_an_event_queued_again_by_a_racing_reader_is_not_queued_twice(subaccount, sink):
    contact(subaccount)
    assert lead_events_queue(subaccount.pk).queued == 1
    LeadEventCursor.objects.filter(subaccount=subaccount).update(
        position=0
    )  # a reader that saw the same rows
    assert lead_events_queue(subaccount.pk).queued == 0
    lead_events_run(subaccount_id=subaccount.pk)
    assert len(sent()) == 1


@pytest.mark.django_db(transaction=True)
def test_two_racing_senders_send_each_event_once(subaccount, sink):
    for _ in range(3):
        contact(subaccount)
    lead_events_queue(subaccount.pk)
    RecordingSink.gate = threading.Event()
    results = {}

    def first_worker():
        try:
            results["first"] = lead_events_send(subaccount_id=subaccount.pk)
        finally:
            connection.close()

    worker = threading.Thread(target=first_worker)
    worker.start()
    assert RecordingSink.entered.wait(10)  # the first worker holds its claim, mid-request
    results["second"] = lead_events_send(subaccount_id=subaccount.pk)
    RecordingSink.gate.set()
    worker.join(10)

    assert (results["first"].sent, results["second"].sent, results["second"].requests) == (3, 0, 0)
    assert len(sent()) == 3 and len(RecordingSink.requests) == 3  # one per visitor, by the first
    assert LeadEventOutbox.objects.filter(status="sent").count() == 3


def test_another_subaccounts_sink_hears_nothing_of_ours(subaccount, other_subaccount, sink):
    theirs = make_sink(other_subaccount)
    ana = contact(subaccount)
    lead_events_run()  # the beat's run: every sub-account

    assert [
        (integration_id, [e.record_id for e in events]) for integration_id, events in RecordingSink.requests
    ] == [(sink.pk, [ana.pk])]
    assert not LeadEventOutbox.objects.filter(integration=theirs).exists()
    assert LeadEventOutbox.objects.get(integration=sink).subaccount_id == subaccount.pk


def test_a_paused_integration_is_sent_nothing(subaccount):
    paused = make_sink(subaccount, status="paused")
    contact(subaccount)
    lead_events_run(subaccount_id=subaccount.pk)
    assert not LeadEventOutbox.objects.filter(integration=paused).exists()

    paused.status = "active"
    paused.save()
    queued = contact(subaccount)
    lead_events_queue(subaccount.pk)
    Integration.objects.filter(pk=paused.pk).update(status="paused")
    lead_events_run(subaccount_id=subaccount.pk)
    assert RecordingSink.requests == []  # queued while active, held while paused

    Integration.objects.filter(pk=paused.pk).update(status="active")
    lead_events_run(subaccount_id=subaccount.pk)
    assert [e.record_id for e in sent()] == [queued.pk]


def test_the_migration_installs_the_beat_sending_every_minute(db):
    PeriodicTask.objects.filter(name__in=SCHEDULE_MIGRATION.NAMES).delete()  # a flush may have run
    install = SCHEDULE_MIGRATION.Migration.operations[-1].code  # the RunPython step's forward code
    install(django_apps, None)
    install(django_apps, None)  # repeatable

    task = PeriodicTask.objects.get(name="Send lead events to analytics services")
    assert (task.task, task.interval.every, task.interval.period, task.enabled) == (
        "sync.lead_events_send",
        1,
        "minutes",
        True,
    )
    assert task.task in current_app.tasks


def test_the_admin_lists_events_by_status_and_retries_failed_ones(admin_client, subaccount, sink):
    RecordingSink.failures = [PermanentError("event refused", status=400)]
    contact(subaccount)
    lead_events_run(subaccount_id=subaccount.pk)
    row = LeadEventOutbox.objects.get(integration=sink)
    url = reverse("admin:sync_leadeventoutbox_changelist")

    page = admin_client.get(url, {"status__exact": "failed"})
    assert page.status_code == 200 and "event refused" in page.content.decode()
    admin_client.post(url, {"action": "retry", "_selected_action": [row.pk]})

    row.refresh_from_db()
    assert (row.status, row.attempts) == ("pending", 0)
    assert admin_client.get(reverse("admin:sync_leadeventoutbox_change", args=[row.pk])).status_code == 200


def test_what_a_full_sync_imports_is_history_and_sends_nothing(subaccount, sink):
    crm = IntegrationFactory(subaccount=subaccount, status="active")
    importing = SyncRun.objects.create(
        subaccount=subaccount,
        integration=crm,
        kind="full",
        status="running",
        started_at=timezone.now() - timedelta(seconds=5),
    )
    imported = contact(subaccount, origin=f"integration:{crm.pk}")
    deal(
        subaccount, stage="closedwon", amount="500", contact_ids=[imported.pk], origin=f"integration:{crm.pk}"
    )
    SyncRun.objects.filter(pk=importing.pk).update(status="succeeded", finished_at=timezone.now())
    SyncRun.objects.create(
        subaccount=subaccount, integration=crm, kind="delta", status="running", started_at=timezone.now()
    )
    fresh = contact(subaccount, origin=f"integration:{crm.pk}")  # a later delta: news

    lead_events_run(subaccount_id=subaccount.pk)
    assert [(e.name, e.record_id) for e in sent()] == [(GENERATE_LEAD, fresh.pk)]
