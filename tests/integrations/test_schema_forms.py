"""Config forms generated from JSON Schema: fields, widgets, secrets, server-side validation."""

from pathlib import Path
from typing import Any

import pytest
from django import forms
from django.http import QueryDict

from integrations.catalog_loader import CATALOG_DIR, read_template_file
from integrations.config_schema import validate_config
from integrations.schema_forms import (
    STORED_SECRET_HELP,
    LinesField,
    NumberField,
    URIField,
    config_form_class,
    render_help_markdown,
)

STORED_SECRET = "stored-secret-value-1234"

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Example connection",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "name": {
            "type": "string",
            "title": "Name",
            "description": "Shown in lists.",
            "minLength": 3,
            "maxLength": 20,
            "pattern": "^[a-z]+$",
        },
        "mode": {
            "type": "string",
            "title": "Mode",
            "description": "How to connect.",
            "enum": ["token", "oauth"],
            "default": "token",
        },
        "token": {"type": "string", "title": "Token", "description": "Secret token.", "format": "password"},
        "signing_key": {
            "type": "string",
            "title": "Signing key",
            "description": "Also secret.",
            "writeOnly": True,
        },
        "endpoint": {"type": "string", "title": "Endpoint", "description": "API address.", "format": "uri"},
        "contact": {"type": "string", "title": "Contact", "description": "Who to tell.", "format": "email"},
        "retries": {
            "type": "integer",
            "title": "Retries",
            "description": "How often.",
            "minimum": 0,
            "maximum": 5,
            "default": 3,
        },
        "timeout": {
            "type": "number",
            "title": "Timeout",
            "description": "Seconds.",
            "minimum": 0.5,
            "maximum": 60,
            "default": 10,
        },
        "verbose": {"type": "boolean", "title": "Verbose", "description": "Log more.", "default": False},
        "hosts": {
            "type": "array",
            "title": "Hosts",
            "description": "One per line.",
            "items": {"type": "string", "pattern": "^[a-z.]+$"},
            "maxItems": 3,
        },
        "events": {
            "type": "array",
            "title": "Events",
            "description": "Which ones.",
            "items": {"type": "string", "enum": ["created", "updated", "deleted"]},
            "default": ["created"],
            "uniqueItems": True,
        },
        "proxy": {
            "type": "object",
            "title": "Proxy",
            "description": "Optional proxy.",
            "additionalProperties": False,
            "properties": {
                "host": {"type": "string", "title": "Proxy host", "description": "Host name."},
                "port": {
                    "type": "integer",
                    "title": "Proxy port",
                    "description": "Port.",
                    "minimum": 1,
                    "maximum": 65535,
                },
                "password": {
                    "type": "string",
                    "title": "Proxy password",
                    "description": "Secret.",
                    "format": "password",
                },
            },
            "required": ["host", "port"],
        },
        "limits": {
            "type": "object",
            "title": "Limits",
            "description": "Always there.",
            "additionalProperties": False,
            "properties": {
                "per_second": {"type": "integer", "title": "Per second", "description": "Rate.", "minimum": 1}
            },
            "required": ["per_second"],
        },
    },
    "required": ["name", "mode", "token", "limits"],
}

VALID = {
    "name": "acme",
    "mode": "token",
    "token": "t0ken-value",
    "retries": "3",
    "timeout": "10",
    "events": ["created"],
    "limits.per_second": "5",
}


def bound(data: dict[str, Any], *, schema: dict | None = None, stored: dict | None = None) -> forms.Form:
    query = QueryDict(mutable=True)
    for key, value in data.items():
        if isinstance(value, list):
            query.setlist(key, value)
        else:
            query[key] = value
    return config_form_class(schema or SCHEMA, stored=stored)(data=query)


def test_each_schema_type_gets_its_field_and_widget():
    fields = config_form_class(SCHEMA)().fields
    assert type(fields["name"]) is forms.CharField and isinstance(fields["name"].widget, forms.TextInput)
    assert isinstance(fields["mode"], forms.TypedChoiceField) and isinstance(
        fields["mode"].widget, forms.Select
    )
    for secret in ("token", "signing_key", "proxy.password"):
        assert isinstance(fields[secret].widget, forms.PasswordInput)
        assert fields[secret].widget.render_value is False
    assert isinstance(fields["endpoint"], URIField) and isinstance(fields["endpoint"].widget, forms.URLInput)
    assert isinstance(fields["contact"], forms.EmailField)
    assert type(fields["retries"]) is forms.IntegerField
    assert isinstance(fields["timeout"], NumberField)
    assert isinstance(fields["verbose"], forms.BooleanField) and fields["verbose"].required is False
    assert isinstance(fields["hosts"], LinesField) and isinstance(fields["hosts"].widget, forms.Textarea)
    assert isinstance(fields["events"], forms.TypedMultipleChoiceField)
    assert isinstance(fields["events"].widget, forms.CheckboxSelectMultiple)


def test_titles_descriptions_defaults_and_required_become_label_help_initial_and_required():
    form = config_form_class(SCHEMA)()
    mode = form.fields["mode"]
    assert (mode.label, mode.help_text, mode.initial, mode.required) == (
        "Mode",
        "How to connect.",
        "token",
        True,
    )
    assert [value for value, _ in mode.choices] == ["token", "oauth"]  # a default means no blank choice
    assert form.fields["retries"].initial == 3 and form.fields["events"].initial == ["created"]
    assert form.fields["name"].required and form.fields["token"].required
    assert not form.fields["endpoint"].required and not form.fields["retries"].required
    assert form.fields["limits.per_second"].required  # required child of a required object
    assert not form.fields["proxy.host"].required  # required only once the optional proxy is used
    assert 'value="3"' in str(form["retries"]) and "checked" in str(form["events"])


def test_fields_keep_schema_order_and_nested_objects_become_dotted_fieldsets_after_the_top_level():
    form = config_form_class(SCHEMA)()
    assert form.fieldsets == [
        (
            "Example connection",
            [
                "name",
                "mode",
                "token",
                "signing_key",
                "endpoint",
                "contact",
                "retries",
                "timeout",
                "verbose",
                "hosts",
                "events",
            ],
        ),
        ("Proxy", ["proxy.host", "proxy.port", "proxy.password"]),
        ("Limits", ["limits.per_second"]),
    ]
    assert list(form.fields) == [name for _, names in form.fieldsets for name in names]


def test_valid_input_becomes_nested_typed_config_with_defaults_and_optional_blanks_left_out():
    form = bound(
        {
            **VALID,
            "endpoint": "",
            "hosts": "a.example\n\n  b.example  \n",
            "timeout": "2.5",
            "proxy.host": "",
            "proxy.port": "",
        }
    )
    assert form.is_valid(), form.errors
    assert form.config == {
        "name": "acme",
        "mode": "token",
        "token": "t0ken-value",
        "retries": 3,
        "timeout": 2.5,
        "verbose": False,
        "hosts": ["a.example", "b.example"],
        "events": ["created"],
        "limits": {"per_second": 5},
    }
    assert validate_config(SCHEMA, form.config) == form.config


def test_a_whole_number_stays_an_int_and_an_unticked_default_list_stays_empty():
    form = bound({**VALID, "timeout": "10", "events": []})
    assert form.is_valid(), form.errors
    assert form.config["timeout"] == 10 and isinstance(form.config["timeout"], int)
    assert form.config["events"] == []  # not silently replaced by the default


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "ab"),  # minLength
        ("name", "a" * 21),  # maxLength
        ("name", "ACME"),  # pattern
        ("mode", "telepathy"),  # enum
        ("retries", "6"),  # maximum
        ("retries", "-1"),  # minimum
        ("retries", "1.5"),  # integer
        ("timeout", "0.1"),  # number minimum
        ("endpoint", "ftp://files.example.com"),  # uri: http(s) only
        ("endpoint", "example.com/api"),  # uri: no scheme
        ("contact", "not-an-email"),
        ("events", ["created", "exploded"]),
        ("hosts", "a.example\nb.example\nc.example\nd.example"),  # maxItems
    ],
)
def test_each_constraint_is_enforced_on_its_own_field(field: str, value: Any):
    form = bound({**VALID, field: value})
    assert not form.is_valid()
    assert list(form.errors) == [field]
    assert form.config is None


def test_a_uri_is_kept_exactly_as_typed_including_local_sandbox_hosts():
    form = bound({**VALID, "endpoint": "http://localhost:8000/sandbox/hubspot"})
    assert form.is_valid(), form.errors
    assert form.config["endpoint"] == "http://localhost:8000/sandbox/hubspot"


def test_missing_required_values_are_reported_on_their_fields():
    form = bound({"mode": "token"})
    assert not form.is_valid()
    assert set(form.errors) == {"name", "token", "limits.per_second"}
    assert form.errors["name"] == ["This field is required."]


def test_nested_object_is_kept_when_used_and_its_required_children_are_checked_server_side():
    used = bound({**VALID, "proxy.host": "proxy.local", "proxy.port": "3128", "proxy.password": "pw-123456"})
    assert used.is_valid(), used.errors
    assert used.config["proxy"] == {"host": "proxy.local", "port": 3128, "password": "pw-123456"}
    half = bound({**VALID, "proxy.host": "proxy.local"})
    assert not half.is_valid()
    assert half.errors["proxy.port"] == ["This field is required."]


def test_a_schema_error_on_an_array_item_lands_on_the_array_field_naming_the_item():
    form = bound({**VALID, "hosts": "good.example\nBAD_HOST"})
    assert not form.is_valid()
    assert list(form.errors) == ["hosts"]
    assert form.errors["hosts"][0].startswith("Item 2: 'BAD_HOST' does not match")


def test_conditional_requirements_from_the_schema_land_on_the_right_fields():
    hubspot = read_template_file(CATALOG_DIR / "hubspot.json")["config_schema"]
    form = bound({"auth_mode": "oauth"}, schema=hubspot)
    assert not form.is_valid()
    assert form.errors == {
        "client_id": ["This field is required."],
        "client_secret": ["This field is required."],
    }


def test_an_object_level_schema_error_becomes_a_non_field_error():
    schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "email": {"type": "string", "title": "E-mail", "description": "Address."},
            "phone": {"type": "string", "title": "Phone", "description": "Number."},
        },
        "anyOf": [{"required": ["email"]}, {"required": ["phone"]}],
    }
    form = bound({}, schema=schema)
    assert not form.is_valid()
    assert list(form.errors) == ["__all__"] and form.non_field_errors()
    assert bound({"phone": "+15550100"}, schema=schema).is_valid()


def test_a_field_with_its_own_error_is_not_reported_twice():
    form = bound({**VALID, "retries": "nine"})
    assert not form.is_valid()
    assert form.errors["retries"] == ["Enter a whole number."]


def test_labelled_enum_choices_come_from_one_of_const_titles():
    zoho = read_template_file(CATALOG_DIR / "zoho.json")["config_schema"]
    field = config_form_class(zoho)().fields["accounts_url"]
    assert ("https://accounts.zoho.eu", "Europe (zoho.eu)") in field.choices
    assert field.initial == "https://accounts.zoho.com"


def test_integer_enum_keeps_integers():
    schema = {
        "type": "object",
        "properties": {
            "size": {"type": "integer", "title": "Size", "description": "Page size.", "enum": [10, 50, 100]}
        },
    }
    form = bound({"size": "50"}, schema=schema)
    assert form.is_valid(), form.errors
    assert form.config == {"size": 50}


# --- secrets ------------------------------------------------------------------------------------


def test_a_secret_is_never_rendered_nor_given_an_initial_value():
    stored = {"name": "acme", "token": STORED_SECRET, "proxy": {"password": STORED_SECRET}}
    form_class = config_form_class(SCHEMA, stored=stored)
    unbound = form_class()
    assert unbound.fields["token"].initial is None
    assert STORED_SECRET not in str(unbound)
    assert 'value="acme"' in str(unbound["name"])  # non-secrets are shown back for editing
    invalid = bound({**VALID, "name": "X", "token": "typed-new-secret"}, stored=stored)
    assert not invalid.is_valid()
    html = str(invalid)
    assert STORED_SECRET not in html and "typed-new-secret" not in html


def test_a_blank_secret_keeps_the_stored_one_and_says_so():
    form = bound({**VALID, "token": ""}, stored={"token": STORED_SECRET})
    assert form.fields["token"].required is False
    assert form.fields["token"].help_text.startswith(STORED_SECRET_HELP)
    assert form.is_valid(), form.errors
    assert "token" not in form.to_config()  # left to merge_config
    assert form.config["token"] == STORED_SECRET


def test_a_typed_secret_replaces_the_stored_one():
    form = bound({**VALID, "token": "brand-new-token"}, stored={"token": STORED_SECRET})
    assert form.is_valid(), form.errors
    assert form.config["token"] == "brand-new-token"


def test_a_required_secret_with_nothing_stored_is_required():
    form = bound({**VALID, "token": ""})
    assert form.fields["token"].required is True
    assert STORED_SECRET_HELP not in form.fields["token"].help_text
    assert not form.is_valid() and list(form.errors) == ["token"]


def test_secret_schema_errors_never_echo_the_value():
    schema = {
        "type": "object",
        "properties": {
            "key": {
                "type": "string",
                "title": "Key",
                "description": "Secret.",
                "format": "password",
                "pattern": "^\\{",
            }
        },
    }
    form = bound({"key": "not-json-secret-value"}, schema=schema)
    assert not form.is_valid()
    assert "not-json-secret-value" not in str(form.errors)


# --- every catalog schema -----------------------------------------------------------------------

# Values for the required (and conditionally required) fields each catalog form does not default.
REQUIRED_SAMPLES: dict[str, dict[str, Any]] = {
    "hubspot": {"access_token": "pat-na1-00000000-test"},
    "salesforce": {"client_id": "3MVG9-consumer-key", "client_secret": "consumer-secret-1"},
    "pipedrive": {"api_token": "0123456789abcdef0123456789abcdef01234567", "company_domain": "acme"},
    "zoho": {"client_id": "1000.ABCDEF", "client_secret": "zoho-client-secret"},
    "aitable": {"api_token": "uskTestToken123", "datasheets.contact": "dstLeads12345"},
    "missionx": {
        "base_url": "https://api.missionx.example",
        "api_key": "mx-key-0123456789abcdef",
        "webhook_secret": "mx-whsec-0123456789abcdef",
    },
    "gohighlevel": {
        "apiKey": "pit-0123456789abcdef",
        "locationId": "ve9EPM428h8vShlRW1KT",
    },
    "facebook_lead_ads": {
        "app_id": "1234567890",
        "app_secret": "app-secret-0123456789",
        "pageId": "1029384756",
        "adAccountId": "act_1029384757",
        "verify_token": "verify-me-please",
    },
    "google_analytics": {"measurementId": "G-ABC123XYZ", "apiSecret": "mp-secret-123"},
    "alacarte_chat": {"api_key": "alc-key-0123456789abcdef"},
    "enrichment_http": {"base_url": "https://enrich.example.com", "api_key": "enrich-key-123"},
}


def post_data_from_initial(form: forms.Form) -> dict[str, Any]:
    """What a browser would post for an untouched form."""
    data: dict[str, Any] = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if isinstance(field, forms.BooleanField):
            if value:
                data[name] = "on"
        elif value not in (None, "", []):
            data[name] = value
    return data


def test_samples_cover_the_whole_catalog():
    assert set(REQUIRED_SAMPLES) == {path.stem for path in CATALOG_DIR.glob("*.json")}


@pytest.mark.parametrize("path", sorted(CATALOG_DIR.glob("*.json")), ids=lambda p: p.stem)
def test_every_catalog_form_renders_and_accepts_its_defaults_plus_required_values(path: Path):
    schema = read_template_file(path)["config_schema"]
    form_class = config_form_class(schema)
    html = str(form_class())
    for name in form_class.base_fields:
        assert f'name="{name}"' in html
    samples = REQUIRED_SAMPLES[path.stem]
    form = bound({**post_data_from_initial(form_class()), **samples}, schema=schema)
    assert form.is_valid(), form.errors
    assert validate_config(schema, form.config) == form.config
    for name, value in samples.items():
        node = form.config
        for part in name.split("."):
            node = node[part]
        assert node == value
    assert not bound({}, schema=schema).is_valid()  # something is always required


# --- setup instructions -------------------------------------------------------------------------


def test_help_markdown_renders_formatting_and_strips_anything_executable():
    html = render_help_markdown(
        "## Steps\n1. Open **Settings** and copy `<your host>/x`\n\n"
        "<script>alert('x')</script>\n<img src=x onerror=alert(1)>\n"
        "[bad](javascript:alert(1)) [docs](https://example.com/docs)\n"
    )
    assert "<h2>Steps</h2>" in html and "<strong>Settings</strong>" in html
    assert "<code>&lt;your host&gt;/x</code>" in html
    assert "<script" not in html and "alert('x')" not in html
    assert "onerror" not in html and "javascript:" not in html
    assert '<a href="https://example.com/docs" rel="noopener noreferrer">docs</a>' in html
    assert render_help_markdown("") == ""
