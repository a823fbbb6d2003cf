"""The catalog files, ``load_catalog`` and what the templates promise their connectors."""

import json
import re
from io import StringIO
from pathlib import Path

import pytest
from defusedxml import ElementTree
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from jsonschema import Draft202012Validator

from connectors.base import CANONICAL_FIELDS
from connectors.registry import CONNECTORS, PLANNED
from integrations.catalog_loader import (
    CATALOG_DIR,
    CatalogError,
    catalog_load,
    read_template_file,
    validate_template,
)
from integrations.checks import catalog_connectors_registered
from integrations.config_schema import (
    ConfigInvalid,
    is_secret,
    iter_properties,
    validate_config,
    with_sender_allowlist,
)
from integrations.models import IntegrationTemplate
from integrations.schema_forms import render_help_markdown

EXPECTED_CONNECTORS = {
    "hubspot": "hubspot",
    "salesforce": "salesforce",
    "pipedrive": "pipedrive",
    "zoho": "zoho",
    "aitable": "aitable",
    "missionx": "missionx",
    "gohighlevel": "gohighlevel",
    "facebook_lead_ads": "facebook_leads",
    "google_analytics": "google_analytics",
    "alacarte_chat": "alacarte",
    "enrichment_http": "enrichment_http",
}
CATEGORIES = {"CRM", "Messaging", "Client portal", "Lead source", "Analytics", "Enrichment"}
# Providers with no public default host: their base URL cannot be optional.
BASE_URL_REQUIRED = {"missionx", "enrichment_http"}
# Names that mean "this value is a credential"; public keys are deliberately not secrets.
SECRET_NAME = re.compile(r"(token|secret|password|api_key|private_key|service_account_key)$")
NOT_SECRET = {"webhook_public_key", "webhook_rsa_public_key"}

TEMPLATE_PATHS = sorted(CATALOG_DIR.glob("*.json"))


def template(key: str) -> dict:
    return read_template_file(CATALOG_DIR / f"{key}.json")


def all_properties(schema: dict):
    return list(iter_properties(schema))


def test_catalog_holds_exactly_the_expected_templates_and_connectors():
    found = {path.stem: read_template_file(path)["connector"] for path in TEMPLATE_PATHS}
    assert found == EXPECTED_CONNECTORS


@pytest.mark.parametrize("path", TEMPLATE_PATHS, ids=lambda p: p.stem)
def test_template_file_is_complete_and_its_schema_passes_the_2020_12_metaschema(path: Path):
    data = read_template_file(path)
    validate_template(data, source=path.name)  # the loader's own checks
    schema = data["config_schema"]
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["type"] == "object" and schema["additionalProperties"] is False
    assert schema.get("title") and schema.get("description")
    assert data["key"] == path.stem and data["is_active"] is True
    assert data["category"] in CATEGORIES
    assert data["icon"] == f"integrations/icons/{path.stem}.svg"
    assert data["api_version"]
    caps = data["capabilities"]
    # "enriches": an enrichment provider's card says so (it syncs no objects).
    assert set(caps) - {"enriches"} == {"objects", "read", "write", "webhooks", "oauth"}
    assert set(caps["objects"]) <= set(CANONICAL_FIELDS)
    assert all(isinstance(caps[flag], bool) for flag in ("read", "write", "webhooks", "oauth"))
    assert isinstance(caps.get("enriches", False), bool)
    assert isinstance(data["setup_instructions"], list) and len(data["setup_instructions"]) >= 8


@pytest.mark.parametrize("path", TEMPLATE_PATHS, ids=lambda p: p.stem)
def test_every_property_is_titled_described_and_its_default_is_valid(path: Path):
    schema = read_template_file(path)["config_schema"]
    for node_path, prop in all_properties(schema):
        name = ".".join(node_path)
        assert prop.get("title") and prop.get("description"), f"{name} needs a title and a description"
        if "default" in prop:
            errors = list(Draft202012Validator(prop).iter_errors(prop["default"]))
            assert not errors, f"{name}: default {prop['default']!r} breaks its own schema"
        if prop.get("type") == "object":
            assert prop.get("additionalProperties") is False
            assert set(prop.get("required", [])) <= set(prop["properties"])
    assert set(schema["required"]) <= set(schema["properties"])


@pytest.mark.parametrize("path", TEMPLATE_PATHS, ids=lambda p: p.stem)
def test_every_secret_property_is_a_write_only_password(path: Path):
    schema = read_template_file(path)["config_schema"]
    secrets = 0
    for node_path, prop in all_properties(schema):
        looks_secret = bool(SECRET_NAME.search(node_path[-1])) and node_path[-1] not in NOT_SECRET
        if looks_secret or is_secret(prop):
            secrets += 1
            assert prop.get("format") == "password", f"{'.'.join(node_path)} must be format: password"
            assert prop.get("writeOnly") is True
            assert "default" not in prop, "a secret never has a default"
    assert secrets >= 1


@pytest.mark.parametrize("path", TEMPLATE_PATHS, ids=lambda p: p.stem)
def test_every_template_has_a_uri_base_url_optional_where_the_provider_has_a_default(path: Path):
    schema = read_template_file(path)["config_schema"]
    name = "login_url" if path.stem == "salesforce" else "base_url"
    assert schema["properties"][name]["format"] == "uri"
    assert (name in schema["required"]) is (path.stem in BASE_URL_REQUIRED)
    for node_path, prop in all_properties(schema):
        if node_path[-1].endswith("_url"):
            assert prop.get("format") == "uri", f"{'.'.join(node_path)} should be format: uri"


@pytest.mark.parametrize("path", TEMPLATE_PATHS, ids=lambda p: p.stem)
def test_setup_instructions_give_the_redirect_and_webhook_urls_for_the_connector(path: Path):
    data = read_template_file(path)
    text = "\n".join(data["setup_instructions"])
    connector = data["connector"]
    if data["capabilities"]["oauth"]:
        assert f"`<your host>/oauth/callback/{connector}/`" in text
    if data["capabilities"]["webhooks"]:
        assert f"`<your host>/webhooks/in/{connector}/<integration id>/`" in text
    assert f"<your host>/sandbox/{connector}" in text
    html = render_help_markdown(text)
    assert "<script" not in html
    if data["capabilities"]["webhooks"]:
        # Placeholders sit in code spans, so Markdown shows them instead of eating them as HTML tags.
        assert f"&lt;your host&gt;/webhooks/in/{connector}/&lt;integration id&gt;/" in html


@pytest.mark.parametrize("path", TEMPLATE_PATHS, ids=lambda p: p.stem)
def test_icon_is_a_self_contained_svg_badge_with_initials(path: Path):
    icon = Path(settings.BASE_DIR) / "static" / read_template_file(path)["icon"]
    source = icon.read_text()
    root = ElementTree.fromstring(source)
    ns = "{http://www.w3.org/2000/svg}"
    assert root.tag == f"{ns}svg"
    assert root.find(f"{ns}rect").get("rx")
    initials = root.find(f"{ns}text").text
    assert re.fullmatch(r"[A-Z]{2}", initials)
    assert "<script" not in source and "href" not in source  # nothing executable or fetched


def test_hubspot_template_carries_the_exact_property_names_its_connector_reads():
    schema = template("hubspot")["config_schema"]
    props = schema["properties"]
    assert list(props) == [
        "auth_mode",
        "access_token",
        "client_id",
        "client_secret",
        "base_url",
        "rate_limit",
        "search_rate_limit",
    ]
    assert props["auth_mode"]["enum"] == ["private_app", "oauth"]
    assert props["auth_mode"]["default"] == "private_app"
    assert props["access_token"]["format"] == props["client_secret"]["format"] == "password"
    assert "default" not in props["base_url"]  # set, it also moves the OAuth endpoints


def test_salesforce_template_carries_the_exact_property_names_its_connector_reads():
    schema = template("salesforce")["config_schema"]
    props = schema["properties"]
    assert list(props) == [
        "login_url",
        "client_id",
        "client_secret",
        "api_version",
        "organization_id",
        "allowed_ips",
        "lead_mode",
        "note_object",
    ]
    assert (
        props["lead_mode"]["enum"] == ["contact", "lead", "both"]
        and props["lead_mode"]["default"] == "contact"
    )
    assert props["note_object"]["enum"] == ["ContentNote", "Note"]
    assert props["login_url"]["default"] == "https://login.salesforce.com"
    assert props["api_version"]["default"] == "v62.0"
    assert props["api_version"]["pattern"] == r"^v\d+\.0$"
    assert props["client_secret"]["format"] == "password"
    assert props["allowed_ips"]["type"] == "array" and props["allowed_ips"]["items"]["type"] == "string"
    assert schema["required"] == ["client_id", "client_secret"]


def test_hubspot_schema_accepts_the_private_app_sandbox_config_and_requires_oauth_credentials():
    schema = template("hubspot")["config_schema"]
    config = {
        "auth_mode": "private_app",
        "access_token": "tok-abcdefghijkl",
        "base_url": "http://localhost:8001/sandbox/hubspot",
    }
    # The plan's limits default to HubSpot's published Free/Starter figures.
    assert validate_config(schema, config) == {**config, "rate_limit": "100/10", "search_rate_limit": "5/1"}
    assert validate_config(schema, {"access_token": "tok-abcdefghijkl"})["auth_mode"] == "private_app"
    with pytest.raises(ConfigInvalid) as bad_limit:
        validate_config(schema, {**config, "rate_limit": "lots"})
    assert set(bad_limit.value.errors) == {"rate_limit"}
    with pytest.raises(ConfigInvalid) as oauth:
        validate_config(schema, {"auth_mode": "oauth"})
    assert set(oauth.value.errors) == {"client_id", "client_secret"}
    with pytest.raises(ConfigInvalid) as private:
        validate_config(schema, {"auth_mode": "private_app"})
    assert set(private.value.errors) == {"access_token"}


def test_salesforce_schema_accepts_the_sandbox_config_fills_defaults_and_checks_the_version():
    schema = template("salesforce")["config_schema"]
    config = {
        "login_url": "http://localhost:8001/sandbox/salesforce",
        "client_id": "sandbox-client-id",
        "client_secret": "sandbox-client-secret",
        "api_version": "v62.0",
    }
    assert validate_config(schema, config) == {**config, "lead_mode": "contact", "note_object": "ContentNote"}
    filled = validate_config(schema, {"client_id": "cid", "client_secret": "a-long-secret"})
    assert filled["login_url"] == "https://login.salesforce.com" and filled["api_version"] == "v62.0"
    with pytest.raises(ConfigInvalid) as bad:
        validate_config(
            schema,
            {
                **config,
                "api_version": "62",
                "allowed_ips": ["10.0.0.0/8", "not an ip"],
                "organization_id": "00Dxx0000001gPFEAY",
            },
        )
    assert set(bad.value.errors) == {"api_version", "allowed_ips.1"}


@pytest.mark.django_db
def test_load_catalog_creates_every_template_then_a_second_run_changes_nothing():
    first, second = StringIO(), StringIO()
    call_command("load_catalog", stdout=first)
    call_command("load_catalog", stdout=second)
    assert first.getvalue().strip() == f"{len(EXPECTED_CONNECTORS)} created, 0 updated, 0 unchanged"
    assert second.getvalue().strip() == f"0 created, 0 updated, {len(EXPECTED_CONNECTORS)} unchanged"
    stored = {t.key: t.connector for t in IntegrationTemplate.objects.all()}
    assert stored == EXPECTED_CONNECTORS
    hubspot = IntegrationTemplate.objects.get(key="hubspot")
    assert hubspot.setup_instructions.startswith("## Option A")
    assert "\n" in hubspot.setup_instructions  # the list of lines became one Markdown text
    # the file's schema, plus the sender allowlist every receiving template offers
    assert hubspot.config_schema == with_sender_allowlist(
        template("hubspot")["config_schema"], template("hubspot")["capabilities"]
    )


@pytest.mark.django_db
def test_load_catalog_puts_back_a_template_edited_in_the_database():
    call_command("load_catalog", verbosity=0)
    IntegrationTemplate.objects.filter(key="zoho").update(display_name="Edited", config_schema={})
    out = StringIO()
    call_command("load_catalog", stdout=out)
    assert out.getvalue().strip() == f"0 created, 1 updated, {len(EXPECTED_CONNECTORS) - 1} unchanged"
    zoho = IntegrationTemplate.objects.get(key="zoho")
    assert zoho.display_name == "Zoho CRM"
    assert zoho.config_schema == with_sender_allowlist(
        template("zoho")["config_schema"], template("zoho")["capabilities"]
    )


def write_template(directory: Path, key: str, **overrides) -> Path:
    data = {**template("enrichment_http"), "key": key, **overrides}
    path = directory / f"{key}.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.django_db
def test_a_broken_schema_file_is_refused_with_a_clear_error_and_nothing_is_loaded(tmp_path: Path):
    write_template(tmp_path, "good")
    write_template(
        tmp_path, "broken", config_schema={"type": "object", "properties": {"x": {"type": "strnig"}}}
    )
    with pytest.raises(CatalogError) as exc:
        catalog_load(directory=tmp_path)
    assert str(exc.value).startswith("broken.json: config_schema is not a valid JSON Schema")
    with pytest.raises(CommandError, match=r"^broken\.json: config_schema is not a valid JSON Schema"):
        call_command("load_catalog", directory=tmp_path, verbosity=0)
    assert not IntegrationTemplate.objects.exists()  # checked before anything is written


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not readable JSON"),
        (json.dumps({"key": "other"}), "missing"),
    ],
)
def test_an_unreadable_or_incomplete_file_is_refused(tmp_path: Path, content: str, message: str):
    (tmp_path / "odd.json").write_text(content)
    with pytest.raises(CommandError, match=rf"^odd\.json: .*{message}"):
        call_command("load_catalog", directory=tmp_path, verbosity=0)


@pytest.mark.django_db
def test_templates_whose_connectors_are_planned_are_not_available(catalog):
    templates = list(IntegrationTemplate.objects.all())
    planned = [t for t in templates if t.connector in PLANNED]
    assert all(t.is_available is False for t in planned)
    for t in templates:
        assert t.is_available is (t.connector in CONNECTORS)
    assert IntegrationTemplate.objects.get(key="hubspot").is_available is True
    assert IntegrationTemplate.objects.get(key="salesforce").is_available is True


def test_system_check_finds_every_catalog_connector_registered_or_planned():
    assert catalog_connectors_registered(None) == []


@pytest.mark.django_db
def test_load_catalog_refuses_a_directory_that_does_not_exist(tmp_path: Path):
    with pytest.raises(CommandError, match="is not a directory"):
        call_command("load_catalog", directory=tmp_path / "missing", verbosity=0)
