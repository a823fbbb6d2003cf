"""Custom fields created through Pipedrive's ``POST /v1/personFields`` (organization/deal) over real
HTTP to the emulator: named by label under a generated 40-hex key, listed by discovery under the
name the connector returns, writable and readable on records, never made twice for one name."""

import pytest

from connectors.base import FieldSpec, PermanentError
from connectors.pipedrive import fields as pipedrive_fields
from connectors.pipedrive.fields import CUSTOM_KEY

SPECS = [
    FieldSpec("platform_score", "Platform score", "number"),
    FieldSpec("platform_deal_stage", "Platform deal stage", "string"),
    FieldSpec("platform_summary", "Platform summary", "text"),
]


def field_rows(api, base, endpoint):
    body = api.get(f"{base}/api/v1/{endpoint}", params={"limit": 500}).json()
    return {row["name"]: row for row in body["data"] if CUSTOM_KEY.match(row["key"])}


def test_fields_are_created_listed_and_written(pd, connector, api, base):
    made = connector.create_fields("contact", SPECS)

    rows = field_rows(api, base, "personFields")
    assert {name: row["field_type"] for name, row in rows.items()} == {
        "Platform score": "double",
        "Platform deal stage": "varchar",
        "Platform summary": "text",
    }
    assert [(f.name, f.label, f.type, f.custom) for f in made] == [
        (f"custom_fields.{rows[spec.label]['key']}", spec.label, spec.type, True) for spec in SPECS
    ]
    discovered = {f.name: f for f in connector.discover_fields("contact")}
    assert all(discovered[f.name] == f for f in made)

    score, stage = made[0].name, made[1].name
    [result] = connector.create("contact", [{"name": "Ana Lima", "email": "ana@acme.test", score: "72"}])
    assert result.ok, result.error
    [updated] = connector.update("contact", [(result.remote_id, {stage: "qualification"})])
    assert updated.ok, updated.error
    [record] = connector.get("contact", [result.remote_id])
    assert (record.fields[score], record.fields[stage]) == (72, "qualification")
    person = pd.records("persons").get(remote_id=result.remote_id)
    assert person.data["custom_fields"][rows["Platform score"]["key"]] == 72


@pytest.mark.parametrize(("entity", "endpoint"), [("company", "organizationFields"), ("deal", "dealFields")])
def test_organization_and_deal_fields_go_to_their_field_lists(pd, connector, api, base, entity, endpoint):
    [made] = connector.create_fields(entity, [FieldSpec("platform_signals", "Platform signals", "text")])
    rows = field_rows(api, base, endpoint)
    assert made.name == f"custom_fields.{rows['Platform signals']['key']}"
    assert field_rows(api, base, "personFields") == {}


def test_a_field_of_that_name_is_used_not_made_again(pd, connector, api, base):
    by_hand = pd.add_custom_field("persons", "platform SCORE ", "double")  # Pipedrive allows repeats

    made = connector.create_fields("contact", SPECS[:1])
    again = connector.create_fields("contact", SPECS)

    assert made[0].name == f"custom_fields.{by_hand['key']}"
    assert [f.name for f in again][0] == made[0].name
    rows = field_rows(api, base, "personFields")
    assert len(rows) == 3 and sorted(rows) == ["Platform deal stage", "Platform summary", "platform SCORE "]


def test_the_emulator_adds_a_duplicate_name_under_a_new_key(pd, api, base):
    first = api.post(f"{base}/api/v1/personFields", json={"name": "Tier", "field_type": "varchar"})
    second = api.post(f"{base}/v1/personFields", json={"name": "Tier", "field_type": "varchar"})
    assert (first.status_code, second.status_code) == (200, 200)
    keys = {first.json()["data"]["key"], second.json()["data"]["key"]}
    assert len(keys) == 2 and all(CUSTOM_KEY.match(k) for k in keys)
    assert first.json()["success"] is True and first.json()["data"]["name"] == "Tier"


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"field_type": "varchar"}, "Field name must be given"),
        ({"name": "Shoe size", "field_type": "shoe"}, "Invalid field_type: 'shoe'"),
        ({"name": "Tier", "field_type": "enum"}, "Options must be given"),
    ],
)
def test_the_emulator_refuses_invalid_fields_as_pipedrive_does(pd, api, base, body, error):
    resp = api.post(f"{base}/api/v1/personFields", json=body)
    assert resp.status_code == 400
    assert resp.json()["success"] is False and resp.json()["error"].startswith(error)
    assert resp.json()["data"] is None and resp.json()["error_info"]
    assert field_rows(api, base, "personFields") == {}


def test_a_refused_field_is_named_after_the_others_are_made(pd, connector, api, base, monkeypatch):
    monkeypatch.setitem(pipedrive_fields.CREATE_TYPES, "number", "shoe")  # refused, for one spec only
    with pytest.raises(PermanentError, match='did not create "Platform score".*Invalid field_type'):
        connector.create_fields("contact", SPECS)
    assert sorted(field_rows(api, base, "personFields")) == ["Platform deal stage", "Platform summary"]


def test_activities_have_no_custom_fields(connector):
    with pytest.raises(PermanentError, match="no custom fields on activity"):
        connector.create_fields("activity", SPECS)
