"""A 429 never spends the error-retry budget: not in one request, not in a run's task.

Measured before the fix: a burst of 429s right after a 5xx failed a 5,000-record full sync with
"You have reached your ten_secondly_rolling limit" — every 429 counted as an attempt.
"""

from __future__ import annotations

import pytest
import responses

from connectors.base import RateLimited, TransientError
from connectors.http import ProviderClient
from connectors.registry import emulator_module
from sync.models import Contact, SyncRun
from sync.retries import RetryState, retry_plan, run_waiting
from sync.runs import sync_run_request
from sync.tasks import sync_run_execute_task
from tests.connectors.test_contract import control

BASE = "https://api.example.test"


# --- one request (connectors/http.py) ---------------------------------------------------------------


@responses.activate
def test_a_burst_of_429s_after_a_5xx_spends_no_error_attempts(settings):
    """One 5xx, then more 429s than MAX_ATTEMPTS: the request still succeeds in-process."""
    url = f"{BASE}/things"
    responses.get(url, json={"message": "boom"}, status=502)
    for _ in range(6):
        responses.get(url, json={"message": "slow down"}, status=429, headers={"Retry-After": "0.01"})
    responses.get(url, json={"ok": True}, status=200)
    client = ProviderClient(base_url=BASE)

    assert client.get_json("/things") == {"ok": True}
    assert client.calls == 8


@responses.activate
def test_errors_still_stop_after_max_attempts_whatever_429s_came_between(monkeypatch):
    monkeypatch.setattr("connectors.http._wait", lambda state: 0)
    url = f"{BASE}/things"
    for _ in range(3):
        responses.get(url, json={"message": "down"}, status=503)
        responses.get(url, json={"message": "slow down"}, status=429, headers={"Retry-After": "0.01"})
    responses.get(url, json={"message": "down"}, status=503)
    client = ProviderClient(base_url=BASE)

    with pytest.raises(TransientError, match="503"):
        client.get_json("/things")
    assert client.calls == 7  # four errors, three 429s


@responses.activate
def test_429s_past_the_per_request_wait_go_up_to_the_task_as_rate_limited(settings):
    settings.CONNECTOR_RATE_LIMIT_WAIT_SECONDS = 0.25
    url = f"{BASE}/things"
    responses.get(url, json={"message": "slow down"}, status=429, headers={"Retry-After": "0.1"})
    client = ProviderClient(base_url=BASE)

    with pytest.raises(RateLimited) as caught:
        client.get_json("/things")
    assert caught.value.retry_after == pytest.approx(0.1)
    assert client.calls == 3  # waited 0.1 + 0.1, a third wait would pass 0.25


@responses.activate
def test_a_connection_test_client_keeps_one_budget_for_both():
    """A client told to try fewer times (the wizard's connection test) answers within seconds."""
    url = f"{BASE}/things"
    responses.get(url, json={"message": "slow down"}, status=429, headers={"Retry-After": "0.01"})
    client = ProviderClient(base_url=BASE, max_attempts=2)

    with pytest.raises(RateLimited):
        client.get_json("/things")
    assert client.calls == 2


@responses.activate
def test_a_truncated_json_answer_is_transient_not_an_empty_page(monkeypatch):
    monkeypatch.setattr("connectors.http._wait", lambda state: 0)
    url = f"{BASE}/things"
    truncated = '{"results": [{"id": "1"}, {"id": "2"'
    responses.get(url, body=truncated, status=200, content_type="application/json")
    responses.get(url, json={"results": [{"id": "1"}]}, status=200)
    client = ProviderClient(base_url=BASE)

    assert client.get_json("/things") == {"results": [{"id": "1"}]}  # retried, not read as {}
    assert client.calls == 2


# --- the run's task (sync/retries.py) -------------------------------------------------------------


def test_a_rate_limit_waits_as_told_and_counts_no_retry(settings):
    settings.SYNC_RATE_LIMIT_WAIT_MAX_SECONDS = 100
    plan = retry_plan(
        RateLimited("slow down", retry_after=12), retries=7, max_retries=5, state=RetryState(), progress=0
    )
    assert not plan.give_up and plan.countdown == 12
    assert plan.state == RetryState(not_counted=1, rate_waited=12)
    assert "rate limited" in plan.phase


def test_past_the_runs_rate_limit_wait_it_pauses_instead_of_failing(settings):
    settings.SYNC_RATE_LIMIT_WAIT_MAX_SECONDS = 100
    settings.SYNC_RATE_LIMIT_PAUSE_SECONDS = 900
    plan = retry_plan(
        RateLimited("slow down", retry_after=10),
        retries=40,
        max_retries=5,
        state=RetryState(not_counted=40, rate_waited=95),
        progress=0,
    )
    assert not plan.give_up and plan.countdown == 900 and plan.phase.startswith("paused by the rate limit")
    assert plan.state.rate_waited == 0  # after the pause, the next waits are counted afresh
    daily = retry_plan(
        RateLimited("daily cap", retry_after=3600),
        retries=0,
        max_retries=5,
        state=RetryState(),
        progress=0,
    )
    assert daily.countdown == 3600 and not daily.give_up


def test_errors_spend_the_budget_but_rate_limits_between_them_do_not():
    state = RetryState()
    retries = 0
    for _ in range(4):  # error, 429, error, 429, ...: 4 errors, 4 rate limits
        plan = retry_plan(TransientError("503"), retries=retries, max_retries=5, state=state, progress=10)
        assert not plan.give_up
        state, retries = plan.state, retries + 1
        plan = retry_plan(
            RateLimited("429", retry_after=1), retries=retries, max_retries=5, state=state, progress=10
        )
        state, retries = plan.state, retries + 1
    plan = retry_plan(TransientError("503"), retries=retries, max_retries=5, state=state, progress=10)
    assert not plan.give_up and "retry 5 of 5" in plan.phase
    state, retries = plan.state, retries + 1
    assert retry_plan(TransientError("503"), retries=retries, max_retries=5, state=state, progress=10).give_up


def test_a_run_that_moved_on_since_its_last_error_gets_a_fresh_error_budget():
    state = RetryState(not_counted=0, progress_mark=100)
    plan = retry_plan(TransientError("503"), retries=4, max_retries=5, state=state, progress=350)
    assert not plan.give_up and "retry 1 of 5" in plan.phase and plan.state.not_counted == 4
    stuck = retry_plan(TransientError("503"), retries=5, max_retries=5, state=state, progress=100)
    assert stuck.give_up


@pytest.mark.django_db(transaction=True)
def test_the_run_shows_its_wait(integration_for, sandbox_url):
    emulator_module("hubspot").emulator.reset()
    run = sync_run_request(integration=integration_for("hubspot"), entities=["contact"], enqueue=False)
    plan = retry_plan(
        RateLimited("429", retry_after=7), retries=0, max_retries=5, state=RetryState(), progress=0
    )
    run_waiting(run.pk, plan, RateLimited("429"))
    assert SyncRun.objects.get(pk=run.pk).phase == "rate limited: resuming in 7 s"


# --- end to end: a real run against the HubSpot emulator ----------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_429_storm_and_errors_do_not_fail_a_full_sync(integration_for, sandbox_url, settings):
    """More task retries than max_retries, nearly all rate limits: the run succeeds."""
    settings.CONNECTOR_RATE_LIMIT_WAIT_SECONDS = 0  # every 429 goes up to the task at once
    em = emulator_module("hubspot").emulator
    em.reset()
    em.seed("contacts", 250, None)
    integration = integration_for("hubspot", direction="inbound")
    # 12 rate limits first, then two 503s (more attempts than one request's four): 14 task retries.
    control(sandbox_url, "hubspot", "faults", {"ratelimit_count": 12, "fail_status": 503, "fail_count": 5})
    run = sync_run_request(integration=integration, kind="full", entities=["contact"], enqueue=False)

    # Eager: each retry runs at once (countdowns are the broker's), as many as the faults need.
    result = sync_run_execute_task.apply(args=[run.pk]).get()

    run.refresh_from_db()
    assert result == "succeeded" and run.status == "succeeded", run.error
    assert Contact.objects.filter(subaccount=integration.subaccount).count() == 250
