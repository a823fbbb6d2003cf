"""The HubSpot emulator over real HTTP: paths, caps, bodies and limits as providers.md §1 has them."""

import pytest
import requests

from connectors.sandbox.models import SandboxRecord
from tests.connectors.hubspot.conftest import control

pytestmark = pytest.mark.django_db(transaction=True)


def objects(base, object_type="contacts"):
    return f"{base}/crm/v3/objects/{object_type}"


def test_list_defaults_to_ten_caps_at_one_hundred_and_pages_with_after(hs, base, api):
    hs.seed("contacts", 130, None)
    first = api.get(objects(base), timeout=10).json()
    assert len(first["results"]) == 10
    assert first["paging"]["next"]["link"].startswith(objects(base))
    seen = []
    after = None
    while True:
        page = api.get(
            objects(base), params={"limit": 500, **({"after": after} if after else {})}, timeout=10
        ).json()
        assert len(page["results"]) <= 100
        seen += [r["id"] for r in page["results"]]
        after = page.get("paging", {}).get("next", {}).get("after")
        if not after:
            break
    assert len(seen) == len(set(seen)) == 130


def test_records_keep_every_property_as_a_string_and_iso_modified_dates(hs, base, api):
    created = api.post(
        objects(base),
        json={"properties": {"email": "A@Example.com", "firstname": "Ana", "hubspot_owner_id": 17}},
        timeout=10,
    )
    assert created.status_code == 201
    body = created.json()
    assert body["id"].isdigit()
    assert body["properties"]["email"] == "a@example.com"
    assert body["properties"]["hubspot_owner_id"] == "17"
    assert body["properties"]["lastmodifieddate"].endswith("Z")
    record = SandboxRecord.objects.get(provider="hubspot", object_type="contacts", remote_id=body["id"])
    assert all(isinstance(v, str) for v in record.data.values())
    deal = api.post(
        objects(base, "deals"), json={"properties": {"dealname": "D", "amount": 12.5}}, timeout=10
    ).json()
    assert deal["properties"]["amount"] == "12.5"
    assert "hs_lastmodifieddate" in deal["properties"]
    second = api.post(objects(base), json={"properties": {"email": "b@example.com"}}, timeout=10).json()
    assert int(second["id"]) > int(body["id"])


def test_get_patch_delete_one_record(hs, base, api):
    created = api.post(objects(base, "companies"), json={"properties": {"name": "Acme"}}, timeout=10).json()
    url = f"{objects(base, 'companies')}/{created['id']}"
    patched = api.patch(url, json={"properties": {"name": "Acme 2", "domain": "acme.test"}}, timeout=10)
    assert patched.status_code == 200
    assert (
        api.get(url, params={"properties": "name,domain"}, timeout=10).json()["properties"]["name"]
        == "Acme 2"
    )
    bad = api.patch(url, json={"properties": {"nope": "x"}}, timeout=10)
    assert bad.status_code == 400 and bad.json()["category"] == "VALIDATION_ERROR"
    assert api.delete(url, timeout=10).status_code == 204
    missing = api.get(url, timeout=10)
    assert missing.status_code == 404 and missing.json()["status"] == "error"
    assert api.get(url, params={"archived": "true"}, timeout=10).json()["archived"] is True


def test_archived_true_lists_only_archived_records(hs, base, api):
    hs.seed("contacts", 5, None)
    ids = list(hs.records("contacts").values_list("remote_id", flat=True))
    assert (
        api.post(
            f"{objects(base)}/batch/archive", json={"inputs": [{"id": ids[0]}, {"id": ids[1]}]}, timeout=10
        ).status_code
        == 204
    )
    archived = api.get(objects(base), params={"archived": "true"}, timeout=10).json()["results"]
    live = api.get(objects(base), timeout=10).json()["results"]
    assert sorted(r["id"] for r in archived) == sorted(ids[:2])
    assert all(r["archived"] and r["archivedAt"] for r in archived)
    assert sorted(r["id"] for r in live) == sorted(ids[2:])


def test_search_filters_on_epoch_ms_modified_time_sorts_and_counts(hs, base, api):
    hs.seed("contacts", 30, None)
    rows = list(hs.records("contacts").order_by("updated_at"))
    pivot = rows[19]
    pivot_ms = str(int(pivot.updated_at.timestamp() * 1000))
    body = {
        "filterGroups": [
            {"filters": [{"propertyName": "lastmodifieddate", "operator": "GT", "value": pivot_ms}]}
        ],
        "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
        "limit": 4,
        "properties": ["email"],
    }
    page = api.post(f"{objects(base)}/search", json=body, timeout=10).json()
    assert page["total"] == 10
    assert [r["id"] for r in page["results"]] == [r.remote_id for r in rows[20:24]]
    assert page["paging"]["next"]["after"] == "4"
    assert set(page["results"][0]["properties"]) >= {"email", "lastmodifieddate", "hs_object_id"}
    by_email = {
        "filterGroups": [
            {
                "filters": [
                    {
                        "propertyName": "email",
                        "operator": "IN",
                        "values": [rows[0].data["email"].upper(), rows[1].data["email"]],
                    }
                ]
            },
            {"filters": [{"propertyName": "hs_object_id", "operator": "EQ", "value": rows[2].remote_id}]},
        ]
    }
    found = api.post(f"{objects(base)}/search", json=by_email, timeout=10).json()
    assert sorted(r["id"] for r in found["results"]) == sorted(r.remote_id for r in rows[:3])
    has = {"filterGroups": [{"filters": [{"propertyName": "jobtitle", "operator": "HAS_PROPERTY"}]}]}
    assert api.post(f"{objects(base)}/search", json=has, timeout=10).json()["total"] == 0


@pytest.mark.parametrize(
    ("groups", "per_group"),
    [(6, 1), (1, 11), (5, 6)],  # 6 groups; 11 in a group; 30 filters in all
)
def test_search_filter_caps_answer_400_validation_error(hs, base, api, groups, per_group):
    flt = {"propertyName": "email", "operator": "HAS_PROPERTY"}
    body = {"filterGroups": [{"filters": [flt] * per_group} for _ in range(groups)]}
    resp = api.post(f"{objects(base)}/search", json=body, timeout=10)
    assert resp.status_code == 400
    assert resp.json()["category"] == "VALIDATION_ERROR"


def test_search_at_the_caps_is_accepted_and_limit_over_200_is_refused(hs, base, api):
    flt = {"propertyName": "email", "operator": "HAS_PROPERTY"}
    ok = {"filterGroups": [{"filters": [flt] * 5} for _ in range(5)]}
    assert api.post(f"{objects(base)}/search", json=ok, timeout=10).status_code == 200
    assert api.post(f"{objects(base)}/search", json={"limit": 201}, timeout=10).status_code == 400


def test_search_cannot_page_past_the_result_ceiling(hs, base, api):
    hs.seed("contacts", 12, None)
    control(base, "settings", {"search_ceiling": 10})
    page = api.post(f"{objects(base)}/search", json={"limit": 8, "after": "8"}, timeout=10).json()
    assert len(page["results"]) == 2 and page["total"] == 12  # stops at the ceiling
    past = api.post(f"{objects(base)}/search", json={"limit": 8, "after": "10"}, timeout=10)
    assert past.status_code == 400 and past.json()["category"] == "VALIDATION_ERROR"


def test_batch_over_one_hundred_inputs_is_refused_whole(hs, base, api):
    inputs = [{"properties": {"email": f"p{i}@example.com"}} for i in range(101)]
    resp = api.post(f"{objects(base)}/batch/create", json={"inputs": inputs}, timeout=10)
    assert resp.status_code == 400 and resp.json()["category"] == "VALIDATION_ERROR"
    assert hs.records("contacts").count() == 0


def test_batch_partial_failure_is_207_with_errors_naming_the_inputs(hs, base, api):
    inputs = [
        {"properties": {"email": "ok@example.com"}, "objectWriteTraceId": "0"},
        {"properties": {"email": "bad@example.com", "bogus": "1"}, "objectWriteTraceId": "1"},
    ]
    resp = api.post(f"{objects(base)}/batch/create", json={"inputs": inputs}, timeout=10)
    assert resp.status_code == 207
    body = resp.json()
    assert body["numErrors"] == 1
    assert body["errors"][0]["context"]["objectWriteTraceId"] == ["1"]
    assert [r["objectWriteTraceId"] for r in body["results"]] == ["0"]
    good_id = body["results"][0]["id"]
    update = api.post(
        f"{objects(base)}/batch/update",
        json={
            "inputs": [
                {"id": good_id, "properties": {"firstname": "Ok"}},
                {"id": "999999", "properties": {"firstname": "X"}},
            ]
        },
        timeout=10,
    )
    assert update.status_code == 207
    assert update.json()["errors"][0]["context"]["ids"] == ["999999"]
    read = api.post(
        f"{objects(base)}/batch/read",
        json={"inputs": [{"id": good_id}, {"id": "424242"}], "properties": ["firstname"]},
        timeout=10,
    )
    assert read.status_code == 207
    assert read.json()["results"][0]["properties"]["firstname"] == "Ok"
    assert read.json()["errors"][0]["context"]["ids"] == ["424242"]


def test_batch_upsert_by_email_flags_new_records(hs, base, api):
    api.post(objects(base), json={"properties": {"email": "old@example.com"}}, timeout=10)
    inputs = [
        {"id": "old@example.com", "idProperty": "email", "properties": {"firstname": "Old"}},
        {"id": "new@example.com", "idProperty": "email", "properties": {"firstname": "New"}},
    ]
    body = api.post(f"{objects(base)}/batch/upsert", json={"inputs": inputs}, timeout=10).json()
    assert {r["properties"]["email"]: r["new"] for r in body["results"]} == {
        "old@example.com": False,
        "new@example.com": True,
    }
    assert hs.records("contacts").count() == 2


def test_duplicate_email_is_409_contact_exists_with_the_existing_id(hs, base, api):
    first = api.post(objects(base), json={"properties": {"email": "dup@example.com"}}, timeout=10).json()
    again = api.post(objects(base), json={"properties": {"email": "DUP@example.com"}}, timeout=10)
    assert again.status_code == 409
    assert again.json()["message"] == f"Contact already exists. Existing ID: {first['id']}"
    assert again.json()["error"] == "CONTACT_EXISTS"
    assert hs.records("contacts").count() == 1


def test_unauthenticated_calls_get_hubspots_401_body(hs, base):
    resp = requests.get(objects(base), headers={"Authorization": "Bearer pat-na1-nope"}, timeout=10)
    assert resp.status_code == 401
    assert resp.json()["category"] == "INVALID_AUTHENTICATION"
    assert resp.json()["message"].startswith("Authentication credentials not found")


def test_the_101st_request_in_ten_seconds_is_429_with_hubspots_headers_and_body(hs, base, api):
    first = api.get(objects(base), params={"limit": 1}, timeout=10)
    assert first.headers["X-HubSpot-RateLimit-Max"] == "100"
    assert first.headers["X-HubSpot-RateLimit-Remaining"] == "99"
    assert first.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    assert "X-HubSpot-RateLimit-Daily-Remaining" in first.headers  # a private-app token
    statuses = [api.get(objects(base), params={"limit": 1}, timeout=10).status_code for _ in range(99)]
    assert set(statuses) == {200}
    blocked = api.get(objects(base), params={"limit": 1}, timeout=10)
    assert blocked.status_code == 429
    body = blocked.json()
    assert (body["errorType"], body["policyName"], body["status"]) == (
        "RATE_LIMIT",
        "TEN_SECONDLY_ROLLING",
        "error",
    )
    assert blocked.headers["X-HubSpot-RateLimit-Remaining"] == "0"


def test_oauth_tokens_get_no_daily_headers(hs, base):
    token = hs.issue_token(kind="oauth", client_id=hs.client_credentials()[0])
    resp = requests.get(objects(base), headers={"Authorization": f"Bearer {token.access_token}"}, timeout=10)
    assert resp.status_code == 200
    assert "X-HubSpot-RateLimit-Max" in resp.headers
    assert "X-HubSpot-RateLimit-Daily" not in resp.headers


def test_search_has_its_own_five_per_second_limit(hs, base, api):
    statuses = [api.post(f"{objects(base)}/search", json={}, timeout=10).status_code for _ in range(6)]
    assert statuses[:5] == [200] * 5
    assert statuses[5] == 429


def test_daily_limit_answers_429_with_the_daily_policy(hs, base, api):
    control(base, "settings", {"daily_limit": 2})
    assert [api.get(objects(base), timeout=10).status_code for _ in range(2)] == [200, 200]
    blocked = api.get(objects(base), timeout=10)
    assert blocked.status_code == 429 and blocked.json()["policyName"] == "DAILY"
    assert blocked.headers["X-HubSpot-RateLimit-Daily-Remaining"] == "0"


def test_fire_webhooks_posts_a_v3_signed_event_array(hs, base, live_server):
    from connectors.base import WebhookRequest
    from connectors.hubspot import webhooks

    target = f"{base}/_control/state"  # any endpoint that answers 200 will do as a receiver
    sent = control(
        base,
        "webhooks",
        {"target_url": target, "events": [{"subscriptionType": "contact.creation", "objectId": 5}]},
    )
    assert sent["status_code"] == 200
    hook = hs.fire_webhooks(None, target, [{"subscriptionType": "deal.deletion", "objectId": 9}])
    request = WebhookRequest(method="POST", url=target, headers=hook.headers, body=hook.body.encode())
    webhooks.verify(
        request,
        secret=hs.client_credentials()[1],
        now=int(hook.headers["X-HubSpot-Request-Timestamp"]) / 1000,
    )
    assert "X-HubSpot-Signature" not in hook.headers  # v3 only
    [event] = webhooks.parse(request)
    assert (event.entity, event.remote_id, event.action) == ("deal", "9", "deleted")
    with pytest.raises(Exception, match="mismatch"):
        webhooks.verify(
            request, secret="another-secret", now=int(hook.headers["X-HubSpot-Request-Timestamp"]) / 1000
        )


def test_seed_control_is_fast_bulk_and_ids_increase(hs, base):
    assert control(base, "seed", {"object": "deals", "count": 2500})["seeded"] == 2500
    ids = sorted(int(i) for i in hs.records("deals").values_list("remote_id", flat=True))
    assert len(set(ids)) == 2500 and ids == list(range(ids[0], ids[0] + 2500))
