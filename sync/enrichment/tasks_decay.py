"""The nightly decay re-score as a Celery task (the beat schedule names it by DECAY_RESCORE_TASK)."""

from celery import shared_task

from sync.enrichment.persist import decay_rescore

__all__ = ["DECAY_RESCORE_TASK", "decay_rescore_task"]

DECAY_RESCORE_TASK = "sync.enrichment.decay_rescore"


@shared_task(name=DECAY_RESCORE_TASK)
def decay_rescore_task() -> int:
    """Re-score what time alone changed; returns how many records changed. Safe to run twice: a
    second run finds nothing left to change."""
    return decay_rescore()
