"""Field discovery: the per-integration cache, its refresh (daily, API, admin) and its errors, and
pulls asking the connector for the mapped fields.

Discovery itself is the connectors' (``discover_fields``); here the HubSpot connector's is replaced
by a fixed answer, so these tests pin the platform's side whatever a provider returns.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.urls import reverse
from django_celery_beat.models import PeriodicTask

from connectors.base import PermanentError, RemoteField, TransientError, WebhookEvent
from connectors.hubspot.connector import HubSpotConnector
from integrations.models import Integration
from sync.fields import (
    FIELDS_REFRESH_ALL_TASK,
    connector_wants_mapped,
    fields_for,
    fields_refresh,
    fields_refresh_all,
)
from sync.mapping import mappings_ensure_defaults, mappings_replace
from sync.models import DiscoveredFields, FieldMapping
from sync.runs import sync_run_execute, sync_run_request
from sync.single import RecordNotFound, record_sync_now
from sync.tasks import fields_refresh_all_task
from sync.webhook_apply import apply_webhook_events
from tests.factories import IntegrationFactory
from tests.integrations.test_api import api_for

HUBSPOT_CONFIG = {"auth_mode": "private_app", "access_token": "pat-t-1"}

CONTACT_FIELDS = [
    RemoteField("email", "Email", "email"),
    RemoteField("firstname", "First name"),
    RemoteField(
        "favourite_colour",
        "Favourite colour",
        "enumeration",
        options=(("red", "Red"), ("blue", "Blue")),
        custom=True,
    ),
    RemoteField("seats", "Seats", "number", custom=True),
]
COMPANY_FIELDS = [RemoteField("name", "Company name"), RemoteField("domain", "Company domain")]


def answer(per_entity: dict[str, list[RemoteField] | Exception]):
    """A discover_fields that answers (or raises) per entity, counting its calls."""
    calls: list[str] = []

    def discover_fields(self, entity: str) -> list[RemoteField]:
        calls.append(entity)
        found = per_entity.get(entity, [])
        if isinstance(found, Exception):
            raise found
        return list(found)

    discover_fields.calls = calls
    return discover_fields


@pytest.fixture
def integration(catalog, subaccount) -> Integration:
    return IntegrationFactory(subaccount=subaccount, status="active", config=HUBSPOT_CONFIG)


@pytest.fixture
def discovered(monkeypatch):
    fake = answer({"contact": CONTACT_FIELDS, "company": COMPANY_FIELDS})
    monkeypatch.setattr(HubSpotConnector, "discover_fields", fake)
    return fake


# --- the cache ------------------------------------------------------------------------------


def test_refresh_stores_every_supported_entitys_fields(integration, discovered):
    outcome = fields_refresh(integration)

    assert outcome.ok
    assert sorted(discovered.calls) == ["activity", "company", "contact", "deal"]
    assert {e.entity: e.count for e in outcome.entities} == {
        "contact": 4,
        "company": 2,
        "deal": 0,
        "activity": 0,
    }
    assert fields_for(integration, "contact") == CONTACT_FIELDS
    row = DiscoveredFields.objects.get(integration=integration, entity="contact")
    assert row.refreshed_at is not None and row.error == ""
    assert row.fields[2]["options"] == [["red", "Red"], ["blue", "Blue"]]


def test_refresh_of_some_entities_leaves_the_others_alone(integration, discovered):
    fields_refresh(integration, ["company"])
    assert discovered.calls == ["company"]
    assert fields_for(integration, "contact") == []
    assert fields_for(integration, "company") == COMPANY_FIELDS


def test_a_provider_error_is_stored_and_the_last_good_fields_kept(integration, monkeypatch, discovered):
    fields_refresh(integration)
    good_at = DiscoveredFields.objects.get(integration=integration, entity="contact").refreshed_at
    monkeypatch.setattr(
        HubSpotConnector,
        "discover_fields",
        answer({"contact": TransientError("HubSpot answered 503"), "company": COMPANY_FIELDS}),
    )

    outcome = fields_refresh(integration)

    assert not outcome.ok
    [failed] = outcome.failed
    assert (failed.entity, failed.code, failed.error) == (
        "contact",
        "provider_unavailable",
        "HubSpot answered 503",
    )
    row = DiscoveredFields.objects.get(integration=integration, entity="contact")
    assert row.error == "HubSpot answered 503" and row.error_at is not None
    assert row.refreshed_at == good_at
    assert fields_for(integration, "contact") == CONTACT_FIELDS
    # The next good refresh clears the error.
    monkeypatch.setattr(HubSpotConnector, "discover_fields", answer({"contact": CONTACT_FIELDS[:1]}))
    assert fields_refresh(integration).ok
    row.refresh_from_db()
    assert row.error == "" and row.error_at is None and len(row.fields) == 1


def test_the_daily_task_refreshes_every_active_integration_only(catalog, subaccount, monkeypatch):
    active = IntegrationFactory(subaccount=subaccount, status="active", config=HUBSPOT_CONFIG)
    failing = IntegrationFactory(subaccount=subaccount, status="active", config=HUBSPOT_CONFIG)
    paused = IntegrationFactory(subaccount=subaccount, status="paused", config=HUBSPOT_CONFIG)

    def discover_fields(self, entity):
        if self.integration_id == failing.pk:
            raise PermanentError("insufficient scopes")
        return CONTACT_FIELDS if entity == "contact" else []

    monkeypatch.setattr(HubSpotConnector, "discover_fields", discover_fields)

    assert fields_refresh_all_task() == {"refreshed": 1, "failed": 1}
    assert fields_for(active, "contact") == CONTACT_FIELDS
    assert DiscoveredFields.objects.get(integration=failing, entity="contact").error == "insufficient scopes"
    assert not DiscoveredFields.objects.filter(integration=paused).exists()


def test_a_crash_refreshing_one_integration_does_not_stop_the_others(catalog, subaccount, monkeypatch):
    first = IntegrationFactory(subaccount=subaccount, status="active", config=HUBSPOT_CONFIG)
    second = IntegrationFactory(subaccount=subaccount, status="active", config=HUBSPOT_CONFIG)

    def discover_fields(self, entity):
        if self.integration_id == first.pk:
            raise KeyError("properties")  # a bug, not a provider error
        return COMPANY_FIELDS

    monkeypatch.setattr(HubSpotConnector, "discover_fields", discover_fields)
    assert fields_refresh_all() == {"refreshed": 1, "failed": 1}
    assert fields_for(second, "company") == COMPANY_FIELDS


def test_the_daily_schedule_exists(db):
    task = PeriodicTask.objects.get(task=FIELDS_REFRESH_ALL_TASK)
    assert task.enabled
    assert (task.interval.every, task.interval.period) == (1, "days")


# --- the API --------------------------------------------------------------------------------


def test_api_lists_the_cached_fields_per_entity(integration, discovered):
    api = api_for(integration.subaccount)
    empty = api.get(f"/api/v1/integrations/{integration.pk}/fields/?entity=contact")
    assert empty.status_code == 200, empty.content
    assert empty.json() == {
        "entities": [{"entity": "contact", "refreshed_at": None, "error": "", "error_at": None, "fields": []}]
    }
    fields_refresh(integration)

    body = api.get(f"/api/v1/integrations/{integration.pk}/fields/?entity=contact").json()

    [contact] = body["entities"]
    assert contact["refreshed_at"] and contact["error"] == ""
    assert [f["name"] for f in contact["fields"]] == ["email", "firstname", "favourite_colour", "seats"]
    assert contact["fields"][2] == {
        "name": "favourite_colour",
        "label": "Favourite colour",
        "type": "enumeration",
        "options": [["red", "Red"], ["blue", "Blue"]],
        "custom": True,
        "read_only": False,
        "remote_type": "",
        "format": "",
    }
    everything = api.get(f"/api/v1/integrations/{integration.pk}/fields/").json()
    assert [e["entity"] for e in everything["entities"]] == ["contact", "company", "deal", "activity"]
    assert api.get(f"/api/v1/integrations/{integration.pk}/fields/?entity=").status_code == 200


def test_api_refuses_an_unknown_entity(integration, discovered):
    response = api_for(integration.subaccount).get(
        f"/api/v1/integrations/{integration.pk}/fields/?entity=lead"
    )
    assert response.status_code == 400
    assert "entity" in response.json()["error"]["details"]


def test_api_refresh_answers_with_the_fresh_fields(integration, discovered):
    api = api_for(integration.subaccount)
    response = api.post(f"/api/v1/integrations/{integration.pk}/fields/refresh/?entity=company")
    assert response.status_code == 200, response.content
    [company] = response.json()["entities"]
    assert company["entity"] == "company" and company["refreshed_at"]
    assert [f["label"] for f in company["fields"]] == ["Company name", "Company domain"]
    assert discovered.calls == ["company"]


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (TransientError("HubSpot answered 503"), 409, "provider_unavailable"),
        (PermanentError("This app lacks the crm.schemas.contacts.read scope"), 422, "provider_refused"),
    ],
)
def test_api_refresh_reports_a_provider_failure_as_an_error_body(
    integration, monkeypatch, error, status, code
):
    monkeypatch.setattr(HubSpotConnector, "discover_fields", answer({"contact": error}))
    api = api_for(integration.subaccount)

    response = api.post(f"/api/v1/integrations/{integration.pk}/fields/refresh/?entity=contact")

    assert response.status_code == status, response.content
    body = response.json()["error"]
    assert body["code"] == code
    assert str(error) in body["message"]
    assert body["details"] == {"contact": [str(error)]}
    listed = api.get(f"/api/v1/integrations/{integration.pk}/fields/?entity=contact").json()
    assert listed["entities"][0]["error"] == str(error)


def test_another_sub_accounts_integration_is_not_found(integration, other_subaccount, discovered):
    theirs = api_for(other_subaccount)
    assert theirs.get(f"/api/v1/integrations/{integration.pk}/fields/").status_code == 404
    assert theirs.post(f"/api/v1/integrations/{integration.pk}/fields/refresh/").status_code == 404
    assert discovered.calls == []
    assert not DiscoveredFields.objects.exists()


# --- the admin ------------------------------------------------------------------------------


@pytest.fixture
def admin_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(user)
    return client


def test_admin_page_shows_the_fields_and_refreshes_them(admin_client, integration, discovered):
    change = reverse("admin:integrations_integration_change", args=[integration.pk])
    page = admin_client.get(change)
    assert page.status_code == 200
    assert b"Not discovered yet." in page.content and b'id="refresh-fields"' in page.content

    response = admin_client.post(reverse("admin:sync_fields_refresh", args=[integration.pk]), follow=True)

    assert response.redirect_chain[-1][0] == change
    assert b"fields refreshed (contact: 4, company: 2, deal: 0, activity: 0)" in response.content
    assert b"Favourite colour" in response.content and b"favourite_colour" in response.content
    assert b"Red, Blue" in response.content


def test_admin_refresh_action_reports_a_failure(admin_client, integration, monkeypatch):
    monkeypatch.setattr(HubSpotConnector, "discover_fields", answer({"deal": TransientError("timed out")}))
    response = admin_client.post(
        reverse("admin:integrations_integration_changelist"),
        {"action": "action_refresh_fields", "_selected_action": [integration.pk]},
        follow=True,
    )
    assert b"fields could not be refreshed (deal: timed out)" in response.content
    assert DiscoveredFields.objects.get(integration=integration, entity="deal").error == "timed out"


# --- pulls read the mapped fields -------------------------------------------------------------


def test_connector_wants_the_inbound_mapped_fields_of_every_entity(integration):
    mappings_ensure_defaults(integration)
    mappings_replace(
        integration=integration,
        entity="contact",
        rows=[
            {"local": "email", "remote": "email"},
            {"local": "custom:colour", "remote": "favourite_colour", "direction": "from_remote"},
            {"local": "custom:seats", "remote": "seats", "direction": "to_remote"},
            {"local": "custom:tier", "remote": "tier", "direction": "none"},
        ],
    )
    connector = HubSpotConnector(HUBSPOT_CONFIG)

    connector_wants_mapped(connector, integration)

    assert connector.wanted_fields["contact"] == {"email", "favourite_colour"}
    assert connector.wanted_fields["company"] >= {"name", "domain"}  # the defaults
    assert "_kind" not in connector.wanted_fields["activity"]  # synthetic: the connector's own
    assert set(connector.wanted_fields) == {"contact", "company", "deal", "activity"}


@pytest.fixture
def spy(monkeypatch):
    """Records want_fields and the reads (pull, get) in the order the connector sees them."""
    events: list[tuple] = []
    want, pull, get = HubSpotConnector.want_fields, HubSpotConnector.pull, HubSpotConnector.get

    def want_fields(self, entity, names):
        names = set(names)
        events.append(("want", entity, frozenset(names)))
        return want(self, entity, names)

    def spy_pull(self, entity, *, cursor):
        events.append(("pull", entity, self.wanted_fields.get(entity)))
        return pull(self, entity, cursor=cursor)

    def spy_get(self, entity, remote_ids):
        events.append(("get", entity, self.wanted_fields.get(entity)))
        return get(self, entity, remote_ids)

    monkeypatch.setattr(HubSpotConnector, "want_fields", want_fields)
    monkeypatch.setattr(HubSpotConnector, "pull", spy_pull)
    monkeypatch.setattr(HubSpotConnector, "get", spy_get)
    return events


def _map_custom_colour(integration: Integration) -> None:
    mappings_replace(
        integration=integration,
        entity="contact",
        rows=[
            {"local": "email", "remote": "email", "transform": {"name": "lowercase"}},
            {"local": "first_name", "remote": "firstname"},
            {"local": "custom_fields.colour", "remote": "favourite_colour", "direction": "from_remote"},
        ],
    )


@pytest.mark.django_db(transaction=True)
def test_a_run_wants_the_mapped_fields_before_it_pulls(integration_for, spy):
    integration = integration_for("hubspot")
    _map_custom_colour(integration)
    run = sync_run_request(integration=integration, kind="full", entities=["contact"], enqueue=False)

    assert sync_run_execute(run_id=run.pk).status == "succeeded"

    pulls = [e for e in spy if e[0] == "pull"]
    assert pulls == [("pull", "contact", frozenset({"email", "firstname", "favourite_colour"}))]
    assert spy.index(("want", "contact", frozenset({"email", "firstname", "favourite_colour"}))) < spy.index(
        pulls[0]
    )


@pytest.mark.django_db(transaction=True)
def test_one_record_sync_and_webhooks_want_the_mapped_fields_before_they_fetch(
    integration_for, spy, subaccount
):
    integration = integration_for("hubspot")
    _map_custom_colour(integration)
    wanted = frozenset({"email", "firstname", "favourite_colour"})

    with pytest.raises(RecordNotFound):  # what it fetched does not matter here, only how
        record_sync_now(integration=integration, entity="contact", remote_id="404404", actor="test")
    assert ("get", "contact", wanted) in spy

    spy.clear()
    event = WebhookEvent(
        event_id="e1", entity="contact", remote_id="404405", action="updated", occurred_at=datetime.now(UTC)
    )
    apply_webhook_events(integration=integration, events=[event])
    assert ("get", "contact", wanted) in spy
    assert spy.index(("want", "contact", wanted)) < spy.index(("get", "contact", wanted))


def test_mapping_rows_outside_the_cache_still_count_for_wanted_fields(integration):
    """No discovery yet: what the mappings name is wanted as it is (the provider decides)."""
    FieldMapping.objects.create(
        integration=integration, entity="deal", local_field="custom:x", remote_field="x_c", direction="both"
    )
    connector = HubSpotConnector(HUBSPOT_CONFIG)
    connector_wants_mapped(connector, integration)
    assert connector.wanted_fields["deal"] == {"x_c"}
