"""Custom fields created through Zoho's ``POST settings/fields?module=`` over real HTTP to the emulator:
named by label, listed by ``settings/fields`` under the API name Zoho generates, writable and readable
on records; a label the module has answers DUPLICATE_DATA and is used as it is."""

import dataclasses

import pytest

from connectors.base import FieldSpec, PermanentError
from connectors.zoho.emulator.oauth import SCOPES

SPECS = [
    FieldSpec("platform_score", "Platform score", "number"),
    FieldSpec("platform_score_fit", "Platform fit score", "number"),
    FieldSpec("platform_deal_stage", "Platform deal stage", "string"),
    FieldSpec("platform_summary", "Platform summary", "text"),
]


def listed(api, base, module="Contacts"):
    body = api.get(f"{base}/crm/v7/settings/fields", params={"module": module}).json()
    return {f["api_name"]: f for f in body["fields"] if f["custom_field"]}


def test_fields_are_created_listed_and_written(zoho, connector, api, base):
    made = connector.create_fields("contact", SPECS)

    fields = listed(api, base)
    assert {name: (f["field_label"], f["data_type"]) for name, f in fields.items()} == {
        "Platform_score": ("Platform score", "double"),
        "Platform_fit_score": ("Platform fit score", "double"),
        "Platform_deal_stage": ("Platform deal stage", "text"),
        "Platform_summary": ("Platform summary", "textarea"),
    }
    assert fields["Platform_deal_stage"]["length"] == 255
    assert [(f.name, f.label, f.type, f.custom) for f in made] == [
        (spec.label.replace(" ", "_"), spec.label, spec.type, True) for spec in SPECS
    ]
    assert connector.custom_field_name("platform_score") == "Platform_score"
    discovered = {f.name: f for f in connector.discover_fields("contact")}
    assert all(discovered[f.name] == f for f in made)

    payload = {**zoho.sample_record("contact", 1), "Platform_score": "72", "Platform_summary": "Acme."}
    [created] = connector.create("contact", [payload])
    assert created.ok, created.error
    [updated] = connector.update("contact", [(created.remote_id, {"Platform_deal_stage": "qualification"})])
    assert updated.ok, updated.error
    connector.want_fields("contact", ["Platform_score", "Platform_summary", "Platform_deal_stage"])
    [record] = connector.get("contact", [created.remote_id])
    assert (record.fields["Platform_score"], record.fields["Platform_summary"]) == (72.0, "Acme.")
    assert record.fields["Platform_deal_stage"] == "qualification"


def test_accounts_get_their_own_fields(zoho, connector, api, base):
    [made] = connector.create_fields("company", [FieldSpec("platform_signals", "Platform signals", "text")])
    assert made.name == "Platform_signals" and "Platform_signals" in listed(api, base, "Accounts")
    assert listed(api, base) == {}


def test_a_label_the_module_has_answers_duplicate_data_and_is_used(zoho, connector, api, base):
    first = connector.create_fields("contact", SPECS[:1])
    resp = api.post(
        f"{base}/crm/v7/settings/fields",
        params={"module": "Contacts"},
        json={
            "fields": [
                {"field_label": "platform SCORE", "data_type": "double"},
                {"field_label": "Platform tier", "data_type": "text", "length": 40},
            ]
        },
    )
    assert resp.status_code == 207
    duplicate, success = resp.json()["fields"]
    assert (duplicate["code"], duplicate["status"], duplicate["details"]["api_name"]) == (
        "DUPLICATE_DATA",
        "error",
        "field_label",
    )
    assert (success["code"], success["status"]) == ("SUCCESS", "success") and success["details"]["id"]
    assert listed(api, base)["Platform_tier"]["id"] == success["details"]["id"]

    again = connector.create_fields("contact", SPECS)
    assert again[0] == first[0] and len(again) == len(SPECS)
    assert len(listed(api, base)) == len(SPECS) + 1


@pytest.mark.parametrize(
    ("field", "code", "api_name"),
    [
        ({"data_type": "text", "length": 20}, "MANDATORY_NOT_FOUND", "field_label"),
        ({"field_label": "Size", "data_type": "shoe"}, "INVALID_DATA", "data_type"),
        ({"field_label": "Size", "data_type": "text"}, "MANDATORY_NOT_FOUND", "length"),
        ({"field_label": "Size", "data_type": "text", "length": 300}, "INVALID_DATA", "length"),
    ],
)
def test_the_emulator_refuses_invalid_fields_per_item(zoho, api, base, field, code, api_name):
    resp = api.post(f"{base}/crm/v7/settings/fields", params={"module": "Contacts"}, json={"fields": [field]})
    assert resp.status_code == 400
    [answer] = resp.json()["fields"]
    assert (answer["code"], answer["status"], answer["details"]["api_name"]) == (code, "error", api_name)
    assert listed(api, base) == {}


def test_a_refused_field_is_named_after_the_others_are_made(zoho, connector, api, base):
    odd = dataclasses.replace(SPECS[0], label="")  # Zoho requires a label
    with pytest.raises(PermanentError, match='did not create "" in Contacts: MANDATORY_NOT_FOUND'):
        connector.create_fields("contact", [odd, *SPECS[1:]])
    assert sorted(listed(api, base)) == ["Platform_deal_stage", "Platform_fit_score", "Platform_summary"]


def test_the_emulator_answers_whole_request_errors(zoho, api, base):
    url = f"{base}/crm/v7/settings/fields"
    no_module = api.post(url, json={"fields": [{"field_label": "X", "data_type": "double"}]})
    assert (no_module.status_code, no_module.json()["code"]) == (400, "REQUIRED_PARAM_MISSING")
    bad_module = api.post(url, params={"module": "Shoes"}, json={"fields": []})
    assert (bad_module.status_code, bad_module.json()["code"]) == (400, "INVALID_MODULE")
    no_fields = api.post(url, params={"module": "Contacts"}, json={"fields": []})
    assert (no_fields.status_code, no_fields.json()["code"]) == (400, "INVALID_DATA")
    old = api.post(
        f"{base}/crm/v5/settings/fields",
        params={"module": "Contacts"},
        json={"fields": [{"field_label": "X", "data_type": "double"}]},
    )
    assert (old.status_code, old.json()["code"]) == (400, "INVALID_REQUEST_METHOD")


def test_a_grant_without_the_fields_scope_is_refused_not_broken(zoho, connected, make_connector):
    config, tokens = connected
    narrow = [s for s in SCOPES if s != "ZohoCRM.settings.fields.CREATE"]
    token = zoho.issue_token(client_id=config["client_id"], scopes=narrow, data={"dc": "com"})
    tokens = dataclasses.replace(tokens, access_token=token.access_token, refresh_token=token.refresh_token)
    connector = make_connector(config, tokens)

    with pytest.raises(PermanentError, match="ZohoCRM.settings.fields.CREATE") as refused:
        connector.create_fields("contact", SPECS)
    assert refused.type is PermanentError and refused.value.code == "OAUTH_SCOPE_MISMATCH"
    assert connector.discover_fields("contact")  # the grant still reads (and syncs)
