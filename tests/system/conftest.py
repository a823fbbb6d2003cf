"""Real parts: PostgreSQL, Redis and Celery worker processes, talking to the emulators over HTTP.

`make test` starts throwaway PostgreSQL and Redis servers and exports DATABASE_URL and REDIS_URL;
these tests refuse to run on anything else rather than pretending.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from tests.process_logs import process_log_register

ROOT = Path(__file__).resolve().parents[2]
LEASE_TTL = 4  # seconds: a dead worker's run is resumed quickly
VISIBILITY = 6  # seconds: a dead worker's unacknowledged task is redelivered quickly


@pytest.fixture(scope="session")
def real_servers():
    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        pytest.fail(
            "system tests need PostgreSQL and Redis: run them through `make test` "
            "(scripts/with-test-servers.sh sets DATABASE_URL and REDIS_URL)"
        )


@pytest.fixture
def celery_settings(settings, real_servers):
    settings.CELERY_BROKER_URL = settings.REDIS_URL
    settings.SYNC_LEASE_TTL_SECONDS = LEASE_TTL
    settings.SYNC_PUSH_ON_CHANGE = False  # as the workers (see Worker): a test opts in
    from config.celery import app

    app.conf.broker_url = settings.REDIS_URL
    app.conf.broker_transport_options = {"visibility_timeout": VISIBILITY}
    with app.connection_for_write() as conn:  # start from an empty queue
        conn.default_channel.client.flushdb()
    return settings


class Worker:
    """One `celery worker` process on the test database, killable like a real one."""

    def __init__(self, name: str, log_dir: Path, *, beat: bool = False, env: dict[str, str] | None = None):
        db = settings.DATABASES["default"]
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.test_settings",
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
            "REDIS_URL": settings.REDIS_URL,
            "CELERY_BROKER_URL": settings.REDIS_URL,
            "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY),
            "SYNC_LEASE_TTL_SECONDS": str(LEASE_TTL),
            # Tests that drive runs themselves: no automatic push racing them (test_chat_flow opts in).
            "SYNC_PUSH_ON_CHANGE": "off",
            **(env or {}),
        }
        self.log = (log_dir / f"{name}.log").open("w")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "-n",
                f"{name}@%h",
                "-Q",
                "sync,webhooks,default,enrichment,flows",
                "--concurrency",
                "1",
                "--pool",
                "solo",
                "--without-gossip",
                "--without-mingle",
                "--loglevel",
                "INFO",
                *(["--beat"] if beat else []),  # the database schedules run in this worker too
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill9(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill9()
        self.log.close()


@pytest.fixture
def workers(celery_settings, tmp_path, request):
    started: list[Worker] = []

    def start(name: str, *, beat: bool = False, env: dict[str, str] | None = None) -> Worker:
        from config.celery import app

        worker = Worker(name, tmp_path, beat=beat, env=env)
        started.append(worker)
        process_log_register(request, tmp_path / f"{name}.log")
        wait_for(
            lambda: any(name in reply for r in app.control.ping(timeout=0.5) for reply in r),
            timeout=30,
            message=f"worker {name} to answer ping",
        )
        return worker

    yield start
    for worker in started:
        worker.stop()


def wait_for(predicate, *, timeout: float, interval: float = 0.2, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")
