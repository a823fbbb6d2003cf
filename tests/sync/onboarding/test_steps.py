"""The flow's step queue: queued once per key, claimed by one worker, retried with back-off, and
the lead tracking rows upserted in place."""

from datetime import timedelta

import pytest
from django.utils import timezone

from sync.models import FlowStep
from sync.onboarding.steps import (
    MAX_ATTEMPTS,
    StepSpec,
    step_fail,
    step_succeed,
    steps_claim,
    steps_enqueue,
    steps_retry,
    track_records,
)
from tests.factories import IntegrationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def integration(subaccount):
    return IntegrationFactory(subaccount=subaccount)


def spec(key: str = "portal:rec1") -> StepSpec:
    return StepSpec(key=key, entity_type=FlowStep.EntityType.PORTAL, record_id="rec1", internal_id="7")


def test_a_key_is_queued_once(integration, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks():
        assert steps_enqueue(integration, [spec(), spec()]) == 1
        assert steps_enqueue(integration, [spec()]) == 0  # a replayed webhook, a second "Won" edit
    assert FlowStep.objects.filter(integration=integration).count() == 1


def test_claims_are_exclusive_and_a_lost_lease_is_claimed_again(integration):
    steps_enqueue(integration, [spec("portal:a"), spec("portal:b")])
    first = steps_claim(limit=10)
    assert {s.key for s in first} == {"portal:a", "portal:b"}
    assert steps_claim(limit=10) == []  # held by the first worker
    later = timezone.now() + timedelta(minutes=10)
    again = steps_claim(limit=10, now=later)  # that worker died: its lease ran out
    assert {s.key for s in again} == {"portal:a", "portal:b"}
    assert {s.attempts for s in again} == {2}


def test_a_failure_waits_its_backoff_then_gives_up(integration):
    steps_enqueue(integration, [spec()])
    [step] = steps_claim(limit=1)
    assert step_fail(step, "MissionX is down", retry=True) is True
    step.refresh_from_db()
    assert step.status == FlowStep.Status.PENDING and step.available_at > timezone.now()
    FlowStep.objects.filter(pk=step.pk).update(attempts=MAX_ATTEMPTS - 1, available_at=timezone.now())
    [step] = steps_claim(limit=1)
    assert step_fail(step, "still down", retry=True) is False
    step.refresh_from_db()
    assert step.status == FlowStep.Status.FAILED and step.error == "still down"


def test_retry_requeues_failed_steps_only(integration):
    steps_enqueue(integration, [spec("portal:a"), spec("portal:b")])
    a, b = steps_claim(limit=2)
    step_fail(a, "refused", retry=False)
    step_succeed(b)
    assert steps_retry(FlowStep.objects.all()) == 1
    statuses = dict(FlowStep.objects.values_list("key", "status"))
    assert statuses == {a.key: "pending", b.key: "success"}
    assert FlowStep.objects.get(key=a.key).attempts == 0


def test_a_stale_worker_cannot_finish_a_step_claimed_again(integration):
    steps_enqueue(integration, [spec()])
    [stale] = steps_claim(limit=1)
    [fresh] = steps_claim(limit=1, now=timezone.now() + timedelta(minutes=10))
    step_succeed(stale)  # the first worker wakes up late: its claim is gone
    assert FlowStep.objects.get().status == FlowStep.Status.RUNNING
    step_succeed(fresh)
    assert FlowStep.objects.get().status == FlowStep.Status.SUCCESS


def test_lead_tracking_rows_are_updated_in_place(integration):
    track_records(integration, direction="inbound", datasheet_id="dstLeads", rows=[("rec1", "5", "")])
    track_records(
        integration, direction="inbound", datasheet_id="dstLeads", rows=[("rec1", "5", "bad email")]
    )
    track_records(integration, direction="outbound", datasheet_id="dstLeads", rows=[("", "6", "refused")])
    rows = {s.key: s for s in FlowStep.objects.all()}
    assert set(rows) == {"lead:inbound:rec1", "lead:outbound:local-6"}
    inbound = rows["lead:inbound:rec1"]
    assert (inbound.status, inbound.error, inbound.attempts, inbound.internal_id) == (
        "failed",
        "bad email",
        2,
        "5",
    )
    assert rows["lead:outbound:local-6"].record_id == ""


def test_a_finished_step_is_not_undone_by_its_groups_failure(integration):
    steps_enqueue(integration, [spec("portal:a"), spec("portal:b")])
    a, b = steps_claim(limit=2)
    step_succeed(a)
    for step in (a, b):  # the group's write-back failed after a had finished
        step_fail(step, "AITable refused the batch", retry=False)
    statuses = dict(FlowStep.objects.values_list("key", "status"))
    assert statuses == {a.key: "success", b.key: "failed"}
