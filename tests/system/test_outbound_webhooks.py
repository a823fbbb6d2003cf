"""Outbound webhooks with real workers, PostgreSQL and Redis: a change reaches a local receiver, and a
retry survives a worker killed between attempts (and the loss of everything the broker held)."""

from __future__ import annotations

import pytest
from django.db import transaction
from django_celery_beat.models import IntervalSchedule, PeriodicTask
from standardwebhooks import Webhook

from sync.services import record_create
from tests.system.conftest import wait_for
from tests.webhooks.outbound_receiver import Reply, receiver  # noqa: F401 -- a fixture
from webhooks.models import Attempt, Delivery
from webhooks.outbound import services as outbound
from webhooks.outbound.events import event_emit
from webhooks.outbound.outbox import outbox_kick

pytestmark = [pytest.mark.system, pytest.mark.django_db(transaction=True)]


def test_a_change_is_delivered_signed_to_the_receiver_by_a_real_worker(
    subaccount,
    receiver,  # noqa: F811 -- pytest injects the fixture by name
    workers,
):
    endpoint = outbound.endpoint_create(subaccount=subaccount, url=receiver.url(), event_types=["contact.*"])
    workers("outbound-1")

    with transaction.atomic():  # as the platform's writers do: the kick fires after COMMIT
        contact = record_create(
            subaccount=subaccount, entity="contact", fields={"email": "ana@example.com"}, origin="api_key:t"
        )
        outbox_kick()

    [request] = wait_for(lambda: list(receiver.requests), timeout=30, message="the webhook")
    payload = Webhook(endpoint.secret).verify(request.body, request.headers)
    assert payload["type"] == "contact.created" and payload["subaccount"] == subaccount.slug
    assert payload["data"]["record"]["id"] == contact.pk
    assert payload["data"]["record"]["email"] == "ana@example.com"
    wait_for(
        lambda: Delivery.objects.filter(endpoint=endpoint, status="succeeded").exists(),
        timeout=10,
        message="the delivery to be recorded as succeeded",
    )


def test_a_retry_still_happens_when_the_worker_dies_between_attempts(
    subaccount,
    receiver,  # noqa: F811 -- pytest injects the fixture by name
    workers,
    celery_settings,
):
    from config.celery import app

    endpoint = outbound.endpoint_create(subaccount=subaccount, url=receiver.url(), retry_schedule=[3])
    receiver.reply(Reply(503, body=b"busy"))
    first = workers("outbound-a")

    message = event_emit(subaccount=subaccount, event_type="sync.failed", data={"sync_run": {"id": 1}})
    delivery = Delivery.objects.get(message=message)
    wait_for(
        lambda: Delivery.objects.filter(pk=delivery.pk, attempts=1, status="pending").exists(),
        timeout=30,
        message="the first attempt to be recorded",
    )
    first.kill9()
    # The dead worker held the retry's countdown task; drop everything the broker had as well, so
    # only the database row can bring the retry back.
    with app.connection_for_write() as conn:
        conn.default_channel.client.flushdb()
    assert len(receiver.requests) == 1

    every_second, _ = IntervalSchedule.objects.get_or_create(every=1, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.create(name="deliver due (test)", task="webhooks.deliver_due", interval=every_second)
    workers("outbound-b", beat=True)

    done = wait_for(
        lambda: Delivery.objects.filter(pk=delivery.pk, status="succeeded").first(),
        timeout=60,
        message="the retry from the database",
    )
    assert done.attempts == 2
    assert [a.status_code for a in Attempt.objects.filter(delivery=delivery).order_by("id")] == [503, 200]
    first_request, retry = receiver.requests
    assert first_request.headers["webhook-id"] == retry.headers["webhook-id"] == message.msg_id
    assert Webhook(endpoint.secret).verify(retry.body, retry.headers)["type"] == "sync.failed"


def _race(function, *, threads: int = 2) -> list:
    """Run ``function`` in several threads at once, each on its own database connection."""
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    from django.db import connection

    barrier = Barrier(threads)

    def run():
        barrier.wait()
        try:
            return function()
        finally:
            connection.close()

    with ThreadPoolExecutor(threads) as pool:
        return [f.result() for f in [pool.submit(run) for _ in range(threads)]]


def test_two_pumps_racing_make_exactly_one_message_per_change(subaccount, celery_settings):
    from sync.models import Change
    from webhooks.models import Message
    from webhooks.outbound.outbox import outbox_pump

    outbound.endpoint_create(subaccount=subaccount, url="http://127.0.0.1:9/hook")
    for i in range(40):
        record_create(
            subaccount=subaccount, entity="contact", fields={"email": f"p{i}@example.com"}, origin="t"
        )

    results = _race(lambda: outbox_pump(limit=1000), threads=3)

    assert sum(r.messages for r in results) == 40
    seqs = list(Message.objects.values_list("change_seq", flat=True))
    assert sorted(seqs) == sorted(Change.objects.filter(subaccount=subaccount).values_list("seq", flat=True))


def test_two_workers_racing_for_one_delivery_send_it_once(
    subaccount,
    receiver,  # noqa: F811 -- pytest injects the fixture by name
    celery_settings,
):
    from webhooks.outbound.delivery import Outcome, delivery_send

    endpoint = outbound.endpoint_create(subaccount=subaccount, url=receiver.url())
    receiver.reply(Reply(200, delay=0.3))  # a slow answer keeps the claim held while the other tries
    message = event_emit(subaccount=subaccount, event_type="deal.created", data={})
    delivery = Delivery.objects.get(message=message, endpoint=endpoint)

    outcomes = _race(lambda: delivery_send(delivery_id=delivery.pk), threads=4)

    assert sorted(outcomes) == sorted([Outcome.SUCCEEDED] + [Outcome.NOT_CLAIMED] * 3)
    assert len(receiver.requests) == 1
    assert Attempt.objects.filter(delivery=delivery).count() == 1
