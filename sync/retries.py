"""How a sync run's task waits after a transient failure: two budgets, kept apart.

Errors (5xx, timeouts, cut connections, malformed answers) spend the task's error budget
(``max_retries``), counted since the run last made progress: a long run that keeps moving is not
failed by a few scattered errors, a run stuck on a dead provider is. A 429 (``RateLimited``)
spends none of it: the run waits as the provider says, up to SYNC_RATE_LIMIT_WAIT_MAX_SECONDS in
all, and past that pauses for SYNC_RATE_LIMIT_PAUSE_SECONDS and resumes; it is never failed for
being rate limited.

Celery counts every retry in ``request.retries``; the retries that spent no error budget (rate
limits, and errors forgiven because the run moved on since) travel in the task's kwargs as
``not_counted``, so the error count is ``request.retries - not_counted``.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, replace
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from connectors.base import RateLimited, TransientError
from sync.models import SyncRun

logger = logging.getLogger(__name__)

# Without a provider's word: 4 s, 8 s, 16 s ... after the first, second, third error
# (SYNC_RETRY_BACKOFF_SECONDS is the first wait).
BACKOFF_MAX = 600
RATE_LIMIT_DEFAULT_WAIT = 10.0  # a 429 reaching the task without a Retry-After


@dataclass(frozen=True)
class RetryState:
    """What a run's task carries from one retry to the next (its kwargs)."""

    not_counted: int = 0  # retries that spent no error budget
    rate_waited: float = 0.0  # seconds waited for rate limits since the last pause
    progress_mark: int | None = None  # the run's progress when it last failed with an error

    def kwargs(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class RetryPlan:
    countdown: float
    give_up: bool
    phase: str  # what the run page shows while it waits
    state: RetryState


def retry_plan(
    exc: TransientError, *, retries: int, max_retries: int, state: RetryState, progress: int
) -> RetryPlan:
    """Decide how the run's task goes on after ``exc``: wait and retry, pause, or give up."""
    if isinstance(exc, RateLimited):
        wait = exc.retry_after if exc.retry_after is not None else RATE_LIMIT_DEFAULT_WAIT
        counted_once = replace(state, not_counted=state.not_counted + 1)
        if state.rate_waited + wait <= settings.SYNC_RATE_LIMIT_WAIT_MAX_SECONDS:
            return RetryPlan(
                countdown=wait,
                give_up=False,
                phase=f"rate limited: resuming in {wait:.0f} s",
                state=replace(counted_once, rate_waited=state.rate_waited + wait),
            )
        pause = max(wait, settings.SYNC_RATE_LIMIT_PAUSE_SECONDS)
        until = timezone.localtime(timezone.now() + timedelta(seconds=pause))
        return RetryPlan(
            countdown=pause,
            give_up=False,
            phase=f"paused by the rate limit until {until:%H:%M}",
            state=replace(counted_once, rate_waited=0.0),
        )
    not_counted = state.not_counted
    if state.progress_mark is not None and progress > state.progress_mark:
        not_counted = retries  # the run moved on since its last error: a fresh budget
    errors = retries - not_counted
    if errors >= max_retries:
        return RetryPlan(countdown=0, give_up=True, phase="", state=state)
    countdown = exc.retry_after or min(BACKOFF_MAX, settings.SYNC_RETRY_BACKOFF_SECONDS * 2**errors)
    return RetryPlan(
        countdown=countdown,
        give_up=False,
        phase=f"retry {errors + 1} of {max_retries} in {countdown:.0f} s after an error",
        state=replace(state, not_counted=not_counted, progress_mark=progress),
    )


def run_progress(run_id: int) -> int:
    """Everything the run has done so far, as one number that only grows while it works."""
    row = SyncRun.objects.filter(pk=run_id).values(*SyncRun.COUNTERS).first() or {}
    return sum(row.values())


def run_waiting(run_id: int, plan: RetryPlan, exc: TransientError) -> None:
    """Show the wait on the run (its phase) and in the log, which keeps every retry."""
    SyncRun.objects.filter(pk=run_id, status__in=SyncRun.ACTIVE).update(phase=plan.phase[:60])
    logger.warning(
        "sync run waiting: %s",
        plan.phase,
        extra={
            "sync_run_id": run_id,
            "rate_limited": isinstance(exc, RateLimited),
            "countdown": plan.countdown,
            "error": str(exc)[:300],
        },
    )
