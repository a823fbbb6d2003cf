"""The integrations API: auth, validation, secrets, tenancy, lifecycle — all through HTTP."""

import pytest
from rest_framework.test import APIClient

from integrations.models import ApiKey, AuditLog, Integration
from tests.factories import IntegrationFactory, IntegrationTemplateFactory

SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["access_token"],
    "properties": {
        "auth_mode": {"type": "string", "enum": ["private_app", "oauth"], "default": "private_app"},
        "access_token": {"type": "string", "format": "password", "minLength": 3},
        "base_url": {"type": "string", "format": "uri"},
        "page_size": {"type": "integer", "minimum": 1, "maximum": 100, "default": 50},
    },
}


@pytest.fixture
def template(db):
    return IntegrationTemplateFactory(key="hubspot", connector="hubspot", config_schema=SCHEMA)


@pytest.fixture
def coming_soon(db):
    return IntegrationTemplateFactory(
        key="coming_soon_crm", connector="coming_soon_crm", config_schema={"type": "object"}
    )


def api_for(subaccount) -> APIClient:
    _, key = ApiKey.objects.create_key(name="test", subaccount=subaccount)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


@pytest.fixture
def api(subaccount):
    return api_for(subaccount)


def create(api, **overrides):
    body = {
        "template": "hubspot",
        "name": "CRM",
        "config": {"access_token": "pat-na1-secret-value"},
        **overrides,
    }
    return api.post("/api/v1/integrations/", body, format="json")


# --- authentication -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers", [{}, {"HTTP_AUTHORIZATION": "Bearer garbage"}, {"HTTP_X_API_KEY": "nope.nope"}]
)
def test_missing_or_garbage_keys_get_401_in_the_error_shape(db, headers):
    response = APIClient().get("/api/v1/integrations/", **headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"


def test_x_api_key_header_works_and_a_revoked_key_is_refused(subaccount):
    key_obj, key = ApiKey.objects.create_key(name="k", subaccount=subaccount)
    assert APIClient().get("/api/v1/integrations/", HTTP_X_API_KEY=key).status_code == 200
    key_obj.revoked = True
    key_obj.save()
    response = APIClient().get("/api/v1/integrations/", HTTP_X_API_KEY=key)
    assert response.status_code == 401 and response.json()["error"]["code"] == "unauthenticated"


# --- templates --------------------------------------------------------------------------------------


def test_templates_list_shows_schemas_and_availability(api, template, coming_soon):
    body = api.get("/api/v1/templates/").json()
    by_key = {t["key"]: t for t in body}
    assert by_key["hubspot"]["available"] is True and by_key["coming_soon_crm"]["available"] is False
    assert by_key["hubspot"]["config_schema"]["required"] == ["access_token"]
    assert api.get("/api/v1/templates/hubspot/").json()["key"] == "hubspot"
    assert api.get("/api/v1/templates/nope/").status_code == 404


# --- create and validate ------------------------------------------------------------------------------


def test_create_validates_stores_encrypted_and_never_returns_the_secret(api, template, subaccount):
    response = create(api)
    assert response.status_code == 201, response.content
    body = response.json()
    assert "pat-na1-secret-value" not in response.content.decode()
    assert body["config"] == {"auth_mode": "private_app", "page_size": 50}  # defaults applied
    assert body["secrets_set"] == ["access_token"] and body["status"] == "pending"
    assert body["webhook_secret"]  # shown once, on creation only
    assert "webhook_secret" not in api.get(f"/api/v1/integrations/{body['id']}/").json()
    stored = Integration.objects.get(pk=body["id"])
    assert stored.subaccount == subaccount and stored.config["access_token"] == "pat-na1-secret-value"
    log = AuditLog.objects.get(integration=stored, action="integration.created")
    assert (
        "pat-na1-secret-value" not in str(log.changes)
        and log.changes["config"]["access_token"] == "[changed]"
    )


def test_invalid_config_answers_400_with_per_field_details(api, template):
    response = create(api, config={"page_size": 500, "base_url": "not a url", "extra": 1})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_config"
    fields = error["details"]["config"]
    assert set(fields) == {"access_token", "page_size", "base_url", ""} or {
        "access_token",
        "page_size",
        "base_url",
    } <= set(fields)
    assert fields["access_token"] == ["This field is required."]


def test_a_secret_value_never_appears_in_validation_messages(api, template):
    response = create(api, config={"access_token": "x"})  # too short
    assert response.status_code == 400
    assert '"x"' not in response.content.decode() and "'x'" not in response.content.decode()


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"template": "nope", "config": {}}, "unknown_template"),
        ({"template": "coming_soon_crm", "config": {}}, "template_unavailable"),
        ({"template": "hubspot", "config": "not-an-object"}, "invalid"),
        ({"template": "hubspot", "config": {}, "sync_interval_minutes": "often"}, "invalid"),
    ],
)
def test_bad_input_is_a_400_in_the_error_shape(api, template, coming_soon, body, code):
    response = api.post("/api/v1/integrations/", body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == code
    assert Integration.objects.count() == 0


def test_malformed_json_is_a_400_not_a_500(api, template):
    response = api.post("/api/v1/integrations/", "{not json", content_type="application/json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "malformed"


def test_a_private_base_url_is_refused_outside_the_sandbox(api, template, settings):
    settings.SANDBOX = False
    response = create(api, config={"access_token": "pat-1234", "base_url": "https://169.254.169.254/"})
    assert response.status_code == 400
    assert "base_url" in response.json()["error"]["details"]["config"]


# --- update ---------------------------------------------------------------------------------------------


def test_patch_with_blank_secret_keeps_it_and_changes_the_rest(api, template):
    pk = create(api).json()["id"]
    response = api.patch(
        f"/api/v1/integrations/{pk}/",
        {"config": {"access_token": "", "page_size": 10}, "conflict_strategy": "manual"},
        format="json",
    )
    assert response.status_code == 200, response.content
    stored = Integration.objects.get(pk=pk)
    assert stored.config["access_token"] == "pat-na1-secret-value" and stored.config["page_size"] == 10
    assert stored.conflict_strategy == "manual"
    changes = AuditLog.objects.filter(integration=stored, action="integration.updated").get().changes
    assert changes["config"] == {"page_size": {"from": 50, "to": 10}}


# --- tenancy -----------------------------------------------------------------------------------------------

DETAIL_ROUTES = [
    ("get", "/api/v1/integrations/{pk}/"),
    ("patch", "/api/v1/integrations/{pk}/"),
    ("delete", "/api/v1/integrations/{pk}/"),
    ("post", "/api/v1/integrations/{pk}/test/"),
    ("get", "/api/v1/integrations/{pk}/status/"),
    ("post", "/api/v1/integrations/{pk}/disconnect/"),
    ("post", "/api/v1/integrations/{pk}/activate/"),
    ("post", "/api/v1/integrations/{pk}/pause/"),
    ("post", "/api/v1/integrations/{pk}/resume/"),
    ("post", "/api/v1/integrations/{pk}/oauth/start/"),
]


@pytest.mark.parametrize(("method", "route"), DETAIL_ROUTES)
def test_another_subaccounts_integration_is_a_404_on_every_route(
    template, subaccount, other_subaccount, method, route
):
    theirs = IntegrationFactory(
        subaccount=other_subaccount, template=template, config={"access_token": "t0p"}
    )
    response = getattr(api_for(subaccount), method)(route.format(pk=theirs.pk), {}, format="json")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert Integration.objects.filter(pk=theirs.pk, status="pending").exists()


def test_lists_only_show_the_callers_integrations(template, subaccount, other_subaccount):
    mine = IntegrationFactory(subaccount=subaccount, template=template)
    IntegrationFactory(subaccount=other_subaccount, template=template)
    ids = [row["id"] for row in api_for(subaccount).get("/api/v1/integrations/").json()["results"]]
    assert ids == [mine.pk]


# --- lifecycle --------------------------------------------------------------------------------------------------


def test_activate_needs_a_passed_test_then_pause_and_resume(api, template):
    pk = create(api).json()["id"]
    refused = api.post(f"/api/v1/integrations/{pk}/activate/")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "invalid_state"
    Integration.objects.filter(pk=pk).update(last_test_ok=True)
    assert api.post(f"/api/v1/integrations/{pk}/activate/").json()["status"] == "active"
    assert api.post(f"/api/v1/integrations/{pk}/pause/").json()["status"] == "paused"
    assert api.post(f"/api/v1/integrations/{pk}/pause/").status_code == 409
    assert api.post(f"/api/v1/integrations/{pk}/resume/").json()["status"] == "active"
    status = api.get(f"/api/v1/integrations/{pk}/status/").json()
    assert status["status"] == "active" and status["connected"] is False


def test_disconnect_forgets_tokens_and_keeps_history(api, template):
    pk = create(api).json()["id"]
    Integration.objects.filter(pk=pk).update(status="active")
    integration = Integration.objects.get(pk=pk)
    integration.tokens = {"access_token": "a", "refresh_token": "r"}
    integration.save()
    body = api.post(f"/api/v1/integrations/{pk}/disconnect/").json()
    assert body["status"] == "disconnected" and body["connected"] is False
    assert Integration.objects.get(pk=pk).tokens is None
    assert AuditLog.objects.filter(integration_id=pk, action="integration.disconnected").exists()


def test_delete_removes_the_integration_but_keeps_an_audit_row(api, template, subaccount):
    pk = create(api).json()["id"]
    assert api.delete(f"/api/v1/integrations/{pk}/").status_code == 204
    assert not Integration.objects.filter(pk=pk).exists()
    assert AuditLog.objects.filter(subaccount=subaccount, action="integration.deleted").exists()


def test_openapi_schema_and_offline_docs_are_served(db, client):
    schema = client.get("/api/schema/?format=json")
    assert schema.status_code == 200 and "/api/v1/integrations/{id}/test/" in schema.json()["paths"]
    docs = client.get("/api/docs/")
    assert docs.status_code == 200 and b"swagger-ui" in docs.content and b"cdn" not in docs.content.lower()


def test_health_endpoints(db, client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["database"]["ok"] is True


def test_nul_characters_are_refused_before_reaching_the_database(api, template):
    response = api.post(
        "/api/v1/integrations/", {"template": "hubspot", "name": "a\u0000b", "config": {}}, format="json"
    )
    assert response.status_code == 400 and response.json()["error"]["code"] == "malformed"


def test_the_schema_documents_how_to_authenticate(db, client):
    schemes = client.get("/api/schema/?format=json").json()["components"]["securitySchemes"]
    assert schemes["ApiKeyBearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "A sub-account API key: `Authorization: Bearer <key>`",
    }
    assert schemes["ApiKeyHeader"]["name"] == "X-Api-Key"


def test_an_authorization_header_that_is_not_bearer_is_refused_even_with_a_good_x_api_key(subaccount):
    _, key = ApiKey.objects.create_key(name="test", subaccount=subaccount)
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=key, HTTP_AUTHORIZATION="Basic dXNlcjpwYXNz")

    refused = client.get("/api/v1/contacts/")

    assert refused.status_code == 401
    assert refused.json()["error"]["message"] == "The Authorization header must be 'Bearer <API key>'."
