"""Sending one delivery: claim it, sign it, POST it, log the attempt, schedule the retry.

Work is found and claimed in the database (healthchecks' ``sendalerts`` trick): a conditional
UPDATE sets ``locked_until``, and zero rows updated means another worker has it. Retries are
rows with a ``next_attempt_at``, so a worker killed between attempts loses nothing: the next
``webhooks.deliver_due`` run finds them. Outcomes follow saleor: 2xx succeeded; 5xx, 429,
timeouts and connection errors retried per the endpoint's schedule; any other status failed at once.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import partial

from django.db import transaction
from django.db.models import DateTimeField, Exists, F, OuterRef, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from connectors.base import RateLimited
from connectors.ratelimit import RateLimiter
from webhooks.http_outbound import SendResult, post_signed
from webhooks.models import DEFAULT_RETRY_SCHEDULE, Attempt, Delivery, Endpoint
from webhooks.outbound import endpoint_disable
from webhooks.signing import active_secrets, signing_headers

logger = logging.getLogger(__name__)

SEND_TIMEOUT = 10.0  # seconds per request (each redirect hop gets its own)
LOCK_SECONDS = 120  # a claim outlives a send with all its redirect hops; a dead worker's expires
RATE_WAIT = 5.0  # wait this long in-process for the endpoint's rate limit, then defer the delivery
MAX_RETRY_AFTER = 24 * 3600
USER_AGENT = "crm-platform-webhooks/1"
PENDING = Delivery.Status.PENDING


class Outcome(StrEnum):
    SUCCEEDED = "succeeded"
    RETRYING = "retrying"
    FAILED = "failed"
    SKIPPED = "skipped"  # the endpoint is disabled
    DEFERRED = "deferred"  # the endpoint's rate limit: later, without counting an attempt
    BLOCKED = "blocked"  # an earlier message with the same ordering key is still pending
    NOT_CLAIMED = "not_claimed"  # not due, already sent, or another worker has it
    GONE = "gone"


@dataclass(frozen=True)
class Verdict:
    status: str  # a Delivery.Status
    next_attempt_at: datetime | None
    delay: float | None


def _earlier_pending():
    """Pending deliveries to the same endpoint of an earlier message with the same ordering key."""
    return Delivery.objects.filter(
        endpoint_id=OuterRef("endpoint_id"),
        message__ordering_key=OuterRef("message__ordering_key"),
        status=PENDING,
        message_id__lt=OuterRef("message_id"),
    )


def _unblocked() -> Q:
    return Q(message__ordering_key="") | ~Exists(_earlier_pending())


def _claimable(now: datetime) -> Q:
    return Q(status=PENDING, next_attempt_at__lte=now) & (
        Q(locked_until__isnull=True) | Q(locked_until__lt=now)
    )


def deliveries_due(*, now: datetime | None = None, limit: int = 100) -> list[int]:
    """Ids of pending deliveries whose time has come, not claimed, not waiting for an earlier one."""
    now = now or timezone.now()
    return list(
        Delivery.objects.filter(_claimable(now))
        .filter(_unblocked())
        .order_by("next_attempt_at", "id")
        .values_list("pk", flat=True)[:limit]
    )


def delivery_claim(*, delivery_id: int, now: datetime) -> datetime | None:
    """Claim a due, unblocked delivery; the lock time is the claim's token, None if not ours."""
    token = now + timedelta(seconds=LOCK_SECONDS)
    claimed = (
        Delivery.objects.filter(_claimable(now), pk=delivery_id)
        .filter(_unblocked())
        .update(locked_until=token)
    )
    return token if claimed else None


def delivery_attempt(*, delivery_id: int) -> Outcome:
    """Make one attempt at a delivery if it is due and ours to make; never raises on HTTP errors."""
    now = timezone.now()
    head = Delivery.objects.filter(pk=delivery_id).select_related("endpoint").first()
    if head is None:
        return Outcome.GONE
    if head.status == PENDING and not head.endpoint.enabled:
        Delivery.objects.filter(pk=delivery_id, status=PENDING).update(
            status=Delivery.Status.SKIPPED, locked_until=None, next_attempt_at=None, updated_at=now
        )
        return Outcome.SKIPPED
    if head.status == PENDING and not Delivery.objects.filter(_unblocked(), pk=delivery_id).exists():
        return Outcome.BLOCKED
    token = delivery_claim(delivery_id=delivery_id, now=now)
    if token is None:
        return Outcome.NOT_CLAIMED
    delivery = Delivery.objects.select_related("endpoint", "message", "message__subaccount").get(
        pk=delivery_id
    )
    endpoint = delivery.endpoint
    if endpoint.rate_limit_per_second:
        try:
            RateLimiter(
                key=f"webhook-endpoint:{endpoint.pk}", rate=f"{endpoint.rate_limit_per_second}/1"
            ).acquire(max_wait=RATE_WAIT)
        except RateLimited as exc:
            return _defer(delivery, token, seconds=max(1.0, exc.retry_after or 1.0))
    result = _send(delivery, endpoint)
    return _record(delivery, endpoint, token, result)


def _send(delivery: Delivery, endpoint: Endpoint) -> SendResult:
    body = json.dumps(delivery.message.payload, separators=(",", ":"), ensure_ascii=False).encode()
    secrets = active_secrets(
        secret=endpoint.secret,
        previous_secret=endpoint.previous_secret,
        previous_expires_at=endpoint.previous_secret_expires_at,
        now=timezone.now(),
    )
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        **signing_headers(
            msg_id=delivery.message.msg_id, timestamp=int(time.time()), body=body, secrets=secrets
        ),
    }
    return post_signed(endpoint.url, body=body, headers=headers, timeout=SEND_TIMEOUT)


def _verdict(result: SendResult, *, attempt_no: int, schedule: list[int], now: datetime) -> Verdict:
    code = result.status_code
    if code is not None and 200 <= code < 300 and not result.error:
        return Verdict(Delivery.Status.SUCCEEDED, None, None)
    retryable = result.retryable if code is None else (code == 429 or code >= 500) and not result.error
    if not retryable or attempt_no > len(schedule):
        return Verdict(Delivery.Status.FAILED, None, None)
    delay = float(schedule[attempt_no - 1])
    if code == 429 and result.retry_after:
        delay = max(delay, min(result.retry_after, MAX_RETRY_AFTER))  # never sooner than asked
    return Verdict(PENDING, now + timedelta(seconds=delay), delay)


def _record(delivery: Delivery, endpoint: Endpoint, token: datetime, result: SendResult) -> Outcome:
    now = timezone.now()
    schedule = list(endpoint.retry_schedule or DEFAULT_RETRY_SCHEDULE)
    verdict = _verdict(result, attempt_no=delivery.attempts + 1, schedule=schedule, now=now)
    error = result.error or (
        "" if verdict.status == Delivery.Status.SUCCEEDED else f"HTTP {result.status_code}"
    )
    with transaction.atomic():
        Attempt.objects.create(
            delivery=delivery,
            status_code=result.status_code,
            response_excerpt=result.excerpt,
            duration_ms=result.duration_ms,
            error=error[:300],
            next_retry_at=verdict.next_attempt_at,
        )
        owned = Delivery.objects.filter(pk=delivery.pk, locked_until=token).update(
            status=verdict.status,
            attempts=F("attempts") + 1,
            next_attempt_at=verdict.next_attempt_at,
            locked_until=None,
            last_status_code=result.status_code,
            updated_at=now,
        )
        if not owned:
            # Reset meanwhile (redeliver/replay) or the claim expired: the attempt is logged, the
            # newer state of the delivery stands.
            logger.warning("webhook claim lost", extra={"delivery_id": delivery.pk})
            return Outcome.NOT_CLAIMED
        _endpoint_health(endpoint, verdict.status, result.status_code, now)
        if verdict.status == PENDING:
            _schedule_on_commit(delivery.pk, verdict.delay or 0)
        else:
            _next_in_line_on_commit(delivery)
    logger.info(
        "webhook attempt",
        extra={
            "delivery_id": delivery.pk,
            "endpoint_id": endpoint.pk,
            "status_code": result.status_code,
            "outcome": verdict.status,
        },
    )
    return {
        Delivery.Status.SUCCEEDED: Outcome.SUCCEEDED,
        Delivery.Status.FAILED: Outcome.FAILED,
        PENDING: Outcome.RETRYING,
    }[verdict.status]


def _endpoint_health(endpoint: Endpoint, status: str, code: int | None, now: datetime) -> None:
    """Success resets the failure streak; a failed delivery extends it and may disable the endpoint."""
    endpoints = Endpoint.objects.filter(pk=endpoint.pk)
    if status == Delivery.Status.SUCCEEDED:
        endpoints.update(
            consecutive_failures=0, failing_since=None, last_success_at=now, last_status_code=code
        )
        return
    failed = status == Delivery.Status.FAILED
    endpoints.update(
        last_status_code=code,
        failing_since=Coalesce(F("failing_since"), Value(now, output_field=DateTimeField())),
        consecutive_failures=F("consecutive_failures") + (1 if failed else 0),
    )
    endpoint.refresh_from_db()
    reason = disable_reason(endpoint, now=now)
    if reason:
        endpoint_disable(endpoint=endpoint, reason=reason)


def disable_reason(endpoint: Endpoint, *, now: datetime) -> str:
    """Why the endpoint should be disabled now ("" if it should not); a threshold of 0 means never."""
    if endpoint.disable_after_failures and endpoint.consecutive_failures >= endpoint.disable_after_failures:
        return f"{endpoint.consecutive_failures} consecutive failed deliveries"
    if (
        endpoint.disable_after_days
        and endpoint.failing_since
        and now - endpoint.failing_since >= timedelta(days=endpoint.disable_after_days)
    ):
        return f"failing for {endpoint.disable_after_days} days without a successful delivery"
    return ""


def _defer(delivery: Delivery, token: datetime, *, seconds: float) -> Outcome:
    """The endpoint's rate limit is used up: release the claim and come back, no attempt counted."""
    now = timezone.now()
    with transaction.atomic():
        Delivery.objects.filter(pk=delivery.pk, locked_until=token).update(
            locked_until=None, next_attempt_at=now + timedelta(seconds=seconds), updated_at=now
        )
        _schedule_on_commit(delivery.pk, seconds)
    return Outcome.DEFERRED


def _schedule_on_commit(delivery_id: int, delay: float) -> None:
    from webhooks.tasks_outbound import deliver_task

    # The countdown is only the fast path: if this message is lost with its worker,
    # webhooks.deliver_due finds the row by next_attempt_at.
    transaction.on_commit(partial(deliver_task.apply_async, (delivery_id,), countdown=delay))


def _next_in_line_on_commit(delivery: Delivery) -> None:
    """Wake the next pending delivery of the same ordering key to the same endpoint."""
    key = delivery.message.ordering_key
    if not key:
        return
    following = (
        Delivery.objects.filter(
            endpoint_id=delivery.endpoint_id,
            message__ordering_key=key,
            status=PENDING,
            message_id__gt=delivery.message_id,
        )
        .order_by("message_id")
        .values_list("pk", flat=True)
        .first()
    )
    if following is not None:
        _schedule_on_commit(following, 0)


def deliveries_send_due(*, limit: int = 100, budget_seconds: float = 25.0) -> int:
    """Attempt due deliveries (claiming each) until none are left or time is up; the number attempted.

    Due rows are re-read after each batch, so a delivery unblocked by the one before it in its
    ordering chain goes out in the same run.
    """
    started = time.monotonic()
    attempted = 0
    while time.monotonic() - started < budget_seconds:
        progress = 0
        for delivery_id in deliveries_due(limit=limit):
            if time.monotonic() - started > budget_seconds:
                break
            outcome = delivery_attempt(delivery_id=delivery_id)
            attempted += outcome in {Outcome.SUCCEEDED, Outcome.RETRYING, Outcome.FAILED}
            progress += outcome not in {Outcome.NOT_CLAIMED, Outcome.BLOCKED, Outcome.GONE}
        if not progress:
            break  # nothing left, or every due row was taken by another worker
    return attempted
