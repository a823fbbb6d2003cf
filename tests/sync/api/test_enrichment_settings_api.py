"""The automation settings, scoring profile and rule tables over the API: validation and tenancy."""

import pytest

from integrations.models import AuditLog, SubAccount
from sync.models import NextActionRule, OwnerRule, ScoringProfile


def test_automation_shows_the_defaults_without_creating_a_profile(api, subaccount):
    body = api.get("/api/v1/automation/").json()
    assert body["auto_enrich"] is False and body["deal_threshold"] == 70
    profile = body["scoring_profile"]
    assert (profile["weight_fit"], profile["field_prefix"], profile["icp_industries"]) == (
        30,
        "platform_",
        [],
    )
    assert not ScoringProfile.objects.exists()


def test_automation_patch_changes_what_it_names_and_is_audited(api, subaccount, other_subaccount):
    answer = api.patch(
        "/api/v1/automation/",
        {
            "auto_enrich": True,
            "auto_create_deals": True,
            "deal_threshold": 80,
            "scoring_profile": {
                "icp_industries": [" SaaS ", "Fintech", "SaaS"],
                "icp_countries": ["gb", "us"],
                "weight_financial": 0,
                "provider_score": "replace",
                "deal_stage": "appointmentscheduled",
            },
        },
        format="json",
    )
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert (body["auto_enrich"], body["auto_score"], body["deal_threshold"]) == (True, False, 80)
    assert body["scoring_profile"]["icp_industries"] == ["SaaS", "Fintech"]
    stored = SubAccount.objects.get(pk=subaccount.pk)
    assert (stored.auto_enrich, stored.auto_create_deals, stored.deal_threshold) == (True, True, 80)
    profile = ScoringProfile.objects.get(subaccount=subaccount)
    assert profile.icp_countries == ["GB", "US"]
    assert (profile.weight_financial, profile.weight_fit, profile.provider_score) == (0, 30, "replace")
    audit = AuditLog.objects.get(subaccount=subaccount, action="automation.updated")
    assert audit.changes["deal_threshold"] == {"from": 70, "to": 80}
    assert "scoring_profile.icp_industries" in audit.changes
    untouched = SubAccount.objects.get(pk=other_subaccount.pk)
    assert (untouched.auto_enrich, untouched.deal_threshold) == (False, 70)
    assert not ScoringProfile.objects.filter(subaccount=other_subaccount).exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"deal_threshold": 101}, "deal_threshold"),
        ({"deal_threshold": -1}, "deal_threshold"),
        ({"auto_enrich": "maybe"}, "auto_enrich"),
        ({"auto_magic": True}, "auto_magic"),
        ({"scoring_profile": {"icp_titles": [1, 2]}}, "scoring_profile"),
        ({"scoring_profile": {"icp_sizes": "51-200"}}, "scoring_profile"),
        ({"scoring_profile": {"weight_fit": -5}}, "scoring_profile"),
        ({"scoring_profile": {"provider_score": "sometimes"}}, "scoring_profile"),
        ({"scoring_profile": {"field_prefix": "bad prefix!"}}, "scoring_profile"),
        ({"scoring_profile": {"colour": "red"}}, "scoring_profile.colour"),
        ({"scoring_profile": ["not", "an", "object"]}, "scoring_profile"),
    ],
)
def test_automation_patch_refuses_invalid_input_and_writes_nothing(api, subaccount, body, field):
    answer = api.patch("/api/v1/automation/", body, format="json")
    assert answer.status_code == 400, answer.content
    error = answer.json()["error"]
    assert error["code"] == "invalid" and field in error["details"]
    assert SubAccount.objects.get(pk=subaccount.pk).deal_threshold == 70
    assert not AuditLog.objects.filter(action="automation.updated").exists()


def test_all_weights_at_zero_are_refused_counting_the_stored_ones(api, subaccount):
    ScoringProfile.objects.create(
        subaccount=subaccount, weight_financial=0, weight_growth=0, weight_engagement=0
    )
    answer = api.patch("/api/v1/automation/", {"scoring_profile": {"weight_fit": 0}}, format="json")
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "weights_all_zero"
    assert "weight_fit" in answer.json()["error"]["details"]
    assert ScoringProfile.objects.get(subaccount=subaccount).weight_fit == 30


def test_each_sub_account_sees_its_own_automation(api, other_api, subaccount, other_subaccount):
    assert api.patch("/api/v1/automation/", {"deal_threshold": 55}, format="json").status_code == 200
    assert other_api.get("/api/v1/automation/").json()["deal_threshold"] == 70
    assert api.get("/api/v1/automation/").json()["deal_threshold"] == 55


def test_next_action_rules_crud_in_position_order(api, subaccount):
    first = api.post(
        "/api/v1/next-action-rules/",
        {"position": 2, "min_score": 80, "action": "Schedule call within 48 h", "due_in_hours": 48},
        format="json",
    )
    assert first.status_code == 201, first.content
    second = api.post(
        "/api/v1/next-action-rules/",
        {"position": 1, "min_score": 50, "max_score": 79, "action": "Send case study", "stage": "qualified"},
        format="json",
    )
    assert second.status_code == 201
    listed = api.get("/api/v1/next-action-rules/").json()
    assert [rule["action"] for rule in listed] == ["Send case study", "Schedule call within 48 h"]
    pk = first.json()["id"]
    patched = api.patch(f"/api/v1/next-action-rules/{pk}/", {"due_in_hours": 24}, format="json")
    assert patched.status_code == 200 and patched.json()["due_in_hours"] == 24
    assert NextActionRule.objects.get(pk=pk).subaccount == subaccount
    assert api.delete(f"/api/v1/next-action-rules/{pk}/").status_code == 204
    assert list(NextActionRule.objects.values_list("action", flat=True)) == ["Send case study"]


@pytest.mark.parametrize(
    "body",
    [
        {"action": ""},
        {"action": "x", "max_score": 101},
        {"action": "x", "subaccount": 99},
        {},
    ],
)
def test_next_action_rule_validation(api, body):
    answer = api.post("/api/v1/next-action-rules/", body, format="json")
    assert answer.status_code == 400, answer.content
    assert answer.json()["error"]["code"] == "invalid"
    assert not NextActionRule.objects.exists()


def test_a_rule_whose_min_score_would_pass_its_max_is_a_409(api, subaccount):
    answer = api.post(
        "/api/v1/next-action-rules/", {"min_score": 90, "max_score": 10, "action": "x"}, format="json"
    )
    assert answer.status_code == 409 and answer.json()["error"]["code"] == "score_range"
    rule = NextActionRule.objects.create(subaccount=subaccount, max_score=50, action="Nurture")
    answer = api.patch(f"/api/v1/next-action-rules/{rule.pk}/", {"min_score": 60}, format="json")
    assert answer.status_code == 409
    assert NextActionRule.objects.get(pk=rule.pk).min_score == 0 and NextActionRule.objects.count() == 1


@pytest.mark.parametrize("value", [1, "yes", "true"])
def test_booleans_and_integers_are_json_types_only(api, value):
    answer = api.post("/api/v1/next-action-rules/", {"action": "x", "is_active": value}, format="json")
    assert answer.status_code == 400 and "is_active" in answer.json()["error"]["details"]
    answer = api.patch("/api/v1/automation/", {"deal_threshold": "50"}, format="json")
    assert answer.status_code == 400
    answer = api.post("/api/v1/owner-rules/", {"name": 5, "team": ["a"]}, format="json")
    assert answer.status_code == 400 and "name" in answer.json()["error"]["details"]


def test_owner_rules_crud_and_validation(api, subaccount):
    created = api.post(
        "/api/v1/owner-rules/",
        {"name": "UK", "countries": ["gb", "ie"], "team": ["alice@acme.test", "bob@acme.test"]},
        format="json",
    )
    assert created.status_code == 201, created.content
    rule = OwnerRule.objects.get(pk=created.json()["id"])
    assert (rule.countries, rule.team, rule.subaccount_id) == (
        ["GB", "IE"],
        ["alice@acme.test", "bob@acme.test"],
        subaccount.pk,
    )
    assert api.post("/api/v1/owner-rules/", {"name": "Empty", "team": []}, format="json").status_code == 400
    assert (
        api.post("/api/v1/owner-rules/", {"name": "Bad", "team": [{"a": 1}]}, format="json").status_code
        == 400
    )
    answer = api.patch(f"/api/v1/owner-rules/{rule.pk}/", {"next_index": 5, "team": ["carol"]}, format="json")
    assert answer.status_code == 200
    rule.refresh_from_db()
    assert (rule.team, rule.next_index) == (["carol"], 0)  # next_index is the engine's, read-only


def test_another_sub_accounts_rules_are_404s(api, other_subaccount):
    rule = NextActionRule.objects.create(subaccount=other_subaccount, action="Theirs")
    owner = OwnerRule.objects.create(subaccount=other_subaccount, name="Theirs", team=["x"])
    assert api.get("/api/v1/next-action-rules/").json() == []
    assert api.get(f"/api/v1/next-action-rules/{rule.pk}/").status_code == 404
    answer = api.patch(f"/api/v1/next-action-rules/{rule.pk}/", {"action": "Mine"}, format="json")
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_found"
    assert api.delete(f"/api/v1/owner-rules/{owner.pk}/").status_code == 404
    assert NextActionRule.objects.get(pk=rule.pk).action == "Theirs"
    assert OwnerRule.objects.filter(pk=owner.pk).exists()
