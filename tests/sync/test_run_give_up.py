"""A run whose retries are spent fails like any other run: announced, so webhooks and e-mails follow."""

from __future__ import annotations

import pytest

from connectors.registry import emulator_module
from sync import hooks
from sync.runs import sync_run_request
from sync.tasks import sync_run_execute_task
from tests.connectors.test_contract import control

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_last_retry_fails_the_run_and_announces_it(integration_for, sandbox_url):
    emulator_module("hubspot").emulator.reset()
    integration = integration_for("hubspot")
    control(sandbox_url, "hubspot", "faults", {"fail_status": 503, "fail_count": 1000})  # HubSpot is down
    run = sync_run_request(integration=integration, kind="delta", entities=["contact"], enqueue=False)
    announced = []

    def receiver(sender, *, run, **kwargs):
        announced.append((run.pk, run.status))

    hooks.sync_run_finished.connect(receiver)
    try:
        result = sync_run_execute_task.apply(args=[run.pk], retries=sync_run_execute_task.max_retries).get()
    finally:
        hooks.sync_run_finished.disconnect(receiver)

    run.refresh_from_db()
    assert result == "failed" and run.status == "failed" and "gave up after" in run.error
    assert announced == [(run.pk, "failed")]
