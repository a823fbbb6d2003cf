"""The flow's steps as a queue: queue once per key, claim, finish, fail with back-off, retry.

A step is queued with its idempotency key (``portal:<lead>``, ``order:<lead>``, ``audit:<file>``);
queuing a key that exists does nothing, so a replayed webhook or a second "Won" edit is a no-op.
Workers claim due steps through ``integrations.claims`` and hold a lease: a worker that dies mid-
step leaves it to be claimed again, and the step resumes after its last finished stage.

Record syncs leave tracking rows too (``track_records``): one per record and direction, updated in
place on every sync, so the table holds where each record stands rather than a growing log.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from celery import current_app
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from integrations.claims import rows_claim
from integrations.kick import kick
from integrations.models import Integration
from sync.models import FlowStep

logger = logging.getLogger(__name__)

DRAIN_TASK = "sync.onboarding.steps_drain"  # sync/onboarding/tasks.py
KICK_KEY = "onboarding:drain"
KICK_WINDOW = 0.05  # seconds
LEASE = timedelta(minutes=5)
MAX_ATTEMPTS = 8
BACKOFF_BASE = 5  # seconds: 5, 10, 20, 40, ...
BACKOFF_CAP = 600

Status = FlowStep.Status


@dataclass(frozen=True)
class StepSpec:
    """A step to queue: its key and what its row should say."""

    key: str
    entity_type: str
    record_id: str = ""
    datasheet_id: str = ""
    internal_id: str = ""
    payload: Mapping[str, Any] | None = None


def steps_enqueue(integration: Integration, specs: Iterable[StepSpec], *, direction: str = "outbound") -> int:
    """Queue the steps whose keys are new (one statement); returns how many were. The drain is
    kicked once the current transaction commits."""
    now = timezone.now()
    rows = [
        FlowStep(
            subaccount_id=integration.subaccount_id,
            integration=integration,
            key=spec.key,
            entity_type=spec.entity_type,
            direction=direction,
            record_id=spec.record_id,
            datasheet_id=spec.datasheet_id,
            internal_id=spec.internal_id,
            payload=dict(spec.payload or {}),
            status=Status.PENDING,
            available_at=now,
        )
        for spec in {spec.key: spec for spec in specs}.values()
    ]
    if not rows:
        return 0
    existing = set(
        FlowStep.objects.filter(integration=integration, key__in=[r.key for r in rows]).values_list(
            "key", flat=True
        )
    )
    fresh = [row for row in rows if row.key not in existing]
    if fresh:
        FlowStep.objects.bulk_create(fresh, ignore_conflicts=True)
        drain_kick_on_commit()
    return len(fresh)


def drain_kick_on_commit() -> None:
    transaction.on_commit(partial(kick_drain))


def kick_drain() -> None:
    try:
        kick(current_app.tasks[DRAIN_TASK], key=KICK_KEY, window=KICK_WINDOW)
    except Exception:  # a kick never fails its caller: the beat sweep drains what it left
        logger.exception("onboarding drain kick failed: the periodic sweep will drain the queue")


def steps_claim(*, limit: int, now: datetime | None = None) -> list[FlowStep]:
    """Claim due steps (pending ones whose time has come, running ones whose lease ran out)."""
    now = now or timezone.now()
    owner = uuid.uuid4().hex[:16]
    due = Q(status=Status.PENDING, available_at__lte=now) | Q(status=Status.RUNNING, locked_until__lt=now)
    ids = rows_claim(
        FlowStep,
        where=due,
        order_by=("available_at", "id"),
        limit=limit,
        values={
            "status": Status.RUNNING,
            "locked_until": now + LEASE,
            "owner": owner,
            "attempts": F("attempts") + 1,
        },
    )
    return list(
        FlowStep.objects.filter(pk__in=ids)
        .select_related("integration__template", "integration__subaccount")
        .order_by("available_at", "id")
    )


def _held(step: FlowStep):
    """The step's row while this claim still holds it: finished (or re-claimed) rows are left alone,
    so a group's failure never undoes a member that already succeeded."""
    return FlowStep.objects.filter(pk=step.pk, owner=step.owner, status=Status.RUNNING)


def step_save_progress(step: FlowStep, **result: Any) -> None:
    """Note finished stages at once (their own write), so a crash after them never repeats them."""
    step.result = {**step.result, **result}
    FlowStep.objects.filter(pk=step.pk).update(result=step.result, updated_at=timezone.now())


def step_succeed(
    step: FlowStep, *, internal_id: str = "", record_id: str = "", datasheet_id: str = ""
) -> None:
    now = timezone.now()
    values: dict[str, Any] = {
        "status": Status.SUCCESS,
        "error": "",
        "locked_until": None,
        "last_synced_at": now,
        "result": step.result,
        "updated_at": now,
    }
    if internal_id:
        values["internal_id"] = internal_id
    if record_id:
        values["record_id"] = record_id
    if datasheet_id:
        values["datasheet_id"] = datasheet_id
    _held(step).update(**values)


def step_fail(step: FlowStep, error: str, *, retry: bool, wait: float | None = None) -> bool:
    """Record the failure; with ``retry`` and attempts left the step waits its back-off (or
    ``wait`` seconds) and is claimed again. Returns whether it will be retried."""
    now = timezone.now()
    rows = _held(step)
    if retry and step.attempts < MAX_ATTEMPTS:
        delay = wait if wait is not None else min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(0, step.attempts - 1))
        rows.update(
            status=Status.PENDING,
            error=error[:2000],
            available_at=now + timedelta(seconds=delay),
            locked_until=None,
            result=step.result,
            updated_at=now,
        )
        return True
    rows.update(
        status=Status.FAILED, error=error[:2000], locked_until=None, result=step.result, updated_at=now
    )
    return False


def step_wait(step: FlowStep, reason: str, *, seconds: float) -> None:
    """Put the step back without counting the attempt: it waits for another step to finish."""
    _held(step).update(
        status=Status.PENDING,
        error=reason[:2000],
        attempts=F("attempts") - 1,
        available_at=timezone.now() + timedelta(seconds=seconds),
        locked_until=None,
        result=step.result,
    )


def steps_retry(steps: Iterable[FlowStep]) -> int:
    """Queue failed steps again now, with a fresh attempt budget (the admin's and the API's retry)."""
    ids = [
        step.pk
        for step in steps
        if step.status == Status.FAILED and step.entity_type != FlowStep.EntityType.LEAD
    ]
    if not ids:
        return 0
    with transaction.atomic():
        count = FlowStep.objects.filter(pk__in=ids, status=Status.FAILED).update(
            status=Status.PENDING, attempts=0, available_at=timezone.now(), locked_until=None
        )
        drain_kick_on_commit()
    return count


def track_records(
    integration: Integration,
    *,
    direction: str,
    datasheet_id: str,
    rows: Iterable[tuple[str, str, str]],
) -> None:
    """Upsert one lead tracking row per (record id, our id, error) for this direction (a record
    that never reached the provider has no record id: its row is keyed by our id)."""
    now = timezone.now()
    rows = list(rows)
    if not rows:
        return
    keys = {
        f"lead:{direction}:{record_id or 'local-' + internal_id}": (record_id, internal_id, error)
        for record_id, internal_id, error in rows
    }
    existing = {
        step.key: step
        for step in FlowStep.objects.filter(integration=integration, key__in=list(keys)).only(
            "pk", "key", "attempts", "created_at"
        )
    }
    fresh, changed = [], []
    for key, (record_id, internal_id, error) in keys.items():
        status = Status.FAILED if error else Status.SUCCESS
        step = existing.get(key) or FlowStep(
            subaccount_id=integration.subaccount_id,
            integration=integration,
            key=key,
            entity_type=FlowStep.EntityType.LEAD,
            direction=direction,
        )
        step.record_id, step.datasheet_id, step.internal_id = record_id, datasheet_id, internal_id or ""
        step.status, step.error, step.last_synced_at, step.updated_at = status, error[:2000], now, now
        step.attempts = (step.attempts or 0) + 1
        (changed if step.pk else fresh).append(step)
    if fresh:
        FlowStep.objects.bulk_create(fresh, ignore_conflicts=True)
    if changed:
        FlowStep.objects.bulk_update(
            changed,
            [
                "record_id",
                "datasheet_id",
                "internal_id",
                "status",
                "error",
                "last_synced_at",
                "updated_at",
                "attempts",
            ],
        )
