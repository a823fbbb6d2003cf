"""The receiver's write (webhooks.inbound.insert), the worker that files receipts as deliveries and
reads those into events (webhooks.inbound.parsing), the integration lookup (webhooks.inbound.targets)
and the debounced drain: one narrow INSERT per acknowledged delivery, durable before anything is
parsed; each receipt filed once and events stored once however many workers race; an unreadable
delivery failed visibly, never lost."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from connectors.base import RemoteRecord, WebhookRequest
from tests.factories import IntegrationFactory, IntegrationTemplateFactory
from tests.sync.test_pii_encryption import raw
from webhooks.inbound import parsing as inbound_parsing
from webhooks.inbound import processing as inbound_processing
from webhooks.inbound import targets as inbound_targets
from webhooks.inbound.events import record_to_dict
from webhooks.inbound.insert import body_bytes, receipt_insert, stored_body
from webhooks.inbound.parsing import deliveries_parse, receipts_file
from webhooks.inbound.processing import record_from_dict
from webhooks.inbound.services import inbound_deliveries_reparse, inbound_delivery_accept
from webhooks.models import InboundDelivery, InboundEvent, InboundReceipt

pytestmark = [pytest.mark.urls("tests.webhooks.urls_inbound"), pytest.mark.django_db(transaction=True)]


@pytest.fixture
def integration(subaccount):
    return IntegrationFactory(
        subaccount=subaccount,
        template=IntegrationTemplateFactory(key="hubspot"),
        config={"auth_mode": "private_app", "access_token": "pat", "client_secret": "s"},
        status="active",
    )


def receive(integration, event_ids=(), *, body: bytes | None = None) -> int:
    """What the receiver does once a delivery is verified: store a receipt; returns its id."""
    if body is None:
        items = [
            {"eventId": e, "subscriptionType": "contact.propertyChange", "objectId": f"r{e}"}
            for e in event_ids
        ]
        body = json.dumps(items).encode()
    request = WebhookRequest(
        method="POST", url="https://x/?token=t", headers={"X-Test": "1"}, body=body, remote_addr="192.0.2.7"
    )
    return inbound_delivery_accept(integration=integration, request=request)


def accept(integration, event_ids=(), *, body: bytes | None = None) -> int:
    """A delivery waiting to be parsed: received, and filed by a worker; returns the delivery's id."""
    receive(integration, event_ids, body=body)
    assert receipts_file() == 1
    return InboundDelivery.objects.latest("pk").pk


def stored_ids(integration) -> list[str]:
    return sorted(InboundEvent.objects.filter(integration=integration).values_list("event_id", flat=True))


def counts(*delivery_ids) -> list[tuple]:
    rows = InboundDelivery.objects.in_bulk(delivery_ids)
    return [(rows[i].parse_status, rows[i].events, rows[i].duplicates) for i in delivery_ids]


postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="concurrent workers need PostgreSQL's row locks"
)


def test_an_accepted_delivery_is_one_narrow_durable_row_before_anything_is_parsed(integration):
    with CaptureQueriesContext(connection) as queries:
        receipt_id = receive(integration, ["1", "2"])
    assert len(queries) == 1 and queries[0]["sql"].startswith("INSERT")

    receipt = InboundReceipt.objects.get(pk=receipt_id)
    assert receipt.integration_id == integration.pk and receipt.received_at is not None
    # What was received is one encrypted envelope: nothing of the body or the sender in clear.
    stored = raw("webhooks_inboundreceipt", receipt_id, "envelope")["envelope"]
    assert "eventId" not in stored and "192.0.2.7" not in stored and "X-Test" not in stored
    assert receipt.envelope["remote_addr"] == "192.0.2.7"
    assert not InboundDelivery.objects.exists() and not InboundEvent.objects.exists()  # the worker's job

    assert receipts_file() == 1 and not InboundReceipt.objects.exists()
    delivery = InboundDelivery.objects.get()
    assert (delivery.outcome, delivery.verified, delivery.parse_status, delivery.method) == (
        "accepted",
        True,
        "pending",
        "POST",
    )
    assert (delivery.subaccount_id, delivery.provider, delivery.headers, delivery.remote_addr) == (
        integration.subaccount_id,
        "hubspot",
        {"X-Test": "1"},
        "192.0.2.7",
    )
    assert delivery.received_at == receipt.received_at  # when it arrived, not when it was filed
    assert json.loads(delivery.body)[1]["eventId"] == "2"  # encrypted at rest, read back
    assert "eventId" not in raw("webhooks_inbounddelivery", delivery.pk, "body")["body"]
    assert not InboundEvent.objects.exists()


def test_receipts_are_filed_in_the_order_they_arrived_and_each_once(integration):
    for event_id in ("1", "2", "3"):
        receive(integration, [event_id])

    assert receipts_file(limit=2) == 2 and receipts_file(limit=2) == 1 and receipts_file() == 0
    bodies = [
        json.loads(body)[0]["eventId"]
        for body in InboundDelivery.objects.order_by("pk").values_list("body", flat=True)
    ]
    assert bodies == ["1", "2", "3"]


def test_a_sender_address_the_column_cannot_hold_is_filed_as_none_not_a_failed_batch(integration):
    receipt_insert(integration_id=integration.pk, headers={}, body="[]", remote_addr="bogus")
    receive(integration, ["1"])

    assert receipts_file() == 2
    assert list(InboundDelivery.objects.order_by("pk").values_list("remote_addr", flat=True)) == [
        None,
        "192.0.2.7",
    ]


def test_a_receipt_no_key_opens_is_filed_as_a_failed_delivery_and_the_others_still_are(integration):
    bad = receive(integration, ["1"])
    receive(integration, ["2"])
    with connection.cursor() as cursor:  # a token written under a key since removed
        cursor.execute(
            "UPDATE webhooks_inboundreceipt SET envelope = %s WHERE id = %s", ["gAAAAAnot-a-token", bad]
        )

    assert deliveries_parse() == 1  # the other was filed failed: there is nothing to read in it
    statuses = list(InboundDelivery.objects.order_by("pk").values_list("parse_status", "reason"))
    assert statuses[0][0] == "failed" and "Cannot decrypt" in statuses[0][1]
    assert statuses[1] == ("parsed", "") and stored_ids(integration) == ["2"]


def test_the_worker_stores_new_events_once_and_counts_repeats_out(integration):
    first, second, empty = (
        accept(integration, ["1", "2"]),
        accept(integration, ["2", "3", "3"]),
        accept(integration),
    )

    assert deliveries_parse() == 3
    assert stored_ids(integration) == ["1", "2", "3"]
    assert counts(first, second, empty) == [("parsed", 2, 0), ("parsed", 3, 2), ("parsed", 0, 0)]
    event = InboundEvent.objects.get(event_id="3")
    assert event.delivery_id == second and (event.status, event.attempts, event.entity, event.remote_id) == (
        "pending",
        0,
        "contact",
        "r3",
    )
    assert event.payload["raw"]["objectId"] == "r3"


def test_a_delivery_parsed_twice_gives_its_events_once(integration):
    delivery_id = accept(integration, ["1", "2"])
    assert deliveries_parse() == 1 and deliveries_parse() == 0  # claimed: the second run finds nothing

    InboundDelivery.objects.filter(pk=delivery_id).update(parse_status="pending")  # read again (a replay)
    assert deliveries_parse() == 1
    assert stored_ids(integration) == ["1", "2"] and InboundEvent.objects.count() == 2


def test_a_worker_dying_mid_parse_leaves_the_delivery_pending_for_the_next(integration, monkeypatch):
    delivery_id = accept(integration, ["1"])

    def crash(rows):
        raise RuntimeError("worker killed")

    monkeypatch.setattr(inbound_parsing, "events_insert", crash)
    with pytest.raises(RuntimeError):
        deliveries_parse()
    assert counts(delivery_id) == [("pending", 0, 0)] and not InboundEvent.objects.exists()

    monkeypatch.undo()
    assert deliveries_parse() == 1 and stored_ids(integration) == ["1"]


@postgresql_only
def test_concurrent_workers_file_and_read_overlapping_deliveries_into_each_event_once(integration):
    for step in (1, -1):
        for _ in range(6):
            receive(integration, ["a", "b", "c"][::step])
    barrier = threading.Barrier(4)
    taken: list[int] = []

    def work() -> None:
        try:
            barrier.wait()
            while n := deliveries_parse(limit=2):
                taken.append(n)
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    ids = list(InboundDelivery.objects.values_list("pk", flat=True))
    assert len(ids) == 12 and not InboundReceipt.objects.exists()  # each receipt filed once
    assert sum(taken) == len(ids) and stored_ids(integration) == ["a", "b", "c"]
    assert sum(duplicates for _, _, duplicates in counts(*ids)) == 3 * len(ids) - 3


def test_a_body_unreadable_after_the_ack_is_failed_visibly_and_the_others_still_parse(integration):
    bad = accept(integration, body=b'{"not": "an array"}')
    good = accept(integration, ["1"])

    assert deliveries_parse() == 2
    assert counts(bad, good) == [("failed", 0, 0), ("parsed", 1, 0)]
    failed = InboundDelivery.objects.get(pk=bad)
    assert "cannot be read" in failed.reason and not InboundEvent.objects.filter(delivery_id=bad).exists()
    assert stored_ids(integration) == ["1"]

    # Fixed (here: a body that now reads), the operator has it read again.
    InboundDelivery.objects.filter(pk=bad).update(
        body=stored_body(b'[{"eventId": 9, "objectId": 9, "subscriptionType": "contact.creation"}]')
    )
    assert inbound_deliveries_reparse(delivery_ids=[bad, good]) == 1  # only failed ones
    assert (
        deliveries_parse() == 1
        and counts(bad) == [("parsed", 1, 0)]
        and stored_ids(integration) == ["1", "9"]
    )


def test_deleting_an_integration_still_deletes_its_deliveries_and_receipts(integration):
    accept(integration, ["1"])
    receive(integration, ["2"])
    integration.delete()
    assert not InboundDelivery.objects.exists() and not InboundReceipt.objects.exists()


def test_a_drain_files_and_reads_deliveries_before_it_applies_their_events(integration):
    receive(integration, ["1", "2"])
    integration.direction = "outbound"  # processing ignores them: quick, and no provider involved
    integration.save()
    assert inbound_processing.inbound_drain().counts == {"ignored": 2}
    assert InboundDelivery.objects.get().parse_status == "parsed"


def test_the_sweep_files_and_reads_deliveries_whose_kick_was_lost(integration):
    receive(integration, ["1"])
    integration.direction = "outbound"
    integration.save()
    later = timezone.now() + inbound_processing.PENDING_GRACE + timedelta(seconds=1)
    assert inbound_processing.inbound_retry_due(now=later).counts == {"ignored": 1}


def test_a_body_that_is_not_utf8_is_kept_byte_for_byte():
    raw = b"\xff\xfe<xml>caf\xe9</xml>"
    assert body_bytes(stored_body(raw)) == raw
    assert stored_body(b'{"a": 1}') == '{"a": 1}' and body_bytes('{"a": 1}') == b'{"a": 1}'


def test_inside_a_transaction_the_write_rolls_back_with_it(integration):
    with pytest.raises(RuntimeError), transaction.atomic():
        receive(integration, ["1"])
        raise RuntimeError("the caller fails after the write")
    assert not InboundReceipt.objects.exists()


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
        accept(integration, [f"e{n}"])
    deliveries_parse()
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
