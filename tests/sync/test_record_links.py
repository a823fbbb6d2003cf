"""Each record shows its links: in the records API (list and detail, ``?linked_to=``) and its admin page."""

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from integrations.models import ApiKey
from sync.models import Contact, EntityLink, SyncRecordError, SyncRun
from tests.factories import IntegrationFactory, IntegrationTemplateFactory
from tests.sync.factories import ContactFactory, DealFactory


def api_for(subaccount) -> APIClient:
    key = ApiKey.objects.create_key(name="test", subaccount=subaccount)[1]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


@pytest.fixture
def integration(subaccount):
    return IntegrationFactory(subaccount=subaccount, name="Acme HubSpot")


def link(integration, record, remote_id: str, entity: str = "contact") -> EntityLink:
    return EntityLink.objects.create(
        integration=integration, entity=entity, local_id=record.pk, remote_id=remote_id
    )


def record_error(integration, *, message: str, local_id=None, remote_id="", resolved=False, entity="contact"):
    run = SyncRun.objects.create(subaccount=integration.subaccount, integration=integration, kind="delta")
    return SyncRecordError.objects.create(
        run=run,
        integration=integration,
        entity=entity,
        direction="push" if local_id else "pull",
        local_id=local_id,
        remote_id=remote_id,
        message=message,
        resolved=resolved,
    )


def test_detail_shows_each_link_with_the_newest_unresolved_error(subaccount, integration):
    other = IntegrationFactory(
        subaccount=subaccount, name="Acme SF", template=IntegrationTemplateFactory(key="salesforce")
    )
    contact = ContactFactory(subaccount=subaccount)
    link(integration, contact, "hs-1")
    link(other, contact, "sf-1")
    record_error(integration, message="old pull failure", remote_id="hs-1")
    record_error(integration, message="resolved push failure", local_id=contact.pk, resolved=True)
    record_error(integration, message="refused: email invalid", local_id=contact.pk)
    record_error(other, message="for another record", remote_id="sf-2")

    links = api_for(subaccount).get(f"/api/v1/contacts/{contact.pk}/").json()["links"]

    assert [(row["integration"], row["provider"], row["remote_id"], row["last_error"]) for row in links] == [
        ({"id": integration.pk, "name": "Acme HubSpot"}, "hubspot", "hs-1", "refused: email invalid"),
        ({"id": other.pk, "name": "Acme SF"}, "salesforce", "sf-1", ""),
    ]
    assert all(row["last_synced_at"] for row in links)


def test_an_unlinked_record_has_no_links(subaccount):
    deal = DealFactory(subaccount=subaccount)
    assert api_for(subaccount).get(f"/api/v1/deals/{deal.pk}/").json()["links"] == []


def test_a_list_page_costs_the_same_queries_whatever_its_size(subaccount, integration):
    for n in range(12):
        contact = ContactFactory(subaccount=subaccount, email=f"c{n}@example.com")
        link(integration, contact, f"hs-{n}")
        record_error(integration, message=f"failure {n}", local_id=contact.pk)
    api = api_for(subaccount)

    def queries(size: int) -> int:
        with CaptureQueriesContext(connection) as captured:
            body = api.get(f"/api/v1/contacts/?page_size={size}").json()
        assert len(body["results"]) == size and all(row["links"] for row in body["results"])
        return len(captured.captured_queries)

    assert queries(2) == queries(12)


def test_linked_to_lists_only_records_linked_to_that_integration(subaccount, other_subaccount, integration):
    linked = ContactFactory(subaccount=subaccount, email="in@example.com")
    ContactFactory(subaccount=subaccount, email="out@example.com")
    link(integration, linked, "hs-9")
    theirs = IntegrationFactory(subaccount=other_subaccount)
    api = api_for(subaccount)

    ids = [row["id"] for row in api.get(f"/api/v1/contacts/?linked_to={integration.pk}").json()["results"]]
    refused = api.get(f"/api/v1/contacts/?linked_to={theirs.pk}")

    assert ids == [linked.pk]
    assert refused.status_code == 400 and "linked_to" in refused.json()["error"]["details"]
    assert api.get(f"/api/v1/companies/?linked_to={integration.pk}").json()["results"] == []


def test_the_schema_describes_links_and_the_linked_to_filter(subaccount):
    schema = api_for(subaccount).get("/api/schema/?format=json").json()
    contact = schema["components"]["schemas"]["Contact"]["properties"]["links"]
    assert contact["readOnly"] is True and contact["items"]["$ref"].endswith("/RecordLink")
    link_schema = schema["components"]["schemas"]["RecordLink"]
    assert set(link_schema["properties"]) == {
        "integration",
        "provider",
        "remote_id",
        "matched_by",
        "last_synced_at",
        "last_error",
    }
    parameters = schema["paths"]["/api/v1/deals/"]["get"]["parameters"]
    linked_to = next(p for p in parameters if p["name"] == "linked_to")
    assert (linked_to["in"], linked_to["schema"]["type"]) == ("query", "integer")


def test_the_admin_record_page_shows_its_links(client, subaccount, integration):
    user = get_user_model().objects.create_superuser("op", "op@example.com", "pw-123456789")
    client.force_login(user)
    contact = ContactFactory(subaccount=subaccount)
    link(integration, contact, "hs-77")
    record_error(integration, message="provider said no", remote_id="hs-77")

    page = client.get(f"/admin/sync/contact/{contact.pk}/change/").content.decode()

    assert "Acme HubSpot" in page and "hs-77" in page and "provider said no" in page
    assert Contact.objects.filter(pk=contact.pk).exists()


def test_a_filter_given_twice_is_refused(subaccount, integration):
    response = api_for(subaccount).get(f"/api/v1/deals/?pipeline=a&pipeline=b&linked_to={integration.pk}")
    assert response.status_code == 400 and "pipeline" in response.json()["error"]["details"]
