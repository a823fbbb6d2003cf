"""The receiver's write (webhooks.inbound.insert), its integration lookup (webhooks.inbound.targets)
and the debounced drain: one statement per delivery, duplicates decided by the database, concurrent
repeats safe, the portable path equivalent, a cached integration never outliving its row."""

from __future__ import annotations

import json
import threading
import time

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from connectors.base import RemoteRecord, WebhookEvent
from tests.factories import IntegrationFactory, IntegrationTemplateFactory
from webhooks.inbound import insert as inbound_insert
from webhooks.inbound import processing as inbound_processing
from webhooks.inbound import targets as inbound_targets
from webhooks.inbound.processing import record_from_dict
from webhooks.inbound.services import _delivery, _event_row, record_to_dict
from webhooks.models import InboundDelivery, InboundEvent

pytestmark = [pytest.mark.urls("tests.webhooks.urls_inbound"), pytest.mark.django_db(transaction=True)]


@pytest.fixture
def integration(subaccount):
    return IntegrationFactory(
        subaccount=subaccount,
        template=IntegrationTemplateFactory(key="hubspot"),
        config={"auth_mode": "private_app", "access_token": "pat", "client_secret": "s"},
        status="active",
    )


def delivery_and_rows(integration, event_ids, *, raw=None):
    from connectors.base import WebhookRequest

    request = WebhookRequest(method="POST", url="https://x/", headers={"X-Test": "1"}, body=b'{"a": 1}')
    delivery = _delivery(
        integration=integration,
        provider="hubspot",
        request=request,
        outcome="accepted",
        verified=True,
        events=len(event_ids),
    )
    events = [
        WebhookEvent(
            event_id=eid,
            entity="contact",
            remote_id=f"r{eid}",
            action="updated",
            occurred_at=None,
            raw=raw or {},
        )
        for eid in event_ids
    ]
    return delivery, [_event_row(delivery, e.event_id, e) for e in events]


def stored_ids(integration) -> list[str]:
    return sorted(InboundEvent.objects.filter(integration=integration).values_list("event_id", flat=True))


@pytest.mark.parametrize("path", ["one_statement", "portable"])
def test_new_events_are_stored_once_and_repeats_are_counted_out(integration, path, monkeypatch):
    if path == "portable":
        monkeypatch.setattr(connection, "vendor", "sqlite")  # the ORM path runs on PostgreSQL too

    first = inbound_insert.inbound_insert(*delivery_and_rows(integration, ["1", "2"]))
    delivery, rows = delivery_and_rows(integration, ["2", "3"])
    second = inbound_insert.inbound_insert(delivery, rows)
    empty = inbound_insert.inbound_insert(*delivery_and_rows(integration, []))

    assert (first, second, empty) == (2, 1, 0)
    assert stored_ids(integration) == ["1", "2", "3"]
    assert InboundDelivery.objects.filter(integration=integration).count() == 3
    stored = InboundEvent.objects.get(event_id="3")
    assert stored.delivery_id == delivery.pk and all(r.delivery_id == delivery.pk for r in rows)
    assert (stored.status, stored.attempts, stored.occurred_at, stored.next_attempt_at) == (
        "pending",
        0,
        None,
        None,
    )
    assert InboundDelivery.objects.get(pk=delivery.pk).body == '{"a": 1}'  # encrypted at rest, read back


postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the one-statement path is PostgreSQL's"
)


@postgresql_only
def test_the_write_is_one_statement(integration):
    delivery, rows = delivery_and_rows(integration, ["1", "2", "3"], raw={"nested": [1, {"x": None}]})
    with CaptureQueriesContext(connection) as queries:
        assert inbound_insert.inbound_insert(delivery, rows) == 3
    assert len(queries) == 1
    assert InboundEvent.objects.get(event_id="2").payload["raw"] == {"nested": [1, {"x": None}]}


@postgresql_only
def test_concurrent_deliveries_of_the_same_events_store_each_event_once(integration):
    barrier = threading.Barrier(6)
    results: list[int] = []

    def deliver() -> None:
        try:
            delivery, rows = delivery_and_rows(integration, ["a", "b", "c"])
            barrier.wait()
            results.append(inbound_insert.inbound_insert(delivery, rows))
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(results) == 3 and len(results) == 6
    assert stored_ids(integration) == ["a", "b", "c"]


def test_inside_a_transaction_the_write_rolls_back_with_it(integration):
    with pytest.raises(RuntimeError), transaction.atomic():
        inbound_insert.inbound_insert(*delivery_and_rows(integration, ["1"]))
        raise RuntimeError("the caller fails after the write")
    assert not InboundDelivery.objects.exists() and not InboundEvent.objects.exists()


# --- which integration: read once, remembered briefly, forgotten on change -------------------------


def test_the_integration_is_read_once_and_forgotten_when_it_is_saved(integration):
    with CaptureQueriesContext(connection) as queries:
        first = inbound_targets.receiving_integration("hubspot", integration.pk)
        again = inbound_targets.receiving_integration("hubspot", integration.pk)
    assert first is again and len(queries) == 1
    assert inbound_targets.receiving_integration("salesforce", integration.pk) is None  # wrong provider

    integration.status = "paused"
    integration.save()
    assert inbound_targets.receiving_integration("hubspot", integration.pk).status == "paused"


def test_what_another_process_changed_is_seen_within_the_ttl(integration, monkeypatch):
    monkeypatch.setattr(inbound_targets, "TARGET_TTL", 0.05)
    assert inbound_targets.receiving_integration("hubspot", integration.pk).status == "active"
    type(integration).objects.filter(pk=integration.pk).update(status="paused")  # no signal: "elsewhere"
    time.sleep(0.06)
    assert inbound_targets.receiving_integration("hubspot", integration.pk).status == "paused"


def test_a_delivery_for_an_integration_deleted_elsewhere_is_404_not_500(client, integration, monkeypatch):
    import json

    from connectors.hubspot.webhooks import signature_v3

    assert inbound_targets.receiving_integration("hubspot", integration.pk) is not None  # remembered
    monkeypatch.setattr(inbound_targets, "forget", lambda *a, **k: None)  # another process: no signal here
    type(integration).objects.filter(pk=integration.pk).delete()
    monkeypatch.undo()

    path = f"/webhooks/in/hubspot/{integration.pk}/"
    body, timestamp = json.dumps([{"eventId": 1, "objectId": 5}]).encode(), str(int(time.time() * 1000))
    response = client.post(
        path,
        data=body,
        content_type="application/json",
        HTTP_X_HUBSPOT_SIGNATURE_V3=signature_v3("s", "POST", f"http://testserver{path}", body, timestamp),
        HTTP_X_HUBSPOT_REQUEST_TIMESTAMP=timestamp,
    )
    assert response.status_code == 404
    assert inbound_targets.receiving_integration("hubspot", integration.pk) is None


# --- the drain ---------------------------------------------------------------------------------------


def test_a_drain_that_spends_its_budget_says_there_is_more_and_the_task_queues_the_next(
    integration, monkeypatch
):
    from webhooks.inbound import tasks as tasks_inbound

    for n in range(3):
        inbound_insert.inbound_insert(*delivery_and_rows(integration, [f"e{n}"]))
    integration.direction = "outbound"  # processing ignores them: quick, and no provider involved
    integration.save()

    partial = inbound_processing.inbound_drain(batch=1, budget=0)
    assert partial.more and partial.total == 1

    queued = []
    monkeypatch.setattr(tasks_inbound.inbound_drain_task, "delay", lambda: queued.append(1))
    monkeypatch.setattr(inbound_processing, "DRAIN_BUDGET", 0)
    monkeypatch.setattr(inbound_processing, "DRAIN_BATCH", 1)
    assert tasks_inbound.inbound_drain_task() == {"ignored": 1} and queued == [1]

    monkeypatch.undo()
    rest = inbound_processing.inbound_drain()
    assert not rest.more and rest.counts == {"ignored": 1}
    assert set(InboundEvent.objects.values_list("status", flat=True)) == {"ignored"}


def test_a_stored_event_keeps_its_records_relations_and_successor():
    """What a verified delivery said about the record's relations (a chat message's sender and
    conversation) survives the queue: absent stays absent, empty stays empty."""
    record = RemoteRecord(
        id="m1",
        modified_at=None,
        fields={"content": "hi"},
        relations={"contact_id": ("c1",), "conversation_id": ()},
        replaced_by="m2",
    )
    again = record_from_dict(json.loads(json.dumps(record_to_dict(record))))
    assert again == record
    assert record_from_dict(record_to_dict(RemoteRecord(id="x", modified_at=None, fields={}))).relations == {}
