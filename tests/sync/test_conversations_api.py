"""Conversations as a first-class record: the records API (CRUD, bulk, filters, an activity's
``conversation_id``, tenancy), the mappings API, the schema, and the admin pages."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.urls import include, path

from integrations.models import Membership
from sync.admin_engine import FieldMappingForm
from sync.api.filters import FILTERSETS
from sync.api.serializers import API_RECORD_SERIALIZERS, INPUT_SERIALIZERS, RECORD_SERIALIZERS
from sync.api.urls import RECORD_ROUTES
from sync.api.views import RECORD_VIEWSETS
from sync.entities import ENTITIES
from sync.models import Activity, Change, Conversation, FieldMapping
from tests.factories import IntegrationFactory
from tests.sync.factories import ActivityFactory, ContactFactory, ConversationFactory
from tests.sync.test_records_api import api_for
from webhooks.outbound.events import EVENT_TYPES

urlpatterns = [path("api/v1/", include("sync.api.urls")), path("", include("config.urls"))]
handler404 = "integrations.api.errors.handler404"
pytestmark = pytest.mark.urls(__name__)


@pytest.fixture
def api(subaccount):
    return api_for(subaccount)[0]


def ids(api, query: str, route: str = "conversations") -> list[int]:
    response = api.get(f"/api/v1/{route}/?{query}")
    assert response.status_code == 200, response.content
    return sorted(row["id"] for row in response.json()["results"])


def test_every_registered_entity_has_routes_filters_serializers_and_events():
    for entity in ENTITIES:
        assert {entity} <= set(RECORD_SERIALIZERS) & set(API_RECORD_SERIALIZERS) & set(INPUT_SERIALIZERS)
        assert entity in FILTERSETS and entity in RECORD_VIEWSETS and entity in RECORD_ROUTES
        assert {f"{entity}.created", f"{entity}.updated", f"{entity}.deleted"} <= set(EVENT_TYPES)


# --- CRUD ---------------------------------------------------------------------------------------------


def test_conversation_crud_normalises_versions_logs_and_soft_deletes(subaccount):
    api, origin = api_for(subaccount)
    ana = ContactFactory(subaccount=subaccount)
    created = api.post(
        "/api/v1/conversations/",
        {
            "subject": "Order 1042",
            "status": "open",
            "channel": "whatsapp",
            "priority": "high",
            "assignee": "sam@acme.test",
            "contact_id": ana.pk,
            "opened_at": "2026-11-30T09:00:00+01:00",
            "custom_fields": {"queue": "billing"},
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    pk = body["id"]
    assert (body["contact_id"], body["channel"], body["version"], body["links"]) == (
        ana.pk,
        "whatsapp",
        1,
        [],
    )
    assert body["opened_at"].startswith("2026-11-30T08:00:00")  # stored in UTC
    assert api.get(f"/api/v1/conversations/{pk}/").json()["subject"] == "Order 1042"

    patched = api.patch(
        f"/api/v1/conversations/{pk}/",
        {"status": "closed", "closed_at": "2026-12-01T10:00:00Z", "last_message_at": "2026-12-01T09:59:00Z"},
        format="json",
    )
    assert patched.status_code == 200, patched.content
    assert (patched.json()["status"], patched.json()["version"]) == ("closed", 2)

    assert api.delete(f"/api/v1/conversations/{pk}/").status_code == 204
    stored = Conversation.objects.get(pk=pk)
    assert stored.is_deleted and stored.version == 3 and stored.contact_id == ana.pk
    assert api.get(f"/api/v1/conversations/{pk}/").status_code == 404
    assert ids(api, "is_deleted=true") == [pk]
    log = list(Change.objects.filter(entity="conversation", record_id=pk).values_list("op", "origin"))
    assert log == [("create", origin), ("update", origin), ("delete", origin)]


def test_an_unknown_field_or_a_bad_date_is_a_400(api):
    response = api.post("/api/v1/conversations/", {"subject": "x", "mood": "grumpy"}, format="json")
    assert response.status_code == 400 and response.json()["error"]["details"]["mood"]
    response = api.post("/api/v1/conversations/", {"opened_at": "yesterday"}, format="json")
    assert response.status_code == 400 and "opened_at" in response.json()["error"]["details"]
    assert not Conversation.objects.exists()


def test_bulk_upserts_conversations_by_external_id(subaccount, api):
    ana = ContactFactory(subaccount=subaccount)
    first = api.post(
        "/api/v1/conversations/bulk/",
        {"records": [{"external_id": "chat-1", "subject": "Hi", "contact_id": ana.pk}, {"status": 5}]},
        format="json",
    ).json()
    assert [r["status"] for r in first["results"]] == ["created", "created"]
    again = api.post(
        "/api/v1/conversations/bulk/",
        {"records": [{"external_id": "chat-1", "status": "pending"}, {"contact_id": "x"}]},
        format="json",
    ).json()
    assert [r["status"] for r in again["results"]] == ["updated", "error"]
    assert again["results"][0]["id"] == first["results"][0]["id"]
    stored = Conversation.objects.get(external_id="chat-1")
    assert (stored.status, stored.subject, stored.contact_id) == ("pending", "Hi", ana.pk)


# --- filters, and messages pointing at their conversation --------------------------------------------


def test_conversations_filter_by_status_channel_contact_assignee_and_update_time(subaccount, api):
    ana, bob = ContactFactory(subaccount=subaccount), ContactFactory(subaccount=subaccount)
    open_chat = ConversationFactory(subaccount=subaccount, contact=ana, status="open", channel="whatsapp")
    closed = ConversationFactory(
        subaccount=subaccount, contact=bob, status="closed", channel="email", assignee="sam@acme.test"
    )
    ConversationFactory(subaccount=subaccount, status="open", channel="sms", is_deleted=True)

    assert ids(api, "status=open") == [open_chat.pk]
    assert ids(api, "channel=email") == [closed.pk]
    assert ids(api, f"contact_id={ana.pk}") == [open_chat.pk]
    assert ids(api, "assignee=sam@acme.test") == [closed.pk]
    assert ids(api, "updated_since=2000-01-01T00:00:00Z") == [open_chat.pk, closed.pk]
    assert ids(api, "updated_since=2999-01-01T00:00:00Z") == []
    for bad in ("contact_id=x", "contact_id=0", "updated_since=soon", "status=open&status=closed"):
        assert api.get(f"/api/v1/conversations/?{bad}").status_code == 400, bad


def test_an_activity_carries_its_conversation_and_activities_filter_by_it(subaccount, api):
    chat = ConversationFactory(subaccount=subaccount)
    other_chat = ConversationFactory(subaccount=subaccount)
    created = api.post(
        "/api/v1/activities/",
        {
            "kind": "note",
            "channel": "whatsapp",
            "body": "Hello!",
            "direction": "inbound",
            "conversation_id": chat.pk,
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    message = created.json()
    assert message["conversation_id"] == chat.pk
    ActivityFactory(subaccount=subaccount, conversation=other_chat)
    ActivityFactory(subaccount=subaccount)

    assert ids(api, f"conversation_id={chat.pk}", route="activities") == [message["id"]]
    moved = api.patch(f"/api/v1/activities/{message['id']}/", {"conversation_id": None}, format="json")
    assert moved.status_code == 200 and moved.json()["conversation_id"] is None
    assert Activity.objects.get(pk=message["id"]).conversation_id is None


# --- tenancy ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_another_subaccounts_conversation_is_a_404(subaccount, other_subaccount, api, method):
    theirs = ConversationFactory(subaccount=other_subaccount)
    response = getattr(api, method)(
        f"/api/v1/conversations/{theirs.pk}/", {"status": "closed"}, format="json"
    )
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    fresh = Conversation.objects.get(pk=theirs.pk)
    assert (fresh.version, fresh.is_deleted, fresh.status) == (1, False, "open")
    assert ids(api, "") == []


def test_another_subaccounts_contact_or_conversation_is_refused_as_a_relation(
    subaccount, other_subaccount, api
):
    their_contact = ContactFactory(subaccount=other_subaccount)
    their_chat = ConversationFactory(subaccount=other_subaccount)
    response = api.post(
        "/api/v1/conversations/", {"subject": "x", "contact_id": their_contact.pk}, format="json"
    )
    assert response.status_code == 400 and "contact_id" in response.json()["error"]["details"]
    mine = ConversationFactory(subaccount=subaccount)
    response = api.patch(f"/api/v1/conversations/{mine.pk}/", {"contact_id": their_contact.pk}, format="json")
    assert response.status_code == 400 and "contact_id" in response.json()["error"]["details"]
    response = api.post(
        "/api/v1/activities/", {"kind": "note", "conversation_id": their_chat.pk}, format="json"
    )
    assert response.status_code == 400 and "conversation_id" in response.json()["error"]["details"]
    assert not Conversation.objects.filter(subaccount=subaccount).exclude(pk=mine.pk).exists()
    assert Conversation.objects.get(pk=mine.pk).contact_id is None


# --- schema and mappings ------------------------------------------------------------------------------


def test_the_schema_documents_conversations_and_an_activitys_conversation(db, client):
    schema = client.get("/api/schema/?format=json").json()
    for route in ["/api/v1/conversations/", "/api/v1/conversations/{id}/", "/api/v1/conversations/bulk/"]:
        assert route in schema["paths"], route
    listing = schema["paths"]["/api/v1/conversations/"]["get"]
    assert {"status", "channel", "contact_id", "updated_since", "linked_to"} <= {
        p["name"] for p in listing["parameters"]
    }
    components = schema["components"]["schemas"]
    assert set(components["ConversationInputRequest"]["properties"]) == set(ENTITIES["conversation"].fields)
    assert components["Conversation"]["properties"]["contact_id"]["type"] == "integer"
    assert components["Activity"]["properties"]["conversation_id"]["type"] == "integer"
    assert "conversation_id" in components["ActivityInputRequest"]["properties"]
    assert "conversation" in components["Mappings"]["properties"]


def test_conversation_mappings_are_edited_like_the_others(catalog, subaccount, api):
    integration = IntegrationFactory(
        subaccount=subaccount, config={"auth_mode": "private_app", "access_token": "pat-t-1"}
    )
    rows = [{"local": "subject", "remote": "subject"}, {"local": "status", "remote": "hs_status"}]
    response = api.put(
        f"/api/v1/integrations/{integration.pk}/mappings/", {"conversation": rows}, format="json"
    )
    assert response.status_code == 200, response.content
    assert [(r["local"], r["remote"]) for r in response.json()["conversation"]] == [
        ("subject", "subject"),
        ("status", "hs_status"),
    ]
    bad = api.put(
        f"/api/v1/integrations/{integration.pk}/mappings/",
        {"conversation": [{"local": "mood", "remote": "x"}], "planet": []},
        format="json",
    )
    assert bad.status_code == 400 and bad.json()["error"]["details"] == {"planet": ["unknown entity"]}


# --- admin --------------------------------------------------------------------------------------------


def test_admin_lists_only_the_staff_users_conversations(subaccount, other_subaccount, client):
    user = get_user_model().objects.create_user("bob", password="pw", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=["view_conversation"]))
    Membership.objects.create(user=user, subaccount=subaccount)
    ana = ContactFactory(subaccount=subaccount, first_name="Ana", last_name="Lee")
    ConversationFactory(
        subaccount=subaccount, subject="Where is my order", contact=ana, assignee="sam@acme.test"
    )
    ConversationFactory(subaccount=other_subaccount, subject="Their secret chat")
    client.force_login(user)

    page = client.get("/admin/sync/conversation/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Where is my order" in text and "Ana Lee" in text and "sam@acme.test" in text
    assert "Their secret chat" not in text and "Globex" not in text
    assert (
        client.get("/admin/sync/conversation/?status__exact=open&channel__exact=whatsapp").status_code == 200
    )


def test_admin_conversation_page_lists_its_messages_and_the_contact_page_its_conversations(
    subaccount, admin_client
):
    ana = ContactFactory(subaccount=subaccount, first_name="Ana", last_name="Lee")
    chat = ConversationFactory(subaccount=subaccount, subject="Where is my order", contact=ana)
    hello = ActivityFactory(
        subaccount=subaccount, conversation=chat, subject="", body="Hi, my order 1042 is late"
    )
    ActivityFactory(subaccount=subaccount, conversation=chat, is_deleted=True, body="A deleted message")
    ActivityFactory(subaccount=subaccount, subject="Unrelated note")

    page = admin_client.get(f"/admin/sync/conversation/{chat.pk}/change/")
    assert page.status_code == 200
    messages = page.content.decode().split("<label>Messages:</label>")[1]
    assert "Hi, my order 1042 is late" in messages
    assert "A deleted message" not in messages and "Unrelated note" not in messages
    assert f"/admin/sync/activity/?conversation__id__exact={chat.pk}" in messages
    assert f"/admin/sync/contact/{ana.pk}/change/" in page.content.decode()  # related: its contact

    contact_page = admin_client.get(f"/admin/sync/contact/{ana.pk}/change/").content.decode()
    conversations = contact_page.split("<label>Conversations:</label>")[1]
    assert (
        f"/admin/sync/conversation/{chat.pk}/change/" in conversations
        and "Where is my order" in conversations
    )
    assert f"/admin/sync/conversation/?contact__id__exact={ana.pk}" in conversations

    listed = admin_client.get(f"/admin/sync/activity/?conversation__id__exact={chat.pk}").content.decode()
    assert f"Note {hello.pk}" in listed and "Unrelated note" not in listed
    by_contact = admin_client.get(f"/admin/sync/conversation/?contact__id__exact={ana.pk}")
    assert by_contact.status_code == 200 and "Where is my order" in by_contact.content.decode()


def test_the_integration_pages_mapping_form_takes_a_conversation_row(catalog, subaccount):
    integration = IntegrationFactory(subaccount=subaccount)
    row = {"entity": "conversation", "local_field": "subject", "remote_field": "subject", "direction": "both"}
    form = FieldMappingForm(data={**row, "position": 0}, instance=FieldMapping(integration=integration))
    assert form.is_valid(), form.errors
    assert form.save().entity == "conversation"
    unknown = FieldMappingForm(
        data={**row, "local_field": "mood", "position": 0}, instance=FieldMapping(integration=integration)
    )
    assert not unknown.is_valid()
    assert "unknown local field 'mood'" in unknown.errors["__all__"][0]
