"""Zoho notifications: the channel-token check, parsing, watch channels on the emulator (subscribe, renew,
unsubscribe, expiry), and callbacks through the real receiver applied once, duplicated or out of order."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
import requests

from connectors.base import SignatureInvalid, WebhookRequest
from connectors.sandbox.models import SandboxWebhook
from connectors.zoho import webhooks
from connectors.zoho.connector import needs_renewal
from integrations.services import integration_webhooks_subscribe
from sync.models import Change, Contact, EntityLink
from sync.runs import sync_run_execute, sync_run_request
from tests.sandbox import sandbox_integration
from webhooks.inbound.processing import inbound_drain
from webhooks.models import InboundDelivery, InboundEvent

SECRET = "integration-webhook-secret"


def callback(**overrides) -> WebhookRequest:
    body = {
        "server_time": 1700000000000,
        "query_params": {},
        "module": "Contacts",
        "resource_uri": "https://www.zohoapis.com/crm/v7/Contacts",
        "ids": ["5725767000000411111", "5725767000000422222"],
        "affected_fields": [],
        "operation": "update",
        "channel_id": "1000000068001",
        "token": webhooks.channel_token(SECRET, "1000000068001"),
        **overrides,
    }
    return WebhookRequest(
        method="POST", url="https://app/webhooks/in/zoho/1/", headers={}, body=json.dumps(body).encode()
    )


def test_our_channel_token_is_accepted():
    webhooks.verify(callback(), secret=SECRET, now=0, config={})


@pytest.mark.parametrize(
    "request_",
    [
        callback(token="wrong"),
        callback(token=webhooks.channel_token(SECRET, "1000000068002")),  # another channel's token
        callback(token=""),
        callback(channel_id=""),
        WebhookRequest(method="POST", url="https://app/", headers={}, body=b"not json"),
    ],
)
def test_anything_else_is_refused(request_):
    with pytest.raises(SignatureInvalid):
        webhooks.verify(request_, secret=SECRET, now=0, config={})


def test_without_a_secret_every_callback_is_refused():
    with pytest.raises(SignatureInvalid):
        webhooks.verify(callback(), secret="", now=0, config={})


def test_a_callback_becomes_one_event_per_id_to_fetch_and_redelivery_repeats_the_event_ids():
    events = webhooks.parse(callback())
    assert [(e.entity, e.remote_id, e.action, e.record) for e in events] == [
        ("contact", "5725767000000411111", "updated", None),
        ("contact", "5725767000000422222", "updated", None),
    ]
    assert events[0].occurred_at == datetime.fromtimestamp(1700000000, tz=UTC)
    assert [e.event_id for e in webhooks.parse(callback())] == [e.event_id for e in events]
    later = webhooks.parse(callback(server_time=1700000001000))
    assert {e.event_id for e in later}.isdisjoint({e.event_id for e in events})
    assert [e.action for e in webhooks.parse(callback(operation="delete", module="Deals"))] == ["deleted"] * 2
    assert webhooks.parse(callback(module="Campaigns")) == []


# --- watch channels on the emulator --------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_watch_channel_is_created_renewed_and_deleted(zoho, connector, api, base, live_server):
    target = f"{live_server.url}/nowhere/"
    subscription = connector.subscribe_webhooks(target_url=target, secret=SECRET)
    [channel] = api.get(f"{base}/crm/v7/actions/watch", timeout=10).json()["watch"]
    assert channel["channel_id"] == subscription["channel_id"]
    assert channel["token"] == webhooks.channel_token(SECRET, subscription["channel_id"])
    assert set(channel["events"]) == {"Contacts.all", "Accounts.all", "Deals.all", "Tasks.all"}
    expiry = datetime.fromisoformat(subscription["channel_expiry"])
    assert timedelta(days=6) < expiry - datetime.now(UTC) <= timedelta(days=7)
    assert not needs_renewal(subscription) and needs_renewal(subscription, now=expiry - timedelta(hours=1))

    renewed = connector.renew_channel(subscription=subscription, target_url=target, secret=SECRET)
    assert (
        renewed["channel_id"] == subscription["channel_id"]
        and renewed["channel_expiry"] >= subscription["channel_expiry"]
    )

    assert connector.renew_webhooks(subscription=renewed, target_url=target, secret=SECRET) is None
    later = datetime.fromisoformat(renewed["channel_expiry"]) - timedelta(hours=12)
    due = connector.renew_webhooks(subscription=renewed, target_url=target, secret=SECRET, now=later)
    assert due is not None and due["channel_id"] == renewed["channel_id"]

    connector.unsubscribe_webhooks(subscription=renewed)
    assert api.get(f"{base}/crm/v7/actions/watch", timeout=10).status_code == 204
    connector.unsubscribe_webhooks(subscription=renewed)  # already gone: fine
    again = connector.renew_channel(subscription=renewed, target_url=target, secret=SECRET)
    assert again["channel_id"] != renewed["channel_id"]  # Zoho forgot it: a new channel


@pytest.mark.django_db(transaction=True)
def test_the_emulator_refuses_channels_longer_than_a_week_and_expired_ones_stay_silent(
    zoho, api, base, live_server
):
    watch = {
        "channel_id": "1000000000001",
        "events": ["Contacts.all"],
        "notify_url": f"{live_server.url}/nowhere/",
        "token": "t",
    }
    too_long = (datetime.now(UTC) + timedelta(days=8)).isoformat()
    refused = api.post(
        f"{base}/crm/v7/actions/watch", json={"watch": [{**watch, "channel_expiry": too_long}]}, timeout=10
    )
    assert (
        refused.status_code == 400 and refused.json()["watch"][0]["details"]["api_name"] == "channel_expiry"
    )
    soon = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    assert api.post(
        f"{base}/crm/v7/actions/watch", json={"watch": [{**watch, "channel_expiry": soon}]}, timeout=10
    ).ok
    time.sleep(1.2)  # the channel expires
    api.post(f"{base}/crm/v7/Contacts", json={"data": [{"Last_Name": "Quiet"}]}, timeout=10)
    assert not SandboxWebhook.objects.filter(provider="zoho").exists()


# --- through the real receiver and the sync merge --------------------------------------------------------


@pytest.fixture
def eager_tasks():
    from config.celery import app

    saved = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = saved


@pytest.mark.urls("tests.webhooks.urls_inbound")
@pytest.mark.django_db(transaction=True)
def test_callbacks_duplicated_and_out_of_order_apply_the_change_once(
    zoho, catalog, subaccount, sandbox_url, live_server, settings, eager_tasks
):
    settings.PUBLIC_BASE_URL = live_server.url
    zoho.seed("Contacts", 3)
    integration = sandbox_integration(subaccount, "zoho", sandbox_url)
    subscription = integration_webhooks_subscribe(integration=integration)  # as activation does
    assert subscription["channel_id"] and "token" not in subscription
    run = sync_run_request(integration=integration, kind="full", entities=["contact"], enqueue=False)
    assert sync_run_execute(run_id=run.pk).status == "succeeded"
    link = EntityLink.objects.filter(integration=integration, entity="contact").first()
    before = Change.objects.filter(entity="contact", record_id=link.local_id).count()

    config, tokens = zoho.connect(sandbox_url)
    edit = requests.put(
        f"{config['base_url']}/crm/v7/Contacts",
        json={"data": [{"id": link.remote_id, "Title": "Head of Notifications"}]},
        headers={"Authorization": f"Zoho-oauthtoken {tokens.access_token}"},
        timeout=10,
    )
    assert edit.status_code == 200
    sent = SandboxWebhook.objects.get(provider="zoho")  # Zoho's own callback, to our receiver
    assert sent.status_code == 200
    assert Contact.objects.get(pk=link.local_id).job_title == "Head of Notifications"
    applied = Change.objects.filter(entity="contact", record_id=link.local_id).count()
    assert applied == before + 1

    payload = json.loads(sent.body)
    target = sent.target_url
    spec = {
        "module": "Contacts",
        "operation": "update",
        "ids": payload["ids"],
        "channel_id": payload["channel_id"],
    }
    duplicate = zoho.fire_webhooks(
        None, target, {**spec, "token": payload["token"], "server_time": payload["server_time"]}
    )
    older = zoho.fire_webhooks(
        None, target, {**spec, "token": payload["token"], "server_time": payload["server_time"] - 5000}
    )
    forged = zoho.fire_webhooks(
        None, target, {**spec, "token": "forged", "server_time": payload["server_time"] + 1}
    )

    assert (duplicate.status_code, older.status_code, forged.status_code) == (200, 200, 401)
    inbound_drain()  # the first drain's debounce window is still open: run what it would have queued
    assert InboundEvent.objects.filter(integration=integration, status="processed").count() == 2
    duplicates = InboundDelivery.objects.filter(integration=integration).values_list("duplicates", flat=True)
    assert sum(duplicates) == 1  # the redelivery was recognised and dropped
    assert Contact.objects.get(pk=link.local_id).job_title == "Head of Notifications"
    final = Change.objects.filter(entity="contact", record_id=link.local_id).count()
    assert final == applied  # the re-read (older event) changed nothing
