"""Server fixes the schemathesis run found: each was a 500, or a cross-tenant answer."""

import pytest

from sync.models import SyncRun
from tests.factories import IntegrationFactory, SubAccountFactory
from tests.integrations.test_api import api_for


@pytest.fixture
def integration(catalog, subaccount):
    return IntegrationFactory(
        subaccount=subaccount, status="active", config={"auth_mode": "private_app", "access_token": "pat-t-1"}
    )


@pytest.fixture
def api(subaccount):
    return api_for(subaccount)


def test_a_mapping_entity_given_an_object_instead_of_rows_is_a_400(api, integration):
    row = {"local": "email", "remote": "email"}
    response = api.put(f"/api/v1/integrations/{integration.pk}/mappings/", {"contact": row}, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["details"] == {"contact": {"0": ["Expected a list of mapping rows."]}}


def test_an_amount_that_rounds_past_twelve_digits_is_a_400(api):
    response = api.post("/api/v1/deals/", {"name": "Big", "amount": 999999999999.999}, format="json")
    assert response.status_code == 400, response.content
    assert "amount" in response.json()["error"]["details"]


def test_a_date_time_with_a_large_offset_is_stored_in_utc(api):
    response = api.post(
        "/api/v1/activities/", {"kind": "call", "occurred_at": "2024-03-25T13:40:00-22:10"}, format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["occurred_at"].startswith("2024-03-26T11:50:00")


def test_filtering_runs_by_another_sub_accounts_integration_is_refused_like_an_unknown_id(
    api, integration, catalog
):
    theirs = IntegrationFactory(subaccount=SubAccountFactory(slug="globex"))
    SyncRun.objects.create(subaccount=integration.subaccount, integration=integration, kind="full")
    assert api.get(f"/api/v1/sync-runs/?integration={integration.pk}").json()["results"]
    for other in (theirs.pk, 999999):
        for route in ("sync-runs", "conflicts"):
            response = api.get(f"/api/v1/{route}/?integration={other}")
            assert response.status_code == 400, (route, other, response.content)
            assert "integration" in response.json()["error"]["details"]


@pytest.mark.parametrize("page_size", ["0", "-1", "abc", "1.5"])
def test_a_page_size_that_is_not_a_whole_number_from_1_is_a_400(api, page_size):
    response = api.get(f"/api/v1/contacts/?page_size={page_size}")
    assert response.status_code == 400 and "page_size" in response.json()["error"]["details"]


def test_a_page_size_above_200_means_200_and_an_empty_one_the_default(api):
    assert api.get("/api/v1/contacts/?page_size=5000").status_code == 200
    assert api.get("/api/v1/contacts/?page_size=").status_code == 200


def test_every_operation_declares_its_errors_with_the_error_body(db, client):
    schema = client.get("/api/schema/?format=json").json()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert {"401", "403"} <= set(responses), (method, path)
            if "{" in path:
                assert "404" in responses, (method, path)
            if "requestBody" in operation:
                assert {"400", "415"} <= set(responses), (method, path)
            for code, response in responses.items():
                if int(code) >= 400:
                    ref = response["content"]["application/json"]["schema"]["$ref"]
                    assert ref == "#/components/schemas/Error", (method, path, code)
