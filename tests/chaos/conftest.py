"""The chaos suite's parts: real workers and a real beat (PostgreSQL, Redis, Celery processes) against
the emulators, sizes set by CHAOS_SCALE (``short``: `make test`; ``full``: `make chaos`), and the
figures each scenario measures, written to benchmarks/RESULTS.md's "Reliability" section when
CHAOS_RESULTS names that file (`make chaos`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from django.conf import settings
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from connectors.sandbox.models import SandboxRecord
from sync.models import Contact, EntityLink
from sync.schedules import SCHEDULES, schedules_install
from tests.chaos.report import reliability_section_write
from tests.process_logs import process_log_register
from tests.system.conftest import (  # noqa: F401 (fixtures used by the scenarios)
    ROOT,
    celery_settings,
    real_servers,
    workers,
)

SCALE = os.environ.get("CHAOS_SCALE", "short")
FULL = SCALE == "full"
RESULTS: list[dict] = []


def scaled(short, full):
    """A size or duration for the current CHAOS_SCALE."""
    return full if FULL else short


def pytest_sessionfinish(session, exitstatus):
    target = os.environ.get("CHAOS_RESULTS")
    if target and RESULTS:
        reliability_section_write(Path(target), RESULTS, scale=SCALE)


@pytest.fixture
def record():
    """Keep one scenario's figures for the Reliability section."""

    def add(scenario: str, **figures) -> None:
        RESULTS.append({"scenario": scenario, **figures})

    return add


class Beat:
    """A `celery beat` process on the database schedules, as production runs it."""

    def __init__(self, log_dir: Path, env: dict[str, str]):
        db = settings.DATABASES["default"]
        self.log = (log_dir / "beat.log").open("w")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "beat",
                "--scheduler",
                "django_celery_beat.schedulers:DatabaseScheduler",
                "--max-interval",
                "1",
                "--loglevel",
                "INFO",
            ],
            cwd=ROOT,
            env={
                **os.environ,
                "DJANGO_SETTINGS_MODULE": "config.test_settings",
                "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
                "REDIS_URL": settings.REDIS_URL,
                "CELERY_BROKER_URL": settings.REDIS_URL,
                **env,
            },
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.log.close()


@pytest.fixture
def beat(celery_settings, tmp_path, request):  # noqa: F811 (the imported fixture)
    """Start beat with only the named schedules (the scenario's own, not every job's)."""
    started: list[Beat] = []

    def start(*names: str, extra: dict[str, int] | None = None, env: dict[str, str] | None = None) -> Beat:
        PeriodicTask.objects.all().delete()
        schedules_install(PeriodicTask, IntervalSchedule, [s for s in SCHEDULES if s[0] in names])
        for task, seconds in (extra or {}).items():
            interval, _ = IntervalSchedule.objects.get_or_create(every=seconds, period="seconds")
            PeriodicTask.objects.create(name=f"chaos: {task}", task=task, interval=interval)
        process = Beat(tmp_path, env or {})
        started.append(process)
        process_log_register(request, tmp_path / "beat.log")
        return process

    yield start
    for process in started:
        process.stop()


def assert_contacts_match(integration, subaccount, *, expected: int) -> dict[str, int]:
    """Emulator and local state, record by record: every HubSpot contact linked to exactly one
    local contact with its e-mail, and nothing else. Returns the lost / duplicated counts."""
    remote = {
        r.remote_id: (r.data.get("email") or "").lower()
        for r in SandboxRecord.objects.filter(provider="hubspot", object_type="contacts", archived=False)
    }
    links = list(
        EntityLink.objects.filter(integration=integration, entity="contact").values_list(
            "remote_id", "local_id"
        )
    )
    local = dict(Contact.objects.filter(subaccount=subaccount).values_list("pk", "email"))
    by_remote = Counter(r for r, _ in links)
    by_local = Counter(lid for _, lid in links)
    lost = [rid for rid in remote if rid not in by_remote]
    duplicated = sum(n - 1 for n in by_remote.values() if n > 1) + sum(
        n - 1 for n in by_local.values() if n > 1
    )
    duplicated += len(local) - len(by_local)  # local contacts no link accounts for
    emails_remote = Counter(e for e in remote.values() if e)
    duplicated += sum(n - 1 for n in emails_remote.values() if n > 1)
    names_remote = Counter(
        (r.get("firstname", ""), r.get("lastname", ""), r.get("email", ""))
        for r in SandboxRecord.objects.filter(
            provider="hubspot", object_type="contacts", archived=False
        ).values_list("data", flat=True)
    )
    duplicated += sum(n - 1 for n in names_remote.values() if n > 1)
    mismatched = [
        rid for rid, lid in links if rid in remote and remote[rid] != (local.get(lid) or "").lower()
    ]
    assert len(remote) == expected, f"the provider has {len(remote)} contacts, expected {expected}"
    assert not lost, f"{len(lost)} provider contacts were never linked, e.g. {lost[:5]}"
    assert duplicated == 0, f"{duplicated} duplicates"
    assert not mismatched, f"{len(mismatched)} linked contacts differ, e.g. {mismatched[:5]}"
    assert len(local) == expected
    return {"lost": len(lost), "duplicated": duplicated}
