"""Debounced kicks (integrations.kick): one queued run per window, shared through Redis, never failing
the caller."""

from __future__ import annotations

import time

import pytest
from django.conf import settings

from config.redis_clients import redis_client
from integrations import kick as kicks

pytestmark = pytest.mark.skipif(not settings.REDIS_URL, reason="needs the test Redis (make test starts one)")


class FakeTask:
    def __init__(self, fail: Exception | None = None):
        self.queued: list[dict] = []
        self.fail = fail

    def apply_async(self, args=(), **options):
        if self.fail:
            raise self.fail
        self.queued.append({**options, **({"args": args} if args else {})})


@pytest.fixture
def key():
    name = f"test-{time.monotonic_ns()}"
    yield name
    kicks.kick_reset(name)


def test_the_first_kick_of_a_window_queues_one_delayed_run_and_the_rest_ride_on_it(key):
    task = FakeTask()
    results = [kicks.kick(task, key=key, window=0.3) for _ in range(5)]
    assert results == [True, False, False, False, False]
    assert task.queued == [{"countdown": 0.3}]

    time.sleep(0.35)  # the window closed: the run it queued may already have started
    assert kicks.kick(task, key=key, window=0.3) is True
    assert len(task.queued) == 2


def test_a_window_opened_by_another_process_is_respected_until_it_ends(key):
    task = FakeTask()
    redis_client().set(f"kick:{key}", 1, px=300)  # another web process queued the run

    assert kicks.kick(task, key=key, window=0.3) is False
    assert kicks._covered_until[key] - time.monotonic() <= 0.3  # no longer than Redis said
    assert kicks.kick(task, key=key, window=0.3) is False  # decided locally: no round trip
    time.sleep(0.35)
    assert kicks.kick(task, key=key, window=0.3) is True and len(task.queued) == 1


def test_without_redis_each_process_keeps_its_own_window(key, settings):
    settings.REDIS_URL = ""
    task = FakeTask()
    assert [kicks.kick(task, key=key, window=0.2) for _ in range(3)] == [True, False, False]
    time.sleep(0.25)
    assert kicks.kick(task, key=key, window=0.2) is True


def test_a_broker_failure_never_reaches_the_caller_and_does_not_hold_the_window(key, caplog):
    from kombu.exceptions import OperationalError

    broken = FakeTask(fail=OperationalError("broker down"))
    assert kicks.kick(broken, key=key, window=5) is False
    assert "kick failed" in caplog.text
    healthy = FakeTask()
    assert kicks.kick(healthy, key=key, window=5) is True  # the promised run was never queued: try again
    assert healthy.queued == [{"countdown": 5}]


def test_a_kick_carries_its_task_arguments():
    task = FakeTask()
    kicks.kick_reset("with-args")
    assert kicks.kick(task, key="with-args", window=0.5, args=(42,))
    assert task.queued == [{"countdown": 0.5, "args": (42,)}]
