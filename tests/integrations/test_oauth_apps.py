"""The operator's OAuth apps: used by default, overridden per integration, from the admin or the
environment (in that order), and their secret is never shown."""

import json
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from rest_framework.test import APIClient

from connectors.registry import emulator_module
from connectors.sandbox.emulator import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET
from integrations.config_schema import ConfigInvalid
from integrations.models import ApiKey, IntegrationTemplate, OAuthApp
from integrations.oauth_apps import config_schema_for, connector_config
from integrations.schema_forms import config_form_class
from integrations.services import integration_create
from tests.factories import IntegrationFactory, IntegrationTemplateFactory
from tests.integrations.test_api import api_for
from tests.integrations.test_oauth_flow import authorize
from tests.webhooks.test_inbound import hs_event, hubspot_post, kicks  # noqa: F401 (kicks: a fixture)
from webhooks.inbound.parsing import deliveries_parse
from webhooks.models import InboundEvent

ENV_APPS = {
    "hubspot": {"client_id": "env-client-id", "client_secret": "env-client-secret-value"},
    "salesforce": {"client_id": "", "client_secret": ""},
}
NO_ENV_APPS = {provider: {"client_id": "", "client_secret": ""} for provider in ("hubspot", "salesforce")}


@pytest.fixture(autouse=True)
def _no_environment_apps(settings):
    settings.OAUTH_APPS = NO_ENV_APPS


def hubspot_oauth(subaccount, **config):
    return integration_create(
        subaccount=subaccount,
        template=IntegrationTemplate.objects.get(key="hubspot"),
        name="hs",
        config={"auth_mode": "oauth", **config},
        actor="test",
    )


def authorize_query(subaccount, integration) -> dict[str, list[str]]:
    start = api_for(subaccount).post(f"/api/v1/integrations/{integration.pk}/oauth/start/", {}, format="json")
    assert start.status_code == 200, start.content
    return parse_qs(urlsplit(start.json()["authorize_url"]).query)


@pytest.mark.django_db(transaction=True)
def test_the_operators_app_is_used_by_default_and_the_emulator_grants_tokens_with_it(
    live_server, catalog, subaccount, sandbox_url, client
):
    emulator_module("hubspot").emulator.reset()
    OAuthApp.objects.create(
        provider="hubspot", client_id=SANDBOX_CLIENT_ID, client_secret=SANDBOX_CLIENT_SECRET
    )
    integration = hubspot_oauth(subaccount, base_url=f"{sandbox_url}/hubspot")  # no credentials of its own
    assert "client_id" not in integration.config and "client_secret" not in integration.config

    query = authorize_query(subaccount, integration)
    assert query["client_id"] == [SANDBOX_CLIENT_ID]
    assert set(query["scope"][0].split()) >= {
        f"crm.objects.{kind}.{access}"
        for kind in ("contacts", "companies", "deals")
        for access in ("read", "write")
    }

    callback = authorize(live_server, subaccount, integration)
    assert client.get(callback.replace(live_server.url, "")).status_code == 200
    integration.refresh_from_db()
    assert integration.tokens["access_token"]  # the token exchange authenticated with the operator's app
    assert "client_secret" not in integration.config


@pytest.mark.django_db
def test_an_integrations_own_app_overrides_the_operators(catalog, subaccount):
    OAuthApp.objects.create(provider="hubspot", client_id="operator-id", client_secret="operator-secret-1")
    own = hubspot_oauth(subaccount, client_id="own-client-id", client_secret="own-secret-value")
    assert authorize_query(subaccount, own)["client_id"] == ["own-client-id"]
    shared = hubspot_oauth(subaccount)
    assert authorize_query(subaccount, shared)["client_id"] == ["operator-id"]


@pytest.mark.django_db
def test_precedence_is_integration_then_admin_then_environment(catalog, subaccount, settings):
    settings.OAUTH_APPS = ENV_APPS
    config = {"auth_mode": "oauth"}
    assert connector_config(provider="hubspot", config=config)["client_id"] == "env-client-id"
    assert connector_config(provider="hubspot", config=config)["client_secret"] == "env-client-secret-value"
    integration = hubspot_oauth(subaccount)
    assert authorize_query(subaccount, integration)["client_id"] == ["env-client-id"]

    OAuthApp.objects.create(provider="hubspot", client_id="admin-id", client_secret="admin-secret-1")
    assert connector_config(provider="hubspot", config=config)["client_id"] == "admin-id"
    assert authorize_query(subaccount, integration)["client_id"] == ["admin-id"]

    own = {**config, "client_id": "own-id", "client_secret": "own-secret-1"}
    assert connector_config(provider="hubspot", config=own) == own
    # A private-app integration is not an OAuth one: nothing is filled in.
    private = {"auth_mode": "private_app", "access_token": "pat-123456789"}
    assert connector_config(provider="hubspot", config=private) == private
    # Salesforce has no app configured anywhere: its config is left as it is.
    assert connector_config(provider="salesforce", config={}) == {}


@pytest.mark.django_db
def test_client_credentials_are_optional_only_when_an_operator_app_exists(catalog, subaccount, settings):
    template = IntegrationTemplate.objects.get(key="salesforce")
    login = {"login_url": "http://127.0.0.1:9"}
    with pytest.raises(ConfigInvalid, match="client_id"):
        integration_create(subaccount=subaccount, template=template, name="sf", config=login, actor="test")
    form = config_form_class(config_schema_for(template))(data={})
    assert form.fields["client_id"].required and not form.is_valid()

    settings.OAUTH_APPS = {
        **NO_ENV_APPS,
        "salesforce": {"client_id": "sf-id", "client_secret": "sf-secret-1"},
    }
    schema = config_schema_for(template)
    assert (
        "client_id" not in schema["required"]
        and "platform's own app" in schema["properties"]["client_id"]["description"]
    )
    assert template.config_schema["required"] == ["client_id", "client_secret"]  # the stored one is untouched
    form = config_form_class(schema)(data={})
    assert not form.fields["client_id"].required and not form.fields["client_secret"].required
    integration = integration_create(
        subaccount=subaccount, template=template, name="sf", config=login, actor="test"
    )
    assert "client_id" not in integration.config

    # HubSpot's conditional requirement (auth_mode oauth → client_id, client_secret) is dropped too.
    hubspot = IntegrationTemplate.objects.get(key="hubspot")
    with pytest.raises(ConfigInvalid, match="client_id"):
        hubspot_oauth(subaccount)
    OAuthApp.objects.create(provider="hubspot", client_id="admin-id", client_secret="admin-secret-1")
    assert config_schema_for(hubspot) != hubspot.config_schema
    assert hubspot_oauth(subaccount).config == {"auth_mode": "oauth", **_defaults(hubspot)}


def _defaults(template) -> dict:
    return {
        name: prop["default"]
        for name, prop in template.config_schema["properties"].items()
        if "default" in prop and name != "auth_mode"
    }


@pytest.mark.django_db
def test_the_secret_is_encrypted_and_never_shown_in_the_admin_or_the_api(catalog, subaccount, client):
    secret = "operator-very-secret-value"
    user = get_user_model().objects.create_superuser("op", "op@example.com", "pw-123456789")
    client.force_login(user)
    added = client.post(
        "/admin/integrations/oauthapp/add/",
        {"provider": "hubspot", "client_id": "admin-id", "secret": secret},
    )
    assert added.status_code == 302, added.content[:1500]
    app = OAuthApp.objects.get(provider="hubspot")
    assert app.client_secret == secret
    with connection.cursor() as cursor:
        cursor.execute("SELECT client_secret FROM integrations_oauthapp WHERE id = %s", [app.pk])
        assert secret not in cursor.fetchone()[0]

    integration = hubspot_oauth(subaccount)
    pages = [
        "/admin/integrations/oauthapp/",
        f"/admin/integrations/oauthapp/{app.pk}/change/",
        f"/admin/integrations/integration/{integration.pk}/change/",
        f"/admin/integrations/integration/{integration.pk}/configure/",
    ]
    for page in pages:
        response = client.get(page)
        assert response.status_code == 200 and secret not in response.content.decode(), page
    api = api_for(subaccount)
    for path in (
        f"/api/v1/integrations/{integration.pk}/",
        "/api/v1/integrations/",
        "/api/v1/templates/hubspot/",
    ):
        assert secret not in api.get(path).content.decode()

    # Saving again with the secret left blank keeps it.
    kept = client.post(
        f"/admin/integrations/oauthapp/{app.pk}/change/", {"client_id": "admin-id-2", "secret": ""}
    )
    assert kept.status_code == 302
    app.refresh_from_db()
    assert (app.client_id, app.client_secret) == ("admin-id-2", secret)


@pytest.mark.django_db
def test_only_superusers_reach_the_oauth_apps_admin(catalog, client, subaccount):
    staff = get_user_model().objects.create_user("staff", "s@example.com", "pw-123456789", is_staff=True)
    staff.user_permissions.set(
        staff.user_permissions.model.objects.filter(content_type__app_label="integrations")
    )
    client.force_login(staff)
    assert client.get("/admin/integrations/oauthapp/").status_code == 403


@pytest.mark.urls("tests.webhooks.urls_inbound")
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("kicks")
def test_hubspot_webhooks_of_an_integration_on_the_operators_app_verify_with_its_secret(client, subaccount):
    OAuthApp.objects.create(provider="hubspot", client_id="admin-id", client_secret="operator-app-secret")
    integration = IntegrationFactory(
        subaccount=subaccount,
        template=IntegrationTemplateFactory(key="hubspot"),
        config={"auth_mode": "oauth"},
        status="active",
    )
    refused = hubspot_post(client, integration, [hs_event(1, 101)], secret="someone-elses-secret")
    accepted = hubspot_post(client, integration, [hs_event(2, 102)], secret="operator-app-secret")
    assert (refused.status_code, accepted.status_code) == (401, 200)
    deliveries_parse()  # what the worker does first
    assert InboundEvent.objects.filter(integration=integration).count() == 1


def test_the_catalog_api_shows_the_schema_a_sub_account_fills_in(catalog, subaccount, settings):
    settings.OAUTH_APPS = {
        **NO_ENV_APPS,
        "salesforce": {"client_id": "sf-id", "client_secret": "sf-secret-1"},
    }
    _, key = ApiKey.objects.create_key(name="t", subaccount=subaccount)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")

    body = client.get("/api/v1/templates/salesforce/").json()

    assert body["config_schema"]["required"] == ["client_id", "client_secret"]  # as stored
    assert "client_id" not in body["effective_config_schema"]["required"]  # the operator's app serves
    assert "sf-secret-1" not in json.dumps(body)
