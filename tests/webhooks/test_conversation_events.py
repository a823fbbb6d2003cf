"""Conversations reach outbound endpoints like every record: ``conversation.created|updated|deleted``,
signed and delivered over real HTTP, with the record as the API shows it."""

from standardwebhooks import Webhook

from sync.services import record_create, record_delete, record_update
from tests.sync.factories import ContactFactory
from tests.webhooks.outbound_receiver import receiver  # noqa: F401 -- a fixture
from webhooks.models import Delivery, Message
from webhooks.outbound import services as outbound
from webhooks.outbound.delivery import Outcome, delivery_send
from webhooks.outbound.events import filter_errors
from webhooks.outbound.outbox import outbox_pump


def test_conversation_events_are_in_the_catalogue():
    assert filter_errors(["conversation.*", "conversation.created", "conversation.deleted"]) == []


def test_a_new_conversation_is_delivered_signed_as_conversation_created(
    subaccount,
    receiver,  # noqa: F811 -- the receiver fixture
    django_capture_on_commit_callbacks,
):
    endpoint = outbound.endpoint_create(
        subaccount=subaccount, url=receiver.url(), event_types=["conversation.*"]
    )
    ana = ContactFactory(subaccount=subaccount)
    chat = record_create(
        subaccount=subaccount,
        entity="conversation",
        fields={"subject": "Order 1042", "status": "open", "channel": "whatsapp", "contact_id": ana.pk},
        origin="api_key:test",
    )
    record_update(record=chat, fields={"status": "closed"}, origin="integration:3")
    record_delete(record=chat, origin="api_key:test")
    record_create(
        subaccount=subaccount, entity="contact", fields={"email": "x@example.com"}, origin="api_key:test"
    )

    with django_capture_on_commit_callbacks():
        outbox_pump()

    messages = list(Message.objects.order_by("id"))  # the contact is not subscribed
    assert [m.event_type for m in messages] == [
        "conversation.created",
        "conversation.updated",
        "conversation.deleted",
    ]
    assert {m.ordering_key for m in messages} == {f"conversation:{chat.pk}"}
    delivery = Delivery.objects.get(message=messages[0], endpoint=endpoint)
    assert delivery_send(delivery_id=delivery.pk) == Outcome.SUCCEEDED

    [request] = receiver.requests
    payload = Webhook(endpoint.secret).verify(request.body, request.headers)
    assert payload["type"] == "conversation.created"
    data = payload["data"]
    assert (data["entity"], data["id"], data["op"], data["origin"]) == (
        "conversation",
        chat.pk,
        "create",
        "api_key:test",
    )
    record = data["record"]
    assert (record["subject"], record["channel"], record["contact_id"]) == ("Order 1042", "whatsapp", ana.pk)
    assert messages[1].payload["data"]["changed_fields"] == ["status"]
