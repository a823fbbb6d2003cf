"""Outbound services: endpoint rules, the event catalogue, event_emit, the outbox pump, replay, redeliver."""

from datetime import timedelta

import pytest
from django.utils import timezone

from sync.models import Change
from sync.services import record_create, record_delete, record_update
from tests.factories import SubAccountFactory
from webhooks.models import Delivery, Endpoint, Message, OutboxCursor
from webhooks.outbound import services as outbound
from webhooks.outbound.events import PAYLOAD_VERSION, event_emit, filter_errors, subscribed
from webhooks.outbound.outbox import cursor_name, outbox_kick, outbox_pump

HOOK = "http://127.0.0.1:9/hook"


def make_endpoint(subaccount, **settings) -> Endpoint:
    return outbound.endpoint_create(subaccount=subaccount, url=settings.pop("url", HOOK), **settings)


def contact(subaccount, email="ana@example.com"):
    return record_create(
        subaccount=subaccount,
        entity="contact",
        fields={"email": email, "first_name": "Ana"},
        origin="api_key:test",
    )


# --- endpoints ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",  # cloud metadata
        "http://10.0.0.5/hook",
        "http://192.168.1.10/hook",
        "http://[fd00::1]/hook",
        "ftp://example.com/hook",
    ],
)
def test_an_endpoint_pointing_at_a_private_or_metadata_address_is_refused_at_create(subaccount, url):
    with pytest.raises(outbound.EndpointInvalid) as caught:
        make_endpoint(subaccount, url=url)
    assert "url" in caught.value.errors
    assert not Endpoint.objects.exists()


def test_loopback_is_refused_outside_the_sandbox_unless_allowlisted(subaccount, settings):
    settings.SANDBOX = False
    with pytest.raises(outbound.EndpointInvalid, match="private or loopback"):
        make_endpoint(subaccount, url="https://127.0.0.1:8443/hook")
    settings.ALLOWED_PRIVATE_HOSTS = ["127.0.0.1"]
    assert make_endpoint(subaccount, url="https://127.0.0.1:8443/hook").pk


def test_an_endpoint_gets_a_fresh_secret_and_its_event_filter_is_checked(subaccount):
    endpoint = make_endpoint(subaccount, event_types=["contact.*", "sync.failed"])
    assert endpoint.secret.startswith("whsec_")
    assert Endpoint.objects.get(pk=endpoint.pk).secret == endpoint.secret  # stored (encrypted), readable
    with pytest.raises(outbound.EndpointInvalid) as caught:
        make_endpoint(subaccount, event_types=["contact.exploded", "nope.*"])
    assert len(caught.value.errors["event_types"]) == 2


def test_moving_an_endpoint_to_a_private_url_is_refused_and_keeps_the_old_url(subaccount):
    endpoint = make_endpoint(subaccount)
    with pytest.raises(outbound.EndpointInvalid):
        outbound.endpoint_update(endpoint=endpoint, url="http://169.254.169.254/")
    assert Endpoint.objects.get(pk=endpoint.pk).url == HOOK


def test_rotation_keeps_the_old_secret_for_24_hours(subaccount):
    endpoint = make_endpoint(subaccount)
    old = endpoint.secret
    outbound.endpoint_rotate_secret(endpoint=endpoint)
    stored = Endpoint.objects.get(pk=endpoint.pk)
    assert stored.secret != old and stored.previous_secret == old
    remaining = stored.previous_secret_expires_at - timezone.now()
    assert timedelta(hours=23, minutes=59) < remaining <= timedelta(hours=24)


def test_a_retry_schedule_must_be_positive_whole_seconds(subaccount):
    with pytest.raises(outbound.EndpointInvalid):
        make_endpoint(subaccount, retry_schedule=[2, -1])
    assert make_endpoint(subaccount, retry_schedule=[1, 1]).retry_schedule == [1, 1]


# --- catalogue and emit ---------------------------------------------------------------------------


def test_filters_empty_means_everything_and_family_wildcards_match_only_their_family():
    assert subscribed([], "deal.deleted")
    assert subscribed(["contact.*"], "contact.created")
    assert not subscribed(["contact.*"], "company.created")
    assert subscribed(["sync.failed"], "sync.failed") and not subscribed(["sync.failed"], "sync.completed")
    assert filter_errors(["contact.*", "endpoint.disabled", "activity.deleted"]) == []


def test_event_emit_stores_one_message_and_a_delivery_per_enabled_subscribed_endpoint(
    subaccount, other_subaccount, django_capture_on_commit_callbacks
):
    everything = make_endpoint(subaccount)
    syncs = make_endpoint(subaccount, event_types=["sync.*"])
    make_endpoint(subaccount, event_types=["contact.*"])  # not subscribed
    disabled = make_endpoint(subaccount)
    outbound.endpoint_disable(endpoint=disabled, reason="test", notify=False)
    make_endpoint(other_subaccount)  # another tenant

    with django_capture_on_commit_callbacks() as callbacks:
        message = event_emit(subaccount=subaccount, event_type="sync.failed", data={"sync_run": {"id": 7}})

    assert message.payload["type"] == "sync.failed"
    assert message.payload["version"] == PAYLOAD_VERSION
    assert message.payload["id"] == message.msg_id and message.msg_id.startswith("msg_")
    assert message.payload["subaccount"] == "acme"
    assert message.payload["data"] == {"sync_run": {"id": 7}}
    assert {d.endpoint_id for d in message.deliveries.all()} == {everything.pk, syncs.pk}
    assert len(callbacks) == 2  # one deliver task per delivery, queued after commit


def test_event_emit_stores_nothing_when_nobody_listens(subaccount):
    make_endpoint(subaccount, event_types=["deal.*"])
    assert event_emit(subaccount=subaccount, event_type="contact.created", data={}) is None
    assert not Message.objects.exists()


# --- the outbox pump ---------------------------------------------------------------------------------


def test_outbox_pump_turns_each_change_into_one_message_with_the_record_and_is_idempotent(
    subaccount, django_capture_on_commit_callbacks
):
    endpoint = make_endpoint(subaccount, event_types=["contact.*"])
    ana = contact(subaccount)
    record_update(record=ana, fields={"last_name": "Lopez"}, origin="integration:3")
    record_delete(record=ana, origin="api_key:test")
    seqs = list(Change.objects.filter(subaccount=subaccount).values_list("seq", flat=True))

    with django_capture_on_commit_callbacks():
        first = outbox_pump()
        second = outbox_pump()

    assert (first.messages, second.messages, second.changes) == (3, 0, 0)
    messages = list(Message.objects.order_by("id"))
    assert [m.change_seq for m in messages] == seqs
    assert [m.event_type for m in messages] == ["contact.created", "contact.updated", "contact.deleted"]
    assert {m.ordering_key for m in messages} == {f"contact:{ana.pk}"}
    updated = messages[1].payload["data"]
    assert updated["changed_fields"] == ["last_name"] and updated["origin"] == "integration:3"
    assert updated["record"]["email"] == "ana@example.com" and updated["record"]["id"] == ana.pk
    assert Delivery.objects.filter(endpoint=endpoint).count() == 3
    assert OutboxCursor.objects.get(name=cursor_name(subaccount.pk)).position == seqs[-1]


def test_outbox_pump_never_makes_a_second_message_even_when_the_cursor_is_reset(subaccount):
    make_endpoint(subaccount)
    contact(subaccount)
    outbox_pump()
    OutboxCursor.objects.filter(name=cursor_name(subaccount.pk)).update(position=0)
    assert outbox_pump().messages == 0
    assert Message.objects.count() == 1


def test_outbox_pump_keeps_tenants_apart_and_skips_tenants_without_endpoints(subaccount, other_subaccount):
    make_endpoint(subaccount)
    contact(subaccount)
    contact(other_subaccount, email="bob@example.com")

    result = outbox_pump()

    assert result.messages == 1 and result.changes == 2
    assert Message.objects.get().subaccount == subaccount
    other_last = Change.objects.filter(subaccount=other_subaccount).last().seq
    assert OutboxCursor.objects.get(name=cursor_name(other_subaccount.pk)).position == other_last


def test_an_endpoint_hears_only_about_changes_made_after_it_was_created(subaccount):
    contact(subaccount, email="old@example.com")
    make_endpoint(subaccount)
    contact(subaccount, email="new@example.com")
    outbox_pump()
    assert [m.payload["data"]["record"]["email"] for m in Message.objects.all()] == ["new@example.com"]


def test_outbox_pump_works_in_batches_and_says_when_it_is_behind(subaccount):
    make_endpoint(subaccount)
    for i in range(3):
        contact(subaccount, email=f"p{i}@example.com")
    first = outbox_pump(limit=2)
    assert first.messages == 2 and first.behind
    rest = outbox_pump(limit=2)
    assert rest.messages == 1 and not rest.behind


def test_outbox_kick_queues_one_delayed_pump_per_window_after_commit(
    subaccount, monkeypatch, django_capture_on_commit_callbacks
):
    from integrations.kick import kick_reset
    from webhooks.outbound import tasks as tasks_outbound
    from webhooks.outbound.outbox import KICK_KEY, KICK_WINDOW

    queued = []
    monkeypatch.setattr(tasks_outbound.outbox_pump_task, "apply_async", lambda **kw: queued.append(kw))
    kick_reset(KICK_KEY)
    with django_capture_on_commit_callbacks(execute=True):
        outbox_kick()
        outbox_kick()
        assert queued == []  # nothing before commit
    assert queued == [{"countdown": KICK_WINDOW}]
    kick_reset(KICK_KEY)


# --- replay and redeliver ---------------------------------------------------------------------


def test_replay_resends_every_matching_message_since_a_time_as_a_new_cycle(subaccount):
    endpoint = make_endpoint(subaccount, event_types=["sync.*"])
    old = event_emit(subaccount=subaccount, event_type="sync.failed", data={})
    Message.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=2))
    recent = event_emit(subaccount=subaccount, event_type="sync.completed", data={})
    Delivery.objects.update(status="failed", attempts=4, next_attempt_at=None)
    late = make_endpoint(subaccount, event_types=["sync.completed"])  # created after the message

    assert outbound.endpoint_replay(endpoint=endpoint, since=timezone.now() - timedelta(hours=1)) == 1
    assert outbound.endpoint_replay(endpoint=late, since=timezone.now() - timedelta(hours=1)) == 1

    again = Delivery.objects.get(message=recent, endpoint=endpoint)
    assert (again.status, again.attempts) == ("pending", 0)
    assert Delivery.objects.get(message=old, endpoint=endpoint).status == "failed"
    assert Delivery.objects.filter(message=recent, endpoint=late, status="pending").exists()


def test_redeliver_restarts_the_message_to_enabled_endpoints_only(subaccount):
    on, off = make_endpoint(subaccount), make_endpoint(subaccount)
    message = event_emit(subaccount=subaccount, event_type="contact.created", data={})
    Delivery.objects.update(status="failed", attempts=4)
    outbound.endpoint_disable(endpoint=off, reason="test", notify=False)

    assert outbound.message_redeliver(message=message) == 1
    assert Delivery.objects.get(message=message, endpoint=on).status == "pending"
    assert Delivery.objects.get(message=message, endpoint=off).status == "failed"
    with pytest.raises(outbound.EndpointDisabled):
        outbound.message_redeliver(message=message, endpoint=off)


def test_disabling_skips_pending_deliveries_and_tells_only_the_other_endpoints(subaccount):
    failing, other = make_endpoint(subaccount), make_endpoint(subaccount)
    event_emit(subaccount=subaccount, event_type="contact.created", data={})

    assert outbound.endpoint_disable(endpoint=failing, reason="15 consecutive failed deliveries")
    assert not outbound.endpoint_disable(endpoint=failing, reason="again")  # once only

    assert Delivery.objects.get(endpoint=failing).status == "skipped"
    notice = Message.objects.get(event_type="endpoint.disabled")
    assert [d.endpoint_id for d in notice.deliveries.all()] == [other.pk]
    assert notice.payload["data"]["endpoint"]["disabled_reason"] == "15 consecutive failed deliveries"


def test_a_test_event_goes_to_that_endpoint_only_whatever_its_filter(subaccount):
    target = make_endpoint(subaccount, event_types=["deal.*"])
    make_endpoint(subaccount)
    message = outbound.endpoint_send_test(endpoint=target)
    assert message.event_type == "endpoint.test"
    assert [d.endpoint_id for d in message.deliveries.all()] == [target.pk]


def test_tenants_endpoints_are_separate(subaccount):
    other = SubAccountFactory(slug="initech")
    make_endpoint(other)
    assert event_emit(subaccount=subaccount, event_type="contact.created", data={}) is None


# --- platform events ------------------------------------------------------------------------------


def test_platform_events_carry_their_documented_data_and_no_secrets(subaccount):
    from sync.models import Conflict, SyncRun
    from tests.factories import IntegrationFactory
    from webhooks.outbound.events import (
        conflict_detected_emit,
        integration_status_changed_emit,
        sync_run_finished_emit,
    )

    make_endpoint(subaccount)
    integration = IntegrationFactory(subaccount=subaccount, config={"access_token": "pat-secret"})
    run = SyncRun.objects.create(
        subaccount=subaccount, integration=integration, kind="delta", status="partial", processed=5, failed=1
    )
    conflict = Conflict.objects.create(
        subaccount=subaccount,
        integration=integration,
        entity="contact",
        local_id=42,
        remote_id="003X",
        field="phone",
        local_value="+1",
        remote_value="+2",
        base_value="+0",
    )

    completed = sync_run_finished_emit(run=run)
    run.status = "failed"
    failed = sync_run_finished_emit(run=run)
    status = integration_status_changed_emit(
        integration=integration, old="active", new="error", reason="token"
    )
    detected = conflict_detected_emit(conflict=conflict)

    assert (completed.event_type, failed.event_type) == ("sync.completed", "sync.failed")
    assert completed.payload["data"]["sync_run"]["counts"]["failed"] == 1
    assert (
        status.payload["data"]["new_status"] == "error"
        and status.ordering_key == f"integration:{integration.pk}"
    )
    assert detected.payload["data"]["conflict"]["remote_value"] == "+2"
    assert detected.ordering_key == "contact:42"  # in line with the record's own events
    for message in (completed, failed, status, detected):
        assert "pat-secret" not in str(message.payload)
