"""Pipedrive webhooks v2: Basic-auth checks, parsing, and deliveries from the emulator through the
live receiver (duplicates, out of order, merges) applied once."""

import json

import pytest
import requests
from django.db import connection

from connectors.base import PermanentError, SignatureInvalid, WebhookRequest
from connectors.pipedrive import webhooks
from connectors.pipedrive.emulator.hooks import basic_header
from connectors.sandbox.models import SandboxWebhook
from integrations.kick import kick_reset
from integrations.services import (
    integration_activate,
    integration_delete,
    integration_pause,
    integration_test,
)
from sync.models import Contact, EntityLink
from sync.runs import sync_run_execute, sync_run_request
from tests.sandbox import sandbox_integration
from webhooks.inbound.parsing import deliveries_parse
from webhooks.inbound.processing import inbound_drain
from webhooks.inbound.services import KICK_KEY
from webhooks.inbound.tasks import inbound_drain_task
from webhooks.models import InboundDelivery, InboundEvent

SECRET = "integration-webhook-secret"


def delivery(body: dict, authorization: str | None) -> WebhookRequest:
    headers = {"Authorization": authorization} if authorization is not None else {}
    return WebhookRequest(
        method="POST",
        url="https://app.example.com/webhooks/in/pipedrive/1/",
        headers=headers,
        body=json.dumps(body).encode(),
    )


def event(action="change", entity="person", entity_id=12, **meta):
    body = {
        "meta": {
            "action": action,
            "entity": entity,
            "entity_id": entity_id,
            "webhook_id": 99,
            "timestamp": 1727447128,
            "version": "2.0",
            "id": "e-1",
            **meta,
        },
        "data": {"id": entity_id, "name": "Ana"} if action != "delete" else None,
        "previous": {"name": "Old"} if action == "change" else None,
    }
    return body


def test_our_basic_credentials_verify():
    user, password = webhooks.credentials(SECRET)
    webhooks.verify(delivery(event(), basic_header(user, password)), secret=SECRET, now=0)


@pytest.mark.parametrize(
    ("authorization", "secret"),
    [
        (None, SECRET),  # none given
        (basic_header("pipedrive", "guess"), SECRET),  # wrong password
        (basic_header("someone", webhooks.credentials(SECRET)[1]), SECRET),  # wrong user
        ("Bearer " + webhooks.credentials(SECRET)[1], SECRET),  # not Basic
        ("Basic not-base64!!", SECRET),  # malformed
        (basic_header(*webhooks.credentials(SECRET)), ""),  # no secret configured: fail closed
        (basic_header(*webhooks.credentials("another-secret")), SECRET),  # another integration's pair
    ],
)
def test_anything_but_our_basic_credentials_is_refused(authorization, secret):
    with pytest.raises(SignatureInvalid):
        webhooks.verify(delivery(event(), authorization), secret=secret, now=0)


def test_v2_events_parse_to_canonical_entities_and_actions():
    [change] = webhooks.parse(delivery(event(), None))
    assert (change.entity, change.remote_id, change.action, change.record) == (
        "contact",
        "12",
        "updated",
        None,
    )
    [gone] = webhooks.parse(delivery(event("delete", "note", 7, merged_to_id=None), None))
    assert (gone.entity, gone.remote_id, gone.action) == ("activity", "notes/7", "deleted")
    [merged] = webhooks.parse(delivery(event("delete", "organization", 3, merged_to_id=4), None))
    assert (merged.entity, merged.remote_id, merged.action) == ("company", "3", "deleted")
    assert webhooks.parse(delivery(event("create", "lead", 5), None)) == []
    assert change.event_id != webhooks.parse(delivery(event(timestamp=1727447129), None))[0].event_id
    with pytest.raises(PermanentError):
        webhooks.parse(WebhookRequest(method="POST", url="/", headers={}, body=b"[]"))


# --- through the live receiver --------------------------------------------------------------------


@pytest.fixture
def kicks(monkeypatch):
    """The receiver queues drain runs after commit; here the test drains itself."""
    sent = []

    def apply_async(**options):
        assert not connection.in_atomic_block
        sent.append(options)

    kick_reset(KICK_KEY)
    monkeypatch.setattr(inbound_drain_task, "apply_async", apply_async)
    yield sent
    kick_reset(KICK_KEY)


@pytest.fixture
def synced(pd, catalog, subaccount, sandbox_url, live_server, settings, kicks):
    """An active Pipedrive integration (its webhook registered at the live receiver), fully synced."""
    settings.PUBLIC_BASE_URL = live_server.url
    pd.seed("persons", 4)
    integration = sandbox_integration(subaccount, "pipedrive", sandbox_url)
    integration_pause(integration=integration, actor="test")
    assert integration_test(integration=integration, actor="test").ok
    integration = integration_activate(integration=integration, actor="test")  # subscribes
    run = sync_run_request(integration=integration, kind="full", entities=["contact"], enqueue=False)
    assert sync_run_execute(run_id=run.pk).status == "succeeded"
    [hook] = pd.subscriptions()
    assert hook["subscription_url"] == f"{live_server.url}/webhooks/in/pipedrive/{integration.pk}/"
    return integration, hook["subscription_url"]


def local(integration, remote_id) -> Contact:
    link = EntityLink.objects.get(integration=integration, entity="contact", remote_id=remote_id)
    return Contact.objects.get(pk=link.local_id)


pytestmark_live = pytest.mark.urls("tests.webhooks.urls_inbound")


@pytestmark_live
def test_a_redelivered_event_is_applied_once(pd, synced):
    integration, target = synced
    person = pd.live("persons").order_by("id").first()
    pd.touch("persons", person.remote_id, {"name": "Webhook Name"})

    sent = pd.fire_webhooks(
        None, target, [{"action": "change", "entity": "person", "id": int(person.remote_id)}]
    )
    again = requests.post(
        target, data=sent.body.encode(), headers=sent.headers, timeout=10
    )  # Pipedrive retries

    assert (sent.status_code, again.status_code) == (200, 200)
    deliveries_parse()  # what the worker does first
    assert InboundEvent.objects.filter(integration=integration).count() == 1
    assert sorted(
        InboundDelivery.objects.filter(integration=integration).values_list("duplicates", flat=True)
    ) == [0, 1]
    inbound_drain()
    assert local(integration, person.remote_id).first_name == "Webhook"


@pytestmark_live
def test_wrong_basic_credentials_are_refused_and_never_applied(pd, synced):
    integration, target = synced
    person = pd.live("persons").first()
    sent = pd.fire_webhooks(
        None,
        target,
        [
            {
                "action": "change",
                "entity": "person",
                "id": int(person.remote_id),
                "auth": ["pipedrive", "guess"],
            }
        ],
    )
    assert sent.status_code == 401
    assert not InboundEvent.objects.filter(integration=integration, status="pending").exists()


@pytestmark_live
def test_a_late_change_after_a_delete_leaves_the_record_deleted(pd, synced):
    integration, target = synced
    person = pd.live("persons").order_by("id").last()
    pd.touch("persons", person.remote_id, {"name": "Before Delete"})
    change = pd.fire_webhooks(
        None, target, [{"action": "change", "entity": "person", "id": int(person.remote_id)}]
    )
    requests.delete(
        f"{target.split('/webhooks/')[0]}/sandbox/pipedrive/api/v2/persons/{person.remote_id}",
        headers={"x-api-token": integration.config["api_token"]},
        timeout=10,
    )
    pd.fire_webhooks(None, target, [{"action": "delete", "entity": "person", "id": int(person.remote_id)}])
    late = json.loads(change.body)
    late["meta"]["timestamp"] -= 5  # the change, delivered again after the delete
    late["meta"]["id"] = "late-copy"
    assert (
        requests.post(target, data=json.dumps(late).encode(), headers=change.headers, timeout=10).status_code
        == 200
    )

    inbound_drain()

    assert local(integration, person.remote_id).deleted_at is not None


@pytestmark_live
def test_a_merge_tombstones_the_merged_person_and_updates_the_survivor(pd, synced):
    integration, target = synced
    loser, winner = pd.live("persons").order_by("id")[:2]
    pd.merge("persons", loser.remote_id, winner.remote_id)
    pd.fire_webhooks(
        None,
        target,
        [
            {
                "action": "delete",
                "entity": "person",
                "id": int(loser.remote_id),
                "merged_to_id": int(winner.remote_id),
            },
            {"action": "change", "entity": "person", "id": int(winner.remote_id)},
        ],
    )
    inbound_drain()
    assert local(integration, loser.remote_id).deleted_at is not None
    assert local(integration, winner.remote_id).deleted_at is None


@pytestmark_live
def test_deleting_the_integration_removes_its_webhook(pd, synced):
    integration, _ = synced
    integration_delete(integration=integration, actor="test")
    assert pd.subscriptions() == []


@pytestmark_live
def test_a_write_through_the_api_fires_the_subscription_by_itself(pd, synced):
    integration, target = synced
    state = pd.state()
    state.settings = {**state.settings, "deliver_on_change": True}
    state.save(update_fields=["settings"])
    person = pd.live("persons").order_by("id").first()

    resp = requests.patch(
        f"{integration.config['base_url']}/api/v2/persons/{person.remote_id}",
        json={"name": "Auto Fired"},
        headers={"x-api-token": integration.config["api_token"]},
        timeout=20,
    )

    assert resp.status_code == 200
    hook = SandboxWebhook.objects.filter(provider="pipedrive").latest("pk")
    body = json.loads(hook.body)
    assert hook.status_code == 200 and hook.target_url == target
    assert body["meta"]["action"] == "change" and body["previous"]["name"] != "Auto Fired"
    assert body["data"]["name"] == "Auto Fired"
    inbound_drain()
    assert local(integration, person.remote_id).first_name == "Auto"
