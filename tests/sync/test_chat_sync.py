"""À La Carte Chat and the platform, end to end over real HTTP (the emulator on the live server, its
signed webhooks to the platform's own receiver, the inbound queue drained in the test): a contact
linked to the customer matched by a differently written phone, a first full run of 1,001 contacts
in two sync calls with the one that has neither e-mail nor phone failing alone and listed in the
run, customer webhooks creating and updating contacts, conversation events keeping status and
assignee, and a sent message stored once though its ``message.sent`` webhook and the poll bring
it again."""

from __future__ import annotations

import pytest
import requests
from django.core.cache import cache

from connectors.alacarte.emulator import emulator as alacarte_emulator
from connectors.sandbox.delivery import deliveries_wait
from integrations.models import Integration
from sync import messaging
from sync.models import Activity, Contact, Conversation, EntityLink, SyncRecordError, SyncRun
from sync.polling import poll
from sync.runs import sync_run_execute, sync_run_request
from sync.services import record_create
from tests.connectors.alacarte.conftest import wait_for_deliveries
from tests.sandbox import emulator_control
from webhooks.inbound.processing import inbound_drain

pytestmark = pytest.mark.django_db(transaction=True)
API = "api_key:test"


@pytest.fixture
def chat(integration_for) -> Integration:
    alacarte_emulator.reset()
    cache.clear()
    made = integration_for("alacarte")
    yield made
    deliveries_wait()
    alacarte_emulator.reset()


@pytest.fixture
def hooked(chat, live_server) -> Integration:
    """``chat`` with the emulator's webhooks pointed at the platform's receiver for it, signed
    with the integration's secret, retries fast."""
    base = chat.config["base_url"]
    emulator_control(base, "settings", {"webhook_delay_scale": 0.01})
    target = f"{live_server.url}/webhooks/in/alacarte/{chat.pk}/"
    emulator_control(base, "webhooks", {"target_url": target, "api_key": chat.config["api_key"]})
    return chat


def _wire(integration: Integration, path: str, body: dict) -> dict:
    resp = requests.post(
        f"{integration.config['base_url']}/{path}",
        json=body,
        headers={"x-api-key": integration.config["api_key"]},
        timeout=30,
    )
    assert resp.status_code == 200, resp.text
    return resp.json()


def _delivered(integration: Integration, count: int) -> None:
    """Wait until the emulator has delivered ``count`` webhooks, all accepted; apply them."""
    done = wait_for_deliveries(integration.config["base_url"], count)
    assert {d["outcome"] for d in done} == {"delivered"}, done
    inbound_drain()


class Wire:
    """The paths of every request the connectors send (requests.Session.send wrapped)."""

    def __init__(self, monkeypatch):
        self.paths: list[str] = []
        original = requests.Session.send

        def send(session, request, **kwargs):
            self.paths.append(request.path_url.split("?")[0].rsplit("/", 1)[-1])
            return original(session, request, **kwargs)

        monkeypatch.setattr(requests.Session, "send", send)


def test_a_contact_whose_phone_is_written_differently_is_linked_to_the_customer_matched_by_phone(
    chat, subaccount
):
    details = _wire(
        chat, "api-customers-sync", {"customers": [{"name": "Cat Byrne", "phone": "087 123 4567"}]}
    )
    [made] = details["results"]["details"]
    cat = record_create(
        subaccount=subaccount,
        entity="contact",
        fields={
            "first_name": "Cat",
            "last_name": "Byrne",
            "email": "cat@new.example",
            "phone": "+353 87-123 4567",
        },
        origin=API,
    )
    # Our id is unknown there and so is the e-mail: the normalised phone is what matches.
    assert messaging.customer_id(chat, cat, create=True, actor="test") == made["customer_id"]
    link = EntityLink.objects.get(integration=chat, entity="contact", local_id=cat.pk)
    assert link.matched_by == "phone"
    [customer] = [c for c in alacarte_emulator.records("customers")]
    assert customer.remote_id == made["customer_id"]
    assert (customer.data["external_id"], customer.data["email"], customer.data["phone"]) == (
        str(cat.pk),
        "cat@new.example",
        "+353871234567",
    )


def test_a_first_run_of_1001_contacts_goes_in_two_sync_calls_and_one_without_email_or_phone_fails_alone(
    chat, subaccount, monkeypatch
):
    emulator_control(chat.config["base_url"], "faults", {"rate_limit": False})
    Contact.objects.bulk_create(
        [
            Contact(
                subaccount=subaccount, first_name="Guest", last_name=f"{i:04d}", email=f"guest{i}@example.com"
            )
            for i in range(1000)
        ]
    )
    nobody = Contact.objects.create(subaccount=subaccount, first_name="No", last_name="Way")
    wire = Wire(monkeypatch)
    run = sync_run_execute(run_id=sync_run_request(integration=chat, kind="full", enqueue=False).pk)
    assert wire.paths.count("api-customers-sync") == 2
    assert run.status == SyncRun.Status.PARTIAL and (run.pushed, run.failed) == (1000, 1)
    [error] = SyncRecordError.objects.filter(run=run)
    assert (error.entity, error.direction, error.local_id) == ("contact", "push", nobody.pk)
    assert "email" in error.message and "phone" in error.message
    linked = EntityLink.objects.filter(integration=chat, entity="contact")
    assert linked.count() == 1000 and not linked.filter(local_id=nobody.pk).exists()
    assert alacarte_emulator.records("customers").count() == 1000


def test_customer_webhooks_create_and_update_contacts_and_the_poll_adds_nothing(hooked, subaccount):
    made = emulator_control(
        hooked.config["base_url"],
        "inbound",
        {"email": "walkin@example.com", "name": "Walk In", "content": "Hello there", "wait": True},
    )
    _delivered(hooked, 3)  # customer.created, conversation.created, message.received
    contact = Contact.objects.get(subaccount=subaccount, email="walkin@example.com")
    link = EntityLink.objects.get(integration=hooked, entity="contact", local_id=contact.pk)
    assert link.remote_id == made["customer"]["id"]
    [message] = Activity.objects.filter(subaccount=subaccount, kind="message")
    assert (message.contact_id, message.direction, message.body) == (contact.pk, "inbound", "Hello there")
    assert Conversation.objects.get(subaccount=subaccount).contact_id == contact.pk

    _wire(
        hooked,
        "api-customers-sync",
        {"customers": [{"email": "walkin@example.com", "name": "Walker Inn", "first_name": "Walker"}]},
    )
    _delivered(hooked, 4)  # customer.updated
    contact.refresh_from_db()
    assert contact.first_name == "Walker"
    assert Contact.objects.filter(subaccount=subaccount).count() == 1

    poll(hooked, ["activity"])  # the catch-up poll reads the same message: nothing new
    assert Activity.objects.filter(subaccount=subaccount, kind="message").count() == 1


def test_conversation_events_keep_the_conversations_status_and_assignee(hooked, subaccount):
    base = hooked.config["base_url"]
    made = emulator_control(
        base, "inbound", {"email": "ana@example.com", "name": "Ana", "content": "Hi", "wait": True}
    )
    _delivered(hooked, 3)
    conversation = Conversation.objects.get(subaccount=subaccount)
    assert conversation.status == "open"
    conversation_id = made["conversation"]["id"]
    emulator_control(base, "assign", {"conversation_id": conversation_id, "assignee": "agent@shop.example"})
    emulator_control(base, "status", {"conversation_id": conversation_id, "status": "closed"})
    _delivered(hooked, 5)  # conversation.assigned, conversation.status_changed
    conversation.refresh_from_db()
    assert (conversation.assignee, conversation.status) == ("agent@shop.example", "closed")
    assert Conversation.objects.filter(subaccount=subaccount).count() == 1


def test_a_sent_message_is_one_outbound_activity_though_its_webhook_and_the_poll_bring_it_again(
    hooked, subaccount
):
    ana = record_create(
        subaccount=subaccount,
        entity="contact",
        fields={"first_name": "Ana", "last_name": "Lee", "email": "ana@acme.com"},
        origin=API,
    )
    sent = messaging.message_send(
        contact=ana, channel="whatsapp", content="Your order is ready", actor="test"
    )
    _delivered(hooked, 3)  # customer.created (our push), conversation.created, message.sent
    poll(hooked, ["activity"])
    [stored] = Activity.objects.filter(subaccount=subaccount, kind="message")
    assert stored.pk == sent.pk and stored.direction == "outbound" and stored.contact_id == ana.pk
    assert EntityLink.objects.filter(integration=hooked, entity="activity").count() == 1
