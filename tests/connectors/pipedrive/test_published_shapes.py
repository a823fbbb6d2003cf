"""The emulator's responses against Pipedrive's published OpenAPI description.

published_shapes.json holds the property types of the models Pipedrive's npm client generates from
that description (see published_shapes.py for the package version, the files and how to regenerate).
Each test drives the running emulator over HTTP — list, get, create (and delete) per object — and
checks every body: each property is one the description publishes, with its JSON type, null only
where the description (or providers.md, recorded in the fixture) allows it, and the properties every
response carries are there.
"""

import json
from pathlib import Path
from typing import Any

import pytest
import requests

FIXTURE = json.loads((Path(__file__).with_name("published_shapes.json")).read_text())
MODELS, ENVELOPES = FIXTURE["models"], FIXTURE["envelopes"]
JSON_TYPES = {
    "number": (int, float),
    "string": (str,),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
}


def type_errors(value: Any, spec: dict[str, Any], where: str) -> list[str]:
    """What about ``value`` the published ``spec`` does not allow (empty when it conforms)."""
    if value is None:
        allowed = spec["nullable"] or where in FIXTURE["null_by_providers_md"]
        return [] if allowed else [f"{where}: null, the description does not allow it"]
    if spec["type"] == "any":
        return []
    kinds = JSON_TYPES[spec["type"]]
    if not isinstance(value, kinds) or (spec["type"] == "number" and isinstance(value, bool)):
        return [f"{where}: {type(value).__name__} {value!r}, published as {spec['type']}"]
    if spec["type"] == "array" and "items" in spec:
        return [e for i, item in enumerate(value) for e in type_errors(item, spec["items"], f"{where}[{i}]")]
    if spec["type"] == "object" and "properties" in spec:
        return shape_errors(value, spec["properties"], where)
    return []


def shape_errors(body: dict[str, Any], properties: dict[str, Any], where: str) -> list[str]:
    unknown = [f"{where}.{name}: not a published property" for name in body if name not in properties]
    return unknown + [
        e
        for name, value in body.items()
        if name in properties
        for e in type_errors(value, properties[name], f"{where}.{name}")
    ]


def assert_conforms(item: dict[str, Any], model: str) -> None:
    errors = shape_errors(item, MODELS[model]["properties"], model)
    missing = [f"{model}.{n}: missing" for n in FIXTURE["always_present"].get(model, []) if n not in item]
    assert not errors + missing, "\n".join(errors + missing)


def assert_envelope(body: dict[str, Any], envelope: str) -> Any:
    """``{success: true, data, additional_data?}`` as the envelope model publishes it (the top level
    only: ``data`` is checked against its object's model by the caller)."""
    published = {
        name: {"type": spec["type"], "nullable": spec["nullable"]}
        for name, spec in {**ENVELOPES["base"]["properties"], **ENVELOPES[envelope]["properties"]}.items()
    }
    assert body["success"] is True
    assert not shape_errors(body, published, envelope), shape_errors(body, published, envelope)
    return body["data"]


def assert_v2_list(body: dict[str, Any], model: str) -> list[dict[str, Any]]:
    items = assert_envelope(body, "v2_list")
    additional = body["additional_data"]
    assert "next_cursor" in additional
    assert_conforms(additional, "v2_list_additional_data")
    for item in items:
        assert_conforms(item, model)
    return items


def create_bodies(api, base) -> dict[str, dict[str, Any]]:
    """One minimal create body per v2 object, linked to each other, as a client would send them."""
    org = api.post(f"{base}/api/v2/organizations", json={"name": "Acme"}).json()["data"]
    person = api.post(
        f"{base}/api/v2/persons",
        json={"name": "Cher", "org_id": org["id"], "emails": [{"value": "cher@example.com"}]},
    ).json()["data"]
    return {
        "organizations": {"name": "Initech", "address": {"value": "1 Main St"}},
        "persons": {"name": "Ana", "phones": [{"value": "+15550100", "label": "mobile"}]},
        "deals": {"title": "Big deal", "person_id": person["id"], "org_id": org["id"], "value": 50},
        "activities": {"subject": "Call Ana", "person_id": person["id"], "due_date": "2026-01-15"},
    }


@pytest.mark.parametrize("object_type", ["persons", "organizations", "deals", "activities"])
def test_v2_list_get_create_update_delete_conform(api, base, pd, object_type):
    body = create_bodies(api, base)[object_type]
    made = api.post(f"{base}/api/v2/{object_type}", json=body)
    assert made.status_code == 200, made.text
    created = assert_envelope(made.json(), "v2_one")
    assert_conforms(created, object_type)

    pd.seed(object_type, 3)
    listed = api.get(f"{base}/api/v2/{object_type}", params={"limit": 2})
    assert len(assert_v2_list(listed.json(), object_type)) == 2
    assert isinstance(listed.json()["additional_data"]["next_cursor"], str)
    last = api.get(f"{base}/api/v2/{object_type}", params={"limit": 500}).json()
    assert_v2_list(last, object_type)
    assert last["additional_data"]["next_cursor"] is None

    got = api.get(f"{base}/api/v2/{object_type}/{created['id']}").json()
    assert_conforms(assert_envelope(got, "v2_one"), object_type)

    blanked = {"org_id": None} if object_type in ("persons", "deals", "activities") else {"label_ids": []}
    patched = api.patch(f"{base}/api/v2/{object_type}/{created['id']}", json=blanked).json()
    assert_conforms(assert_envelope(patched, "v2_one"), object_type)

    deleted = api.delete(f"{base}/api/v2/{object_type}/{created['id']}").json()
    assert_conforms(assert_envelope(deleted, "v2_one"), "v2_delete_data")


def test_v1_notes_list_get_create_conform(api, base, pd):
    person = api.post(f"{base}/api/v2/persons", json={"name": "Ana Lee"}).json()["data"]
    made = api.post(f"{base}/v1/notes", json={"content": "Called", "person_id": person["id"]})
    assert made.status_code == 201, made.text
    note = assert_envelope(made.json(), "v1_one")
    assert_conforms(note, "notes")
    assert_conforms(assert_envelope(api.get(f"{base}/v1/notes/{note['id']}").json(), "v1_one"), "notes")

    listed = api.get(f"{base}/v1/notes", params={"limit": 1}).json()
    for item in assert_envelope(listed, "v1_notes_list"):
        assert_conforms(item, "notes")
    assert_conforms(listed["additional_data"]["pagination"], "v1_pagination")


def test_v1_webhooks_list_and_create_conform(api, base, pd):
    made = api.post(
        f"{base}/v1/webhooks",
        json={
            "subscription_url": "https://example.com/hook",
            "event_action": "*",
            "event_object": "person",
            "name": "sync",
            "http_auth_user": "user",
            "http_auth_password": "pass",
            "version": "2.0",
        },
    )
    assert made.status_code == 201, made.text
    assert_conforms(assert_envelope(made.json(), "v1_one"), "webhooks")
    for hook in assert_envelope(api.get(f"{base}/v1/webhooks").json(), "v1_webhooks_list"):
        assert_conforms(hook, "webhooks")


@pytest.mark.parametrize(
    "method, path, body, status",
    [
        ("get", "/api/v2/persons/999999", None, 404),
        ("post", "/api/v2/deals", {"title": ""}, 400),
        ("get", "/api/v2/persons?cursor=not-a-cursor", None, 400),
        ("get", "/v1/notes/999999", None, 404),
    ],
)
def test_error_bodies_conform(api, base, pd, method, path, body, status):
    response = getattr(api, method)(f"{base}{path}", json=body)
    assert response.status_code == status
    error = response.json()
    assert error["success"] is False
    assert_conforms(error, "error")


def test_an_unauthorised_call_has_the_published_error_body(base, pd):
    response = requests.get(f"{base}/api/v2/persons", headers={"x-api-token": "wrong"}, timeout=10)
    assert response.status_code == 401
    assert_conforms(response.json(), "error")
