"""Celery tasks of the onboarding flow, on the ``flows`` queue (config/celery.py routes
``sync.onboarding.*``), so a long sync run never delays a client's portal.

The drain runs steps until none is due or its slice is spent, then queues itself again. Queuing a
step kicks it (debounced); beat sweeps every minute for steps waiting out a back-off.
"""

from __future__ import annotations

import time

from celery import shared_task

from sync.onboarding.handlers import steps_run
from sync.onboarding.steps import DRAIN_TASK

SWEEP_TASK = "sync.onboarding.sweep"
DRAIN_SLICE = 20.0  # seconds of steps per drain task


@shared_task(name=DRAIN_TASK, acks_late=True)
def steps_drain_task() -> int:
    done = 0
    deadline = time.monotonic() + DRAIN_SLICE
    while time.monotonic() < deadline:
        claimed = steps_run()
        done += claimed
        if not claimed:
            return done
    steps_drain_task.apply_async()
    return done


@shared_task(name=SWEEP_TASK)
def sweep_task() -> int:
    """Beat, every minute: run the steps whose back-off is over (and what a lost kick left)."""
    return steps_drain_task()
