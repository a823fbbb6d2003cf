"""The weekly full sync: a quiet slot per integration, due once per week, queued by the dispatcher."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from integrations.models import QUIET_HOURS_UTC, Integration, full_sync_slot_default
from sync.models import SyncRun
from sync.schedules import full_sync_due, full_sync_slot_start
from sync.tasks import sync_dispatch_due_task
from tests.factories import IntegrationFactory
from tests.integrations.test_api import api_for, create
from tests.integrations.test_api import template as template  # noqa: F401 (a fixture)

WEDNESDAY = datetime(2026, 12, 2, 10, 30, tzinfo=UTC)
LONG_AGO = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("weekday", "hour", "expected"),
    [
        (2, 3, datetime(2026, 12, 2, 3, tzinfo=UTC)),  # earlier today
        (2, 10, datetime(2026, 12, 2, 10, tzinfo=UTC)),  # this very hour
        (2, 11, datetime(2026, 11, 25, 11, tzinfo=UTC)),  # later today: last week's
        (4, 3, datetime(2026, 11, 27, 3, tzinfo=UTC)),  # Friday: last week's
        (0, 23, datetime(2026, 11, 30, 23, tzinfo=UTC)),  # Monday night
    ],
)
def test_the_slot_start_is_the_latest_one_at_or_before_now(weekday, hour, expected):
    assert full_sync_slot_start(weekday=weekday, hour=hour, now=WEDNESDAY) == expected


def due(**overrides) -> bool:
    args = {
        "enabled": True,
        "weekday": 2,
        "hour": 3,
        "now": WEDNESDAY,
        "created_at": LONG_AGO,
        "last_full_at": datetime(2026, 11, 25, 4, tzinfo=UTC),  # last week's
        **overrides,
    }
    return full_sync_due(**args)


def test_due_once_the_slot_has_come_and_no_full_run_finished_since():
    assert due()
    assert due(last_full_at=None)
    assert not due(last_full_at=datetime(2026, 12, 2, 3, 5, tzinfo=UTC))  # done this week
    # Later today: this week's slot has not come, and the full run after last week's finished.
    assert not due(hour=11, last_full_at=datetime(2026, 11, 25, 12, tzinfo=UTC))
    assert due(hour=11)  # last week's slot (Nov 25 11:00) came after the last full run
    assert not due(enabled=False)
    assert not due(created_at=datetime(2026, 12, 2, 9, tzinfo=UTC), last_full_at=None)  # new since the slot


def test_default_slots_are_quiet_deterministic_and_spread_out():
    slots = [full_sync_slot_default(pk) for pk in range(1, 43)]
    assert len(set(slots)) == 42 and slots == [full_sync_slot_default(pk) for pk in range(1, 43)]
    assert all(0 <= weekday <= 6 and hour in QUIET_HOURS_UTC for weekday, hour in slots)


def test_the_dispatcher_queues_exactly_one_full_run_when_the_slot_has_come(
    subaccount, django_capture_on_commit_callbacks
):
    now = timezone.now()
    slot = now - timedelta(hours=1)
    integration = IntegrationFactory(
        subaccount=subaccount,
        status="active",
        last_sync_at=now,
        full_sync_weekday=slot.weekday(),
        full_sync_hour=slot.hour,
        config={"auth_mode": "private_app", "access_token": "pat-weekly-1"},
    )
    Integration.objects.filter(pk=integration.pk).update(created_at=now - timedelta(days=30))
    off = IntegrationFactory(
        subaccount=subaccount,
        status="active",
        last_sync_at=now,
        weekly_full_sync=False,
        full_sync_weekday=slot.weekday(),
        full_sync_hour=slot.hour,
        config={"auth_mode": "private_app", "access_token": "pat-weekly-2"},
    )
    Integration.objects.filter(pk=off.pk).update(created_at=now - timedelta(days=30))

    with django_capture_on_commit_callbacks(execute=False):
        assert sync_dispatch_due_task.apply().get() == 1
        assert sync_dispatch_due_task.apply().get() == 0  # queued: busy
    run = SyncRun.objects.get()
    assert (run.integration_id, run.kind, run.requested_by) == (
        integration.pk,
        "full",
        "schedule:weekly_full",
    )

    SyncRun.objects.filter(pk=run.pk).update(status="succeeded", finished_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=False):
        assert sync_dispatch_due_task.apply().get() == 0  # done for this week
    assert SyncRun.objects.count() == 1


def test_a_new_integration_gets_its_own_slot_and_the_api_edits_it(subaccount, template):  # noqa: F811
    api = api_for(subaccount)
    body = create(api).json()
    assert (body["weekly_full_sync"], body["full_sync_weekday"], body["full_sync_hour"]) == (
        True,
        *full_sync_slot_default(body["id"]),
    )
    patched = api.patch(
        f"/api/v1/integrations/{body['id']}/",
        {"full_sync_weekday": 5, "full_sync_hour": 23, "weekly_full_sync": False},
        format="json",
    )
    assert patched.status_code == 200, patched.content
    stored = Integration.objects.get(pk=body["id"])
    assert (stored.full_sync_weekday, stored.full_sync_hour, stored.weekly_full_sync) == (5, 23, False)
    refused = api.patch(f"/api/v1/integrations/{body['id']}/", {"full_sync_hour": 24}, format="json")
    assert refused.status_code == 400 and Integration.objects.get(pk=body["id"]).full_sync_hour == 23


def test_a_new_integrations_first_scheduled_run_is_full(subaccount, django_capture_on_commit_callbacks):
    """A first connection imports and exports everything (the seed's 5,000 contacts into a chat)."""
    integration = IntegrationFactory(
        subaccount=subaccount,
        status="active",
        config={"auth_mode": "private_app", "access_token": "pat-first"},
    )
    with django_capture_on_commit_callbacks(execute=False):
        assert sync_dispatch_due_task.apply().get() == 1
    run = SyncRun.objects.get()
    assert (run.integration_id, run.kind, run.requested_by) == (integration.pk, "full", "schedule:first")
