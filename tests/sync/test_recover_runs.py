"""Runs whose worker stopped are sent again by the 15-second recovery tick: a dead worker's run as
soon as its lease expires, a lost queued message after two minutes, and nothing else."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from sync import tasks
from sync.models import SyncLease, SyncRun
from tests.factories import IntegrationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(monkeypatch):
    ids: list[int] = []
    monkeypatch.setattr(tasks.sync_run_execute_task, "delay", ids.append)
    return ids


def run_of(status: str, *, lease_owner: str | None = None, expires_in: float = 0, age: float = 0) -> SyncRun:
    integration = IntegrationFactory()
    run = SyncRun.objects.create(
        subaccount=integration.subaccount,
        integration=integration,
        kind="full",
        status=status,
        entities=["contact"],
    )
    SyncRun.objects.filter(pk=run.pk).update(created_at=timezone.now() - timedelta(seconds=age))
    if lease_owner is not None:
        owner = lease_owner.format(run=run.pk)
        expires = timezone.now() + timedelta(seconds=expires_in) if owner else None
        SyncLease.objects.create(integration=integration, owner=owner, expires_at=expires)
    return run


def test_a_run_whose_worker_died_is_sent_again_once_its_lease_expired(sent):
    dead = run_of("running", lease_owner="run-{run}-abcd1234", expires_in=-1, age=5)
    alive = run_of("running", lease_owner="run-{run}-abcd1234", expires_in=30, age=5)

    assert tasks.sync_recover_stale_runs_task.apply().get() == 1

    assert sent == [dead.pk] and alive.pk not in sent


def test_a_run_waiting_out_a_retry_is_left_to_its_retry(sent):
    run_of("running", lease_owner="", age=600)  # a TransientError released the lease; a retry is due

    assert tasks.sync_recover_stale_runs_task.apply().get() == 0 and sent == []


def test_a_lease_held_in_another_runs_name_is_not_this_runs_death(sent):
    run_of("running", lease_owner="run-999999-abcd1234", expires_in=-1, age=5)

    assert tasks.sync_recover_stale_runs_task.apply().get() == 0


def test_a_queued_run_nobody_took_is_sent_again_after_two_minutes(sent):
    lost = run_of("queued", age=180)
    run_of("queued", age=30)  # still waiting its turn in the queue

    assert tasks.sync_recover_stale_runs_task.apply().get() == 1 and sent == [lost.pk]


def test_the_recovery_tick_is_a_beat_schedule_of_fifteen_seconds():
    task = PeriodicTask.objects.get(task="sync.recover_stale_runs")
    assert (task.interval.every, task.interval.period) == (15, "seconds")
