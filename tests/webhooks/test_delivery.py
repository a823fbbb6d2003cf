"""Delivery over real HTTP to a local receiver: signing, retries, SSRF, redirects, health, ordering."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from standardwebhooks import Webhook

from connectors.ratelimit import RateLimiter
from tests.webhooks.outbound_receiver import Reply, receiver  # noqa: F401 -- a fixture
from webhooks.models import Attempt, Delivery, Endpoint, Message
from webhooks.outbound import delivery as delivery_module
from webhooks.outbound import services as outbound
from webhooks.outbound.delivery import (
    Outcome,
    deliveries_claim,
    deliveries_send_batch,
    deliveries_send_due,
    delivery_send,
)
from webhooks.outbound.events import event_emit
from webhooks.outbound.http import outbound_session


@pytest.fixture
def endpoint(subaccount, receiver):  # noqa: F811 -- pytest injects the fixture by name
    return outbound.endpoint_create(subaccount=subaccount, url=receiver.url())


def emit(subaccount, endpoint, *, key: str = "", event_type: str = "contact.created") -> Delivery:
    message = event_emit(subaccount=subaccount, event_type=event_type, data={"n": 1}, ordering_key=key)
    return Delivery.objects.get(message=message, endpoint=endpoint)


def make_due(delivery: Delivery) -> None:
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())


def attempt(delivery: Delivery) -> tuple[Outcome, Delivery]:
    outcome = delivery_send(delivery_id=delivery.pk)
    return outcome, Delivery.objects.get(pk=delivery.pk)


def claimed(*, now=None, ids=None) -> list[int]:
    """What a worker's claim takes now (of ``ids`` only, if given)."""
    return deliveries_claim(now=now or timezone.now(), ids=ids)[1]


def test_a_2xx_delivery_is_signed_json_that_the_reference_library_verifies(subaccount, endpoint, receiver):  # noqa: F811 -- the receiver fixture
    delivery = emit(subaccount, endpoint)

    outcome, delivery = attempt(delivery)

    assert outcome == Outcome.SUCCEEDED
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("succeeded", 1, 200)
    [request] = receiver.requests
    assert request.headers["content-type"] == "application/json"
    payload = Webhook(endpoint.secret).verify(request.body, request.headers)
    assert payload == delivery.message.payload
    assert request.headers["webhook-id"] == delivery.message.msg_id == payload["id"]
    log = Attempt.objects.get(delivery=delivery)
    assert (log.status_code, log.response_excerpt, log.error, log.next_retry_at) == (200, "ok", "", None)
    endpoint.refresh_from_db()
    assert endpoint.last_success_at is not None and endpoint.consecutive_failures == 0


def test_5xx_is_retried_after_2_4_and_8_seconds_then_failed(subaccount, endpoint, receiver):  # noqa: F811 -- the receiver fixture
    receiver.reply(*[Reply(503, body=b"down")] * 4)
    delivery = emit(subaccount, endpoint)

    for expected in (2, 4, 8):
        before = timezone.now()
        outcome, delivery = attempt(delivery)
        assert outcome == Outcome.RETRYING and delivery.status == "pending"
        delta = (delivery.next_attempt_at - before).total_seconds()
        assert expected <= delta < expected + 1
        assert delivery_send(delivery_id=delivery.pk) == Outcome.NOT_CLAIMED  # not due yet
        make_due(delivery)
    outcome, delivery = attempt(delivery)

    assert outcome == Outcome.FAILED
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("failed", 4, None)
    logs = list(Attempt.objects.filter(delivery=delivery).order_by("id"))
    assert [a.status_code for a in logs] == [503] * 4 and logs[0].response_excerpt == "down"
    assert [a.next_retry_at is not None for a in logs] == [True, True, True, False]
    assert len(receiver.requests) == 4


def test_an_endpoint_retry_schedule_replaces_the_default(subaccount, receiver):  # noqa: F811 -- the receiver fixture
    endpoint = outbound.endpoint_create(subaccount=subaccount, url=receiver.url(), retry_schedule=[30])
    receiver.reply(Reply(500), Reply(500))
    delivery = emit(subaccount, endpoint)
    before = timezone.now()
    _, delivery = attempt(delivery)
    assert 30 <= (delivery.next_attempt_at - before).total_seconds() < 31
    make_due(delivery)
    assert attempt(delivery)[0] == Outcome.FAILED


@pytest.mark.parametrize("status", [400, 401, 404, 410, 422])
def test_other_4xx_fail_at_once_without_a_retry(subaccount, endpoint, receiver, status):  # noqa: F811 -- the receiver fixture
    receiver.reply(Reply(status))
    outcome, delivery = attempt(emit(subaccount, endpoint))
    assert outcome == Outcome.FAILED
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("failed", 1, status)
    assert Attempt.objects.get(delivery=delivery).error == f"HTTP {status}"


def test_429_is_retried_no_sooner_than_retry_after(subaccount, endpoint, receiver):  # noqa: F811 -- the receiver fixture
    receiver.reply(Reply(429, headers={"Retry-After": "30"}), Reply(429))
    delivery = emit(subaccount, endpoint)
    before = timezone.now()
    outcome, delivery = attempt(delivery)
    assert outcome == Outcome.RETRYING
    assert 30 <= (delivery.next_attempt_at - before).total_seconds() < 31
    make_due(delivery)
    before = timezone.now()
    _, delivery = attempt(delivery)  # no Retry-After: the schedule's 4 s
    assert 4 <= (delivery.next_attempt_at - before).total_seconds() < 5


def test_a_timeout_and_a_refused_connection_are_retried(subaccount, endpoint, receiver, monkeypatch):  # noqa: F811 -- the receiver fixture
    monkeypatch.setattr(delivery_module, "SEND_TIMEOUT", 0.3)
    receiver.reply(Reply(200, delay=1.0))
    outcome, delivery = attempt(emit(subaccount, endpoint))
    assert outcome == Outcome.RETRYING
    assert Attempt.objects.get(delivery=delivery).error == "timed out"

    Endpoint.objects.filter(pk=endpoint.pk).update(url="http://127.0.0.1:9/closed")
    outcome, delivery = attempt(emit(subaccount, endpoint))
    assert outcome == Outcome.RETRYING
    assert Attempt.objects.get(delivery=delivery).error == "connection failed"


def test_a_body_excerpt_is_kept_to_1_kb(subaccount, endpoint, receiver):  # noqa: F811 -- the receiver fixture
    receiver.reply(Reply(500, body=b"x" * 5000))
    _, delivery = attempt(emit(subaccount, endpoint))
    assert len(Attempt.objects.get(delivery=delivery).response_excerpt) == 1024


def test_a_target_that_now_points_at_the_metadata_service_is_refused_at_send(subaccount, endpoint, receiver):  # noqa: F811 -- the receiver fixture
    # e.g. the URL was stored before the guard, or edited in the database: send time checks again.
    Endpoint.objects.filter(pk=endpoint.pk).update(url="http://169.254.169.254/latest/meta-data/")
    outcome, delivery = attempt(emit(subaccount, endpoint))
    assert outcome == Outcome.FAILED and delivery.attempts == 1
    error = Attempt.objects.get(delivery=delivery).error
    assert error.startswith("target refused") and "private or loopback" in error


def test_redirects_are_followed_by_hand_with_the_same_signed_body(subaccount, endpoint, receiver):  # noqa: F811 -- the receiver fixture
    receiver.routes["/hook"] = [Reply(307, headers={"Location": "/moved"})]
    receiver.routes["/moved"] = [Reply(302, headers={"Location": receiver.url("/final")})]
    outcome, delivery = attempt(emit(subaccount, endpoint))
    assert outcome == Outcome.SUCCEEDED
    assert [r.path for r in receiver.requests] == ["/hook", "/moved", "/final"]
    final = receiver.requests[-1]
    assert Webhook(endpoint.secret).verify(final.body, final.headers)["id"] == delivery.message.msg_id


def test_more_than_three_redirects_fail(subaccount, endpoint, receiver):  # noqa: F811 -- the receiver fixture
    for hop in ("/hook", "/1", "/2", "/3"):
        receiver.routes[hop] = [
            Reply(302, headers={"Location": f"/{int(hop[-1]) + 1 if hop != '/hook' else 1}"})
        ]
    outcome, delivery = attempt(emit(subaccount, endpoint))
    assert outcome == Outcome.FAILED
    assert Attempt.objects.get(delivery=delivery).error == "more than 3 redirects"
    assert len(receiver.requests) == 4


def test_a_redirect_to_loopback_is_refused_when_loopback_is_not_allowed(subaccount, receiver, settings):  # noqa: F811 -- the receiver fixture
    settings.SANDBOX = False
    settings.ALLOWED_PRIVATE_HOSTS = ["localhost"]  # the endpoint itself is allowlisted, 127.0.0.1 is not
    endpoint = outbound.endpoint_create(subaccount=subaccount, url=receiver.url(host="localhost"))
    receiver.routes["/hook"] = [Reply(302, headers={"Location": f"https://127.0.0.1:{receiver.port}/admin"})]

    outcome, delivery = attempt(emit(subaccount, endpoint))

    assert outcome == Outcome.FAILED
    error = Attempt.objects.get(delivery=delivery).error
    assert error.startswith("redirect target refused") and "private or loopback" in error
    assert [r.path for r in receiver.requests] == ["/hook"]


def test_during_rotation_each_delivery_carries_both_signatures(subaccount, endpoint, receiver):  # noqa: F811 -- the receiver fixture
    old = endpoint.secret
    endpoint = outbound.endpoint_rotate_secret(endpoint=endpoint)
    attempt(emit(subaccount, endpoint))
    [request] = receiver.requests
    first, second = request.headers["webhook-signature"].split(" ")
    assert Webhook(endpoint.secret).verify(request.body, {**request.headers, "webhook-signature": first})
    assert Webhook(old).verify(request.body, {**request.headers, "webhook-signature": second})

    Endpoint.objects.filter(pk=endpoint.pk).update(previous_secret_expires_at=timezone.now())
    attempt(emit(subaccount, endpoint))
    assert len(receiver.requests[-1].headers["webhook-signature"].split(" ")) == 1


def test_a_disabled_endpoint_receives_nothing(subaccount, endpoint, receiver):  # noqa: F811 -- the receiver fixture
    delivery = emit(subaccount, endpoint)
    Endpoint.objects.filter(pk=endpoint.pk).update(enabled=False)  # disabled between queueing and sending
    outcome, delivery = attempt(delivery)
    assert outcome == Outcome.SKIPPED and delivery.status == "skipped"
    outbound.endpoint_enable(endpoint=endpoint)
    outbound.endpoint_disable(endpoint=endpoint, reason="by hand", notify=False)
    assert event_emit(subaccount=subaccount, event_type="contact.created", data={}) is None
    assert deliveries_send_due() == 0
    assert receiver.requests == []


def test_after_n_failed_deliveries_the_endpoint_is_disabled_and_the_others_are_told(subaccount, receiver):  # noqa: F811 -- the receiver fixture
    failing = outbound.endpoint_create(
        subaccount=subaccount, url=receiver.url("/failing"), disable_after_failures=2
    )
    other = outbound.endpoint_create(subaccount=subaccount, url=receiver.url("/other"))
    receiver.routes["/failing"] = [Reply(410), Reply(410)]

    assert attempt(emit(subaccount, failing))[0] == Outcome.FAILED
    assert Endpoint.objects.get(pk=failing.pk).enabled
    assert attempt(emit(subaccount, failing))[0] == Outcome.FAILED

    failing.refresh_from_db()
    assert not failing.enabled and failing.disabled_reason == "2 consecutive failed deliveries"
    notice = Message.objects.get(event_type="endpoint.disabled")
    assert [d.endpoint_id for d in notice.deliveries.all()] == [other.pk]
    # The other endpoint's own pending deliveries are untouched; the disabled one's are skipped.
    assert not Delivery.objects.filter(endpoint=failing, status="pending").exists()
    assert Delivery.objects.filter(endpoint=other, status="pending").count() == 3


def test_an_endpoint_failing_for_days_without_a_success_is_disabled(subaccount, endpoint, receiver):  # noqa: F811 -- the receiver fixture
    Endpoint.objects.filter(pk=endpoint.pk).update(
        failing_since=timezone.now() - timedelta(days=5, minutes=1)
    )
    receiver.reply(Reply(503))
    attempt(emit(subaccount, endpoint))
    endpoint.refresh_from_db()
    assert not endpoint.enabled and "5 days" in endpoint.disabled_reason


def test_a_success_resets_the_failure_streak(subaccount, endpoint, receiver):  # noqa: F811 -- the receiver fixture
    receiver.reply(Reply(404))
    attempt(emit(subaccount, endpoint))
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 1 and endpoint.failing_since is not None
    attempt(emit(subaccount, endpoint))
    endpoint.refresh_from_db()
    assert (endpoint.consecutive_failures, endpoint.failing_since) == (0, None)


def test_a_record_s_messages_reach_an_endpoint_in_order(subaccount, endpoint, receiver):  # noqa: F811 -- the receiver fixture
    receiver.reply(Reply(503))
    first = emit(subaccount, endpoint, key="contact:1")
    second = emit(subaccount, endpoint, key="contact:1")
    unrelated = emit(subaccount, endpoint, key="contact:2")

    assert attempt(first)[0] == Outcome.RETRYING
    assert attempt(second)[0] == Outcome.BLOCKED  # due, but the first is still pending
    assert claimed(ids=[second.pk]) == []
    assert attempt(unrelated)[0] == Outcome.SUCCEEDED  # another record is not held up

    make_due(first)
    assert deliveries_send_due() == 2  # the first, then the second now that it is unblocked
    ids = [json.loads(r.body)["id"] for r in receiver.requests if r.path == "/hook"]
    assert ids == [
        first.message.msg_id,
        unrelated.message.msg_id,
        first.message.msg_id,
        second.message.msg_id,
    ]


def test_a_claim_is_taken_once(subaccount, endpoint):
    delivery = emit(subaccount, endpoint)
    now = timezone.now()
    assert claimed(now=now, ids=[delivery.pk]) == [delivery.pk]
    assert claimed(now=now, ids=[delivery.pk]) == []  # another worker: zero rows
    assert claimed(now=now) == []  # nor among all that is due
    assert claimed(now=now + timedelta(minutes=3), ids=[delivery.pk]) == [delivery.pk]  # expired


def test_deliver_due_sends_due_deliveries_and_leaves_future_ones(subaccount, endpoint, receiver):  # noqa: F811 -- the receiver fixture
    due = emit(subaccount, endpoint)
    later = emit(subaccount, endpoint)
    Delivery.objects.filter(pk=later.pk).update(next_attempt_at=timezone.now() + timedelta(minutes=1))
    assert deliveries_send_due() == 1
    assert Delivery.objects.get(pk=due.pk).status == "succeeded"
    assert Delivery.objects.get(pk=later.pk).status == "pending"


def test_the_endpoint_rate_limit_defers_without_counting_an_attempt(subaccount, receiver, monkeypatch):  # noqa: F811 -- the receiver fixture
    monkeypatch.setattr(delivery_module, "RATE_WAIT", 0.0)
    endpoint = outbound.endpoint_create(subaccount=subaccount, url=receiver.url(), rate_limit_per_second=1)
    RateLimiter(key=f"webhook-endpoint:{endpoint.pk}", rate="1/1").reset()
    first, second = emit(subaccount, endpoint), emit(subaccount, endpoint)

    assert attempt(first)[0] == Outcome.SUCCEEDED
    outcome, second = attempt(second)

    assert outcome == Outcome.DEFERRED
    assert (second.status, second.attempts, second.locked_until) == ("pending", 0, None)
    assert second.next_attempt_at > timezone.now()
    assert not Attempt.objects.filter(delivery=second).exists()
    assert len(receiver.requests) == 1


# --- batches ----------------------------------------------------------------------------------


def test_a_batch_costs_the_same_number_of_queries_for_10_and_100_deliveries(
    subaccount,
    endpoint,
    receiver,  # noqa: F811 -- the receiver fixture
    django_assert_max_num_queries,
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def batch_of(n: int) -> list[Delivery]:
        return [emit(subaccount, endpoint, key=f"contact:{n}-{i}") for i in range(n)]

    small = batch_of(10)
    with CaptureQueriesContext(connection) as queries:
        assert deliveries_send_batch(limit=200) == dict.fromkeys([d.pk for d in small], Outcome.SUCCEEDED)
    large = batch_of(100)
    with django_assert_max_num_queries(len(queries)):
        outcomes = deliveries_send_batch(limit=200)

    assert outcomes == dict.fromkeys([d.pk for d in large], Outcome.SUCCEEDED)
    assert Delivery.objects.filter(status="succeeded", attempts=1).count() == 110
    assert Attempt.objects.filter(status_code=200).count() == 110
    assert len(receiver.requests) == 110


def test_a_batch_is_claimed_once_and_reclaimed_only_when_its_claim_expires(subaccount, endpoint):
    deliveries = {emit(subaccount, endpoint).pk for _ in range(3)}
    now = timezone.now()

    _, first = deliveries_claim(now=now, limit=2)
    _, second = deliveries_claim(now=now, limit=2)
    _, third = deliveries_claim(now=now, limit=2)

    assert len(first) == 2 and len(second) == 1 and third == []
    assert set(first) | set(second) == deliveries
    _, expired = deliveries_claim(now=now + timedelta(minutes=3), limit=10)
    assert set(expired) == deliveries


def test_a_batch_uses_one_session_per_endpoint_and_keeps_each_record_in_order(
    subaccount,
    receiver,  # noqa: F811 -- the receiver fixture
    monkeypatch,
):
    sessions = []

    def counting_session():
        sessions.append(outbound_session())
        return sessions[-1]

    monkeypatch.setattr(delivery_module, "outbound_session", counting_session)
    one = outbound.endpoint_create(subaccount=subaccount, url=receiver.url("/one"), event_types=["contact.*"])
    two = outbound.endpoint_create(subaccount=subaccount, url=receiver.url("/two"), event_types=["deal.*"])
    receiver.routes["/one"] = [Reply(503)]
    first = emit(subaccount, one, key="contact:1")
    second = emit(subaccount, one, key="contact:1")
    others = [emit(subaccount, two, key=f"deal:{i}", event_type="deal.created") for i in range(3)]

    outcomes = deliveries_send_batch()

    assert len(sessions) == 2
    assert outcomes[first.pk] == Outcome.RETRYING and second.pk not in outcomes  # waits its turn
    assert Delivery.objects.get(pk=second.pk).attempts == 0
    assert all(outcomes[d.pk] == Outcome.SUCCEEDED for d in others)
    assert [r.path for r in receiver.requests].count("/one") == 1


def test_a_batch_stops_sending_to_an_endpoint_once_its_failures_disable_it(subaccount, receiver):  # noqa: F811 -- the receiver fixture
    failing = outbound.endpoint_create(
        subaccount=subaccount, url=receiver.url("/failing"), disable_after_failures=2
    )
    receiver.routes["/failing"] = [Reply(410)] * 4
    deliveries = [emit(subaccount, failing) for _ in range(4)]

    outcomes = deliveries_send_batch()

    assert [outcomes[d.pk] for d in deliveries] == [Outcome.FAILED] * 2 + [Outcome.NOT_CLAIMED] * 2
    assert len(receiver.requests) == 2
    failing.refresh_from_db()
    assert not failing.enabled and failing.disabled_reason == "2 consecutive failed deliveries"
    assert [Delivery.objects.get(pk=d.pk).status for d in deliveries] == ["failed"] * 2 + ["skipped"] * 2


def test_a_batch_defers_what_the_endpoint_rate_limit_does_not_allow(subaccount, receiver, monkeypatch):  # noqa: F811 -- the receiver fixture
    monkeypatch.setattr(delivery_module, "RATE_WAIT", 0.0)
    endpoint = outbound.endpoint_create(subaccount=subaccount, url=receiver.url(), rate_limit_per_second=1)
    RateLimiter(key=f"webhook-endpoint:{endpoint.pk}", rate="1/1").reset()
    deliveries = [emit(subaccount, endpoint) for _ in range(3)]

    outcomes = deliveries_send_batch()

    assert [outcomes[d.pk] for d in deliveries] == [Outcome.SUCCEEDED] + [Outcome.DEFERRED] * 2
    assert len(receiver.requests) == 1
    for deferred in Delivery.objects.filter(pk__in=[d.pk for d in deliveries[1:]]):
        assert (deferred.status, deferred.attempts, deferred.locked_until) == ("pending", 0, None)
        assert deferred.next_attempt_at > timezone.now()


def test_a_batch_out_of_time_releases_what_it_did_not_send(subaccount, endpoint, receiver):  # noqa: F811 -- the receiver fixture
    import time

    deliveries = [emit(subaccount, endpoint) for _ in range(3)]

    outcomes = deliveries_send_batch(deadline=time.monotonic() - 1)

    assert set(outcomes.values()) == {Outcome.NOT_CLAIMED} and receiver.requests == []
    assert not Delivery.objects.filter(pk__in=[d.pk for d in deliveries], locked_until__isnull=False).exists()
    assert set(claimed()) == {d.pk for d in deliveries}
