"""Sending deliveries in batches: claim them, sign them, POST them, log the attempts, schedule retries.

Work is found and claimed in the database with ``integrations.claims.rows_claim``: one UPDATE
sets ``locked_until`` on a batch of due rows and returns the ids it locked, so a row is ours only
if that very statement claimed it, and two workers claim disjoint batches. Retries are
rows with a ``next_attempt_at``, so a worker killed between attempts loses nothing: the next
``webhooks.deliver_due`` run finds them. Outcomes follow saleor: 2xx succeeded; 5xx, 429,
timeouts and connection errors retried per the endpoint's schedule; any other status failed at once.

A batch costs a fixed number of queries whatever its size, and each endpoint gets one keep-alive
session for it; one delivery (``delivery_send``, what ``webhooks.deliver`` runs) is a batch of one.
"""

from __future__ import annotations

import json
import logging
import time
from collections import defaultdict
from collections.abc import Collection
from copy import copy
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

import requests
from django.db import transaction
from django.db.models import DateTimeField, Exists, F, Min, OuterRef, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from connectors.base import RateLimited
from connectors.ratelimit import RateLimiter
from integrations.claims import rows_claim
from integrations.log_context import log_bind, log_context_kept
from webhooks.models import DEFAULT_RETRY_SCHEDULE, Attempt, Delivery, Endpoint
from webhooks.outbound.events import deliveries_enqueue_on_commit
from webhooks.outbound.http import SendResult, outbound_session, post_signed
from webhooks.outbound.services import endpoint_disable
from webhooks.outbound.signing import active_secrets, signing_headers

logger = logging.getLogger(__name__)

SEND_TIMEOUT = 10.0  # seconds per request (each redirect hop gets its own)
LOCK_SECONDS = 120  # a claim outlives a send with all its redirect hops; a dead worker's expires
BATCH_SIZE = 200  # deliveries claimed at once
CANDIDATES_PER_SLOT = 2  # due rows read per slot in a batch: some may wait for an earlier one
BATCH_SECONDS = 30.0  # sends of a batch start within this long of its claim (which lasts this longer)
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


ATTEMPTED = {Outcome.SUCCEEDED, Outcome.RETRYING, Outcome.FAILED}
OUTCOME_OF_STATUS = {
    Delivery.Status.SUCCEEDED: Outcome.SUCCEEDED,
    Delivery.Status.FAILED: Outcome.FAILED,
    PENDING: Outcome.RETRYING,
}


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


def deliveries_claim(
    *, now: datetime, limit: int = BATCH_SIZE, ids: Collection[int] | None = None
) -> tuple[datetime, list[int]]:
    """Claim up to ``limit`` due, unblocked deliveries to enabled endpoints (of ``ids`` only, if given).

    Returns the claim's token (the lock time) and the ids this claim locked, through
    ``integrations.claims.rows_claim``: a row another worker claimed a moment earlier is not
    among them, and concurrent workers take disjoint batches.
    """
    token = now + timedelta(seconds=LOCK_SECONDS + BATCH_SECONDS)
    candidates = _unblocked_ids(_due_candidates(now=now, ids=ids, limit=limit * CANDIDATES_PER_SLOT))
    if not candidates:
        return token, []
    claimed = rows_claim(
        Delivery,
        where=_claimable(now) & Q(endpoint__enabled=True, pk__in=candidates[:limit]),
        order_by=("next_attempt_at", "id"),
        limit=limit,
        values={"locked_until": token},
    )
    return token, claimed


def _due_candidates(
    *, now: datetime, ids: Collection[int] | None, limit: int
) -> list[tuple[int, int, int, str]]:
    """(id, endpoint, message, ordering key) of claimable deliveries, longest due first."""
    due = Delivery.objects.filter(_claimable(now), endpoint__enabled=True)
    if ids is not None:
        due = due.filter(pk__in=list(ids))
    return list(
        due.order_by("next_attempt_at", "id").values_list(
            "pk", "endpoint_id", "message_id", "message__ordering_key"
        )[:limit]
    )


def _unblocked_ids(candidates: list[tuple[int, int, int, str]]) -> list[int]:
    """The candidates not waiting for an earlier pending message of their ordering key (in order).

    One query for the whole batch: the first pending message of each (endpoint, key) chain. (A
    correlated NOT EXISTS per row costs the endpoint's whole backlog per row when the planner
    starts from the endpoint.)
    """
    keyed = [(endpoint_id, key) for _, endpoint_id, _, key in candidates if key]
    first: dict[tuple[int, str], int] = {}
    if keyed:
        first = {
            (endpoint_id, key): message_id
            for endpoint_id, key, message_id in Delivery.objects.filter(
                status=PENDING,
                endpoint_id__in={endpoint_id for endpoint_id, _ in keyed},
                message__ordering_key__in={key for _, key in keyed},
            )
            .order_by()
            .values_list("endpoint_id", "message__ordering_key")
            .annotate(first=Min("message_id"))
        }
    return [
        pk
        for pk, endpoint_id, message_id, key in candidates
        if not key or first.get((endpoint_id, key), message_id) >= message_id
    ]


def delivery_send(*, delivery_id: int) -> Outcome:
    """Send this one delivery if it is due, unblocked and nobody else has it (``webhooks.deliver``).

    A batch of one: claimed, sent, recorded like any other. Never raises on HTTP errors.
    """
    return deliveries_send_batch(ids=[delivery_id], limit=1)[delivery_id]


def deliveries_send_batch(
    *, limit: int = BATCH_SIZE, ids: Collection[int] | None = None, deadline: float | None = None
) -> dict[int, Outcome]:
    """Claim up to ``limit`` due deliveries (of ``ids`` only, if given), send them, record the attempts.

    A fixed number of queries per batch: the claim, one load, one bulk insert of Attempt rows,
    UPDATEs grouped by outcome, the endpoints' health (one query per endpoint only while it is
    failing). Every target is still SSRF-checked and redirects are still followed by hand. Sends
    start until ``deadline`` (time.monotonic()) or BATCH_SECONDS after the claim; the rest is
    released unsent for the next run.

    Returns an outcome per delivery claimed and, when ``ids`` are given, per id asked for.
    """
    now = timezone.now()
    outcomes = _skip_disabled(now=now, ids=ids)
    token, claimed = deliveries_claim(now=now, limit=limit, ids=ids)
    if not claimed:
        return outcomes
    deliveries = list(
        Delivery.objects.filter(pk__in=claimed)
        .select_related("endpoint", "message")
        .order_by("next_attempt_at", "id")
    )
    stop_at = time.monotonic() + BATCH_SECONDS
    if deadline is not None:
        stop_at = min(stop_at, deadline)
    run = _send_all(deliveries, stop_at=stop_at)
    outcomes.update(_release(token, run.released))
    outcomes.update(_defer(token, run.deferred))
    outcomes.update(_record(token, run.sent))
    return outcomes


def _skip_disabled(*, now: datetime, ids: Collection[int] | None) -> dict[int, Outcome]:
    """Pending deliveries to disabled endpoints are skipped, never sent.

    With ``ids``, also says why an asked-for delivery cannot be claimed (gone, blocked); the
    claim decides the rest.
    """
    pending_to_disabled = Delivery.objects.filter(status=PENDING, endpoint__enabled=False)
    skip = {
        "status": Delivery.Status.SKIPPED,
        "locked_until": None,
        "next_attempt_at": None,
        "updated_at": now,
    }
    if ids is None:
        pending_to_disabled.update(**skip)
        return {}
    outcomes = dict.fromkeys(ids, Outcome.GONE)
    rows = (
        Delivery.objects.filter(pk__in=list(ids))
        .annotate(earlier_pending=Exists(_earlier_pending()))
        .values_list("pk", "status", "endpoint__enabled", "message__ordering_key", "earlier_pending")
    )
    to_skip = []
    for pk, status, enabled, key, earlier_pending in rows:
        outcomes[pk] = Outcome.NOT_CLAIMED
        if status == PENDING and not enabled:
            to_skip.append(pk)
        elif status == PENDING and key and earlier_pending:
            outcomes[pk] = Outcome.BLOCKED
    if to_skip and pending_to_disabled.filter(pk__in=to_skip).update(**skip):
        outcomes.update(dict.fromkeys(to_skip, Outcome.SKIPPED))
    return outcomes


@dataclass
class _Run:
    sent: list[tuple[Delivery, SendResult]] = field(default_factory=list)
    deferred: list[tuple[Delivery, float]] = field(default_factory=list)  # the endpoint's rate limit
    released: list[Delivery] = field(default_factory=list)  # out of time, or the endpoint is failing


def _send_all(deliveries: list[Delivery], *, stop_at: float) -> _Run:
    """Send in claim order, one keep-alive session per endpoint.

    An endpoint whose results in this batch already call for disabling it gets nothing more (its
    rest is released, and disabling skips it), as when each delivery was sent on its own. An
    endpoint whose rate limit runs out has the rest of its deliveries deferred.
    """
    run = _Run()
    sessions: dict[int, requests.Session] = {}
    limiters: dict[int, RateLimiter] = {}
    streaks: dict[int, Endpoint] = {}  # an in-memory copy of each endpoint's failure streak
    held: dict[int, float] = {}  # endpoint → seconds to defer by, once its rate limit ran out
    stopped: set[int] = set()
    try:
        for delivery in deliveries:
            endpoint = delivery.endpoint
            if time.monotonic() > stop_at or endpoint.pk in stopped:
                run.released.append(delivery)
                continue
            if endpoint.pk in held:
                run.deferred.append((delivery, held[endpoint.pk]))
                continue
            if endpoint.rate_limit_per_second:
                if endpoint.pk not in limiters:
                    limiters[endpoint.pk] = RateLimiter(
                        key=f"webhook-endpoint:{endpoint.pk}", rate=f"{endpoint.rate_limit_per_second}/1"
                    )
                try:
                    limiters[endpoint.pk].acquire(max_wait=RATE_WAIT)
                except RateLimited as exc:
                    held[endpoint.pk] = max(1.0, exc.retry_after or 1.0)
                    run.deferred.append((delivery, held[endpoint.pk]))
                    continue
            if endpoint.pk not in sessions:
                sessions[endpoint.pk] = outbound_session()
            result = _send(delivery, endpoint, sessions[endpoint.pk])
            run.sent.append((delivery, result))
            streak = streaks.setdefault(endpoint.pk, copy(endpoint))
            if _streak_calls_for_disabling(streak, delivery, result):
                stopped.add(endpoint.pk)
    finally:
        for session in sessions.values():
            session.close()
    return run


def _streak_calls_for_disabling(endpoint: Endpoint, delivery: Delivery, result: SendResult) -> bool:
    """Apply one result to an in-memory copy of the endpoint's health; True if it is to be disabled."""
    now = timezone.now()
    status = _verdict(result, attempt_no=delivery.attempts + 1, schedule=_schedule(endpoint), now=now).status
    if status == Delivery.Status.SUCCEEDED:
        endpoint.consecutive_failures, endpoint.failing_since = 0, None
        return False
    endpoint.failing_since = endpoint.failing_since or now
    endpoint.consecutive_failures += status == Delivery.Status.FAILED
    return bool(disable_reason(endpoint, now=now))


@log_context_kept
def _send(delivery: Delivery, endpoint: Endpoint, session: requests.Session) -> SendResult:
    log_bind(delivery_id=delivery.pk, endpoint_id=endpoint.pk, subaccount_id=endpoint.subaccount_id)
    logger.debug("webhook sending", extra={"attempt": delivery.attempts + 1})
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
    return post_signed(endpoint.url, body=body, headers=headers, timeout=SEND_TIMEOUT, session=session)


def _schedule(endpoint: Endpoint) -> list[int]:
    return list(endpoint.retry_schedule or DEFAULT_RETRY_SCHEDULE)


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


def _record(token: datetime, sent: list[tuple[Delivery, SendResult]]) -> dict[int, Outcome]:
    """Log every attempt; update the deliveries still ours, grouped by their new state."""
    if not sent:
        return {}
    now = timezone.now()
    verdicts = [
        _verdict(result, attempt_no=delivery.attempts + 1, schedule=_schedule(delivery.endpoint), now=now)
        for delivery, result in sent
    ]
    groups: dict[tuple[str, datetime | None, int | None], list[int]] = defaultdict(list)
    with transaction.atomic():
        Attempt.objects.bulk_create(
            Attempt(
                delivery=delivery,
                status_code=result.status_code,
                response_excerpt=result.excerpt,
                duration_ms=result.duration_ms,
                error=_error(result, verdict)[:300],
                next_retry_at=verdict.next_attempt_at,
            )
            for (delivery, result), verdict in zip(sent, verdicts, strict=True)
        )
        owned = set(
            Delivery.objects.select_for_update()
            .filter(pk__in=[delivery.pk for delivery, _ in sent], locked_until=token)
            .values_list("pk", flat=True)
        )
        outcomes: dict[int, Outcome] = {}
        kept = []
        for (delivery, result), verdict in zip(sent, verdicts, strict=True):
            if delivery.pk not in owned:
                # Reset meanwhile (redeliver/replay) or the claim expired: the attempt is logged,
                # the newer state of the delivery stands.
                logger.warning("webhook claim lost", extra={"delivery_id": delivery.pk})
                outcomes[delivery.pk] = Outcome.NOT_CLAIMED
                continue
            kept.append((delivery, result, verdict))
            groups[(verdict.status, verdict.next_attempt_at, result.status_code)].append(delivery.pk)
            outcomes[delivery.pk] = OUTCOME_OF_STATUS[verdict.status]
        for (status, next_attempt_at, code), pks in groups.items():
            Delivery.objects.filter(pk__in=pks, locked_until=token).update(
                status=status,
                attempts=F("attempts") + 1,
                next_attempt_at=next_attempt_at,
                locked_until=None,
                last_status_code=code,
                updated_at=now,
            )
        _endpoints_health([(d.endpoint, v.status, r.status_code) for d, r, v in kept], now=now)
        for delivery, _, verdict in kept:
            if verdict.status == PENDING:
                _schedule_on_commit(delivery.pk, verdict.delay or 0)
        _next_in_line_on_commit([d for d, _, v in kept if v.status != PENDING])
    for delivery, result, verdict in kept:
        logger.info(
            "webhook attempt",
            extra={
                "delivery_id": delivery.pk,
                "endpoint_id": delivery.endpoint_id,
                "status_code": result.status_code,
                "outcome": verdict.status,
            },
        )
    return outcomes


def _error(result: SendResult, verdict: Verdict) -> str:
    if result.error or verdict.status == Delivery.Status.SUCCEEDED:
        return result.error
    return f"HTTP {result.status_code}"


@dataclass
class _Health:
    """One endpoint's results in a batch, folded in order."""

    endpoint: Endpoint
    succeeded: bool = False  # some delivery succeeded
    failing: bool = False  # a delivery did not succeed after the last success
    failed: int = 0  # deliveries failed for good after the last success
    code: int | None = None  # the last status code


def _endpoints_health(results: list[tuple[Endpoint, str, int | None]], *, now: datetime) -> None:
    """Success resets the failure streak; a failed delivery extends it and may disable the endpoint.

    Endpoints whose last result in the batch succeeded are updated together; a failing one is
    updated, re-read (other workers count too) and perhaps disabled on its own.
    """
    health: dict[int, _Health] = {}
    for endpoint, status, code in results:
        entry = health.setdefault(endpoint.pk, _Health(endpoint))
        entry.code = code
        if status == Delivery.Status.SUCCEEDED:
            entry.succeeded, entry.failing, entry.failed = True, False, 0
        else:
            entry.failing = True
            entry.failed += status == Delivery.Status.FAILED
    healthy: dict[int | None, list[int]] = defaultdict(list)
    for pk, entry in health.items():
        if not entry.failing:
            healthy[entry.code].append(pk)
    for code, pks in healthy.items():
        Endpoint.objects.filter(pk__in=pks).update(
            consecutive_failures=0, failing_since=None, last_success_at=now, last_status_code=code
        )
    for pk, entry in health.items():
        if not entry.failing:
            continue
        endpoints = Endpoint.objects.filter(pk=pk)
        if entry.succeeded:
            endpoints.update(
                consecutive_failures=entry.failed,
                failing_since=now,
                last_success_at=now,
                last_status_code=entry.code,
            )
        else:
            endpoints.update(
                last_status_code=entry.code,
                failing_since=Coalesce(F("failing_since"), Value(now, output_field=DateTimeField())),
                consecutive_failures=F("consecutive_failures") + entry.failed,
            )
        endpoint = entry.endpoint
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


def _release(token: datetime, deliveries: list[Delivery]) -> dict[int, Outcome]:
    """Give back claims not used in this batch; the next run (any worker's) picks them up."""
    if not deliveries:
        return {}
    pks = [delivery.pk for delivery in deliveries]
    Delivery.objects.filter(pk__in=pks, locked_until=token).update(locked_until=None)
    return dict.fromkeys(pks, Outcome.NOT_CLAIMED)


def _defer(token: datetime, deferred: list[tuple[Delivery, float]]) -> dict[int, Outcome]:
    """The endpoint's rate limit is used up: release the claim and come back, no attempt counted."""
    if not deferred:
        return {}
    now = timezone.now()
    by_delay: dict[float, list[int]] = defaultdict(list)
    for delivery, seconds in deferred:
        by_delay[seconds].append(delivery.pk)
    with transaction.atomic():
        for seconds, pks in by_delay.items():
            Delivery.objects.filter(pk__in=pks, locked_until=token).update(
                locked_until=None, next_attempt_at=now + timedelta(seconds=seconds), updated_at=now
            )
            for pk in pks:
                _schedule_on_commit(pk, seconds)
    return {delivery.pk: Outcome.DEFERRED for delivery, _ in deferred}


def _schedule_on_commit(delivery_id: int, delay: float) -> None:
    # The countdown is only the fast path: if this message is lost with its worker,
    # webhooks.deliver_due finds the row by next_attempt_at.
    deliveries_enqueue_on_commit([delivery_id], countdown=delay)


def _next_in_line_on_commit(finished: list[Delivery]) -> None:
    """Wake the next pending delivery of each finished one's ordering key to the same endpoint."""
    keyed = [delivery for delivery in finished if delivery.message.ordering_key]
    if not keyed:
        return
    following = (
        Delivery.objects.filter(
            endpoint_id__in={delivery.endpoint_id for delivery in keyed},
            message__ordering_key__in={delivery.message.ordering_key for delivery in keyed},
            status=PENDING,
        )
        .filter(_unblocked())
        .values_list("pk", "endpoint_id", "message__ordering_key")
    )
    finished_keys = {(delivery.endpoint_id, delivery.message.ordering_key) for delivery in keyed}
    for pk, endpoint_id, key in following:
        if (endpoint_id, key) in finished_keys:
            _schedule_on_commit(pk, 0)


def deliveries_send_due(*, limit: int = BATCH_SIZE, budget_seconds: float = 25.0) -> int:
    """Send due deliveries batch by batch until none are left or time is up; the number attempted.

    Due rows are re-read for each batch, so a delivery unblocked by the one before it in its
    ordering chain goes out in the same run.
    """
    deadline = time.monotonic() + budget_seconds
    attempted = 0
    while time.monotonic() < deadline:
        outcomes = deliveries_send_batch(limit=limit, deadline=deadline)
        attempted += sum(outcome in ATTEMPTED for outcome in outcomes.values())
        if not outcomes:
            break  # nothing left, or every due row was taken by another worker
    return attempted
