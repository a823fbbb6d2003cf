"""Outbound messages' payloads encrypted at rest (ENCRYPT_PII), while every delivery attempt still
signs and sends the same bytes over real HTTP to a local receiver."""

import io
import json

from django.core.management import call_command
from django.db import connection
from standardwebhooks import Webhook

from integrations.pii import is_token
from sync.services import records_bulk_upsert
from tests.webhooks.outbound_receiver import Reply, receiver  # noqa: F401 -- a fixture
from webhooks.models import Delivery, Message
from webhooks.outbound import services as outbound
from webhooks.outbound.delivery import Outcome, delivery_send
from webhooks.outbound.events import event_emit
from webhooks.outbound.outbox import outbox_pump

ANA = {"email": "ana@example.com", "first_name": "Ana", "last_name": "Lovelace", "phone": "+14155552671"}
CLEAR = ("ana@example.com", "Lovelace", "4155552671")


def stored_payload(message: Message) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT payload FROM webhooks_message WHERE id = %s", [message.pk])
        return cursor.fetchone()[0]


def test_a_record_event_is_stored_encrypted_and_every_attempt_sends_the_same_signed_bytes(
    subaccount,
    receiver,  # noqa: F811 -- the receiver fixture
):
    endpoint = outbound.endpoint_create(subaccount=subaccount, url=receiver.url())
    records_bulk_upsert(entity="contact", subaccount=subaccount, records=[ANA], origin="test")
    outbox_pump()  # the Change becomes a contact.created message, built with bulk_create
    message = Message.objects.get(subaccount=subaccount, event_type="contact.created")
    stored = stored_payload(message)
    assert is_token(stored)
    assert all(value not in stored for value in CLEAR)
    assert message.payload["data"]["record"]["email"] == "ana@example.com"

    receiver.reply(Reply(503))
    delivery = Delivery.objects.get(message=message, endpoint=endpoint)
    assert delivery_send(delivery_id=delivery.pk) == Outcome.RETRYING
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=message.created_at)
    assert delivery_send(delivery_id=delivery.pk) == Outcome.SUCCEEDED

    first, second = receiver.requests
    assert first.body == second.body  # read back from the token: the same bytes each time
    assert first.body == json.dumps(message.payload, separators=(",", ":"), ensure_ascii=False).encode()
    assert Webhook(endpoint.secret).verify(second.body, second.headers) == message.payload
    assert json.loads(first.body)["data"]["record"]["last_name"] == "Lovelace"  # the endpoint gets it


def test_with_encrypt_pii_off_the_payload_is_clear_json_and_reencrypt_encrypts_it(
    subaccount,
    receiver,  # noqa: F811 -- the receiver fixture
    settings,
):
    endpoint = outbound.endpoint_create(subaccount=subaccount, url=receiver.url())
    settings.ENCRYPT_PII = False
    message = event_emit(subaccount=subaccount, event_type="contact.created", data={"record": ANA})
    assert json.loads(stored_payload(message))["data"]["record"] == ANA

    settings.ENCRYPT_PII = True  # switched on: the clear row is still delivered, reencrypt encrypts it
    delivery = Delivery.objects.get(message=message, endpoint=endpoint)
    assert delivery_send(delivery_id=delivery.pk) == Outcome.SUCCEEDED
    call_command("reencrypt", verbosity=0)
    assert is_token(stored_payload(message))
    assert Message.objects.get(pk=message.pk).payload == message.payload

    out = io.StringIO()
    call_command("dumpdata", "webhooks.message", stdout=out)
    assert "gAAAAA" in out.getvalue()
    assert all(value not in out.getvalue() for value in CLEAR)
