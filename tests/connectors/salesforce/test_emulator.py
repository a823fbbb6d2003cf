"""The Salesforce emulator over real HTTP: the wire facts of providers.md §2."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import requests
from django.utils import timezone

from connectors.oauth import code_challenge
from connectors.salesforce.client import case_safe_id
from connectors.salesforce.emulator import emulator
from connectors.salesforce.emulator.schema import OBJECTS, ORG_ID, USER_ID
from connectors.sandbox.models import SandboxRecord

SF_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000$")


def contacts(**filters):
    return SandboxRecord.objects.filter(provider="salesforce", object_type="Contact", **filters)


def test_query_pages_2000_rows_with_a_prefixed_next_records_url(org):
    emulator.seed("Contact", 2500, None)
    first = org.query("SELECT Id, LastName, SystemModstamp FROM Contact ORDER BY SystemModstamp ASC")
    body = first.json()
    assert first.status_code == 200 and body["totalSize"] == 2500 and body["done"] is False
    assert len(body["records"]) == 2000
    assert re.fullmatch(
        r"/sandbox/salesforce/services/data/v62\.0/query/01g\w{15}-2000", body["nextRecordsUrl"]
    )
    record = body["records"][0]
    assert record["attributes"] == {
        "type": "Contact",
        "url": f"/sandbox/salesforce/services/data/v62.0/sobjects/Contact/{record['Id']}",
    }
    assert set(record) == {"attributes", "Id", "LastName", "SystemModstamp"}
    assert (
        len(record["Id"]) == 18
        and record["Id"].startswith("003")
        and SF_DATETIME.match(record["SystemModstamp"])
    )
    # A client joining nextRecordsUrl to the host (as simple-salesforce does) reaches the next page.
    rest = requests.get(org.host + body["nextRecordsUrl"], headers=org.headers(), timeout=10).json()
    assert rest["done"] is True and len(rest["records"]) == 500 and "nextRecordsUrl" not in rest
    ids = [r["Id"] for r in body["records"] + rest["records"]]
    assert len(set(ids)) == 2500 == contacts().count()
    stamps = [r["SystemModstamp"] for r in body["records"] + rest["records"]]
    assert stamps == sorted(stamps)


def test_batch_size_query_option_is_honoured_within_200_to_2000(org):
    emulator.seed("Contact", 450, None)
    soql = "SELECT Id FROM Contact"
    assert len(org.query(soql, **{"Sforce-Query-Options": "batchSize=300"}).json()["records"]) == 300
    small = org.query(soql, **{"Sforce-Query-Options": "batchSize=10"}).json()
    assert len(small["records"]) == 200 and small["nextRecordsUrl"].endswith("-200")
    second = requests.get(org.host + small["nextRecordsUrl"], headers=org.headers(), timeout=10).json()
    assert len(second["records"]) == 200 and second["nextRecordsUrl"].endswith("-400")


def test_bad_soql_answers_400_with_the_array_error_body(org):
    cases = {
        "SELEC Id FROM Contact": "MALFORMED_QUERY",
        "SELECT Id FROM Contact WHERE SystemModstamp > '2024-01-01T00:00:00Z'": "MALFORMED_QUERY",
        "SELECT Id, Shoe_Size__c FROM Contact": "INVALID_FIELD",
        "SELECT Id FROM Spaceship": "INVALID_TYPE",
    }
    for soql, code in cases.items():
        resp = org.query(soql)
        body = resp.json()
        assert resp.status_code == 400, soql
        assert isinstance(body, list) and body[0]["errorCode"] == code and body[0]["message"], soql
        assert resp.headers["Sforce-Limit-Info"].startswith("api-usage=")


def test_where_mixes_indexed_and_field_conditions_and_limit(org):
    made = org.call(
        "POST",
        "/composite/sobjects",
        json={
            "records": [
                {"attributes": {"type": "Contact"}, "LastName": f"Lee{i}", "Email": f"p{i}@example.com"}
                for i in range(5)
            ]
        },
    ).json()
    since = (timezone.now() - timedelta(minutes=5)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    emulator.seed("Contact", 20, None)  # older history: outside the window below
    soql = f"SELECT Id, Email FROM Contact WHERE SystemModstamp > {since} AND Email = 'P3@example.com'"  # noqa: S608 (SOQL under test)
    hit = org.query(soql)
    assert [r["Id"] for r in hit.json()["records"]] == [made[3]["id"]]
    newest = org.query("SELECT Id FROM Contact ORDER BY LastName DESC LIMIT 2").json()
    assert newest["totalSize"] == 2
    by_id = org.query(f"SELECT Id FROM Contact WHERE Id = '{made[0]['id'][:15]}'").json()  # noqa: S608 (SOQL under test)
    assert [r["Id"] for r in by_id["records"]] == [made[0]["id"]]


def test_collections_refuse_more_than_200_records_whole(org):
    records = [{"attributes": {"type": "Contact"}, "LastName": f"L{i}"} for i in range(201)]
    resp = org.call("POST", "/composite/sobjects", json={"allOrNone": False, "records": records})
    assert resp.status_code == 400 and resp.json()[0]["errorCode"] == "EXCEEDED_ID_LIMIT"
    assert contacts().count() == 0


def test_collections_report_per_item_errors_in_input_order(org):
    resp = org.call(
        "POST",
        "/composite/sobjects",
        json={
            "allOrNone": False,
            "records": [
                {"attributes": {"type": "Contact"}, "LastName": "Ok1"},
                {"attributes": {"type": "Contact"}, "FirstName": "NoLast"},
                {"attributes": {"type": "Account"}, "Name": "Acme"},
                {"attributes": {"type": "Contact"}, "LastName": "Bad", "Email": "not-an-email"},
            ],
        },
    )
    results = resp.json()
    assert resp.status_code == 200 and [r["success"] for r in results] == [True, False, True, False]
    assert results[1]["errors"] == [
        {
            "statusCode": "REQUIRED_FIELD_MISSING",
            "message": "Required fields are missing: [LastName]",
            "fields": ["LastName"],
        }
    ]
    assert results[3]["errors"][0]["statusCode"] == "INVALID_EMAIL_ADDRESS"
    assert results[0]["id"].startswith("003") and results[2]["id"].startswith("001")
    assert contacts().count() == 1


def test_all_or_none_rolls_back_every_record(org):
    results = org.call(
        "POST",
        "/composite/sobjects",
        json={
            "allOrNone": True,
            "records": [
                {"attributes": {"type": "Contact"}, "LastName": "Ok"},
                {"attributes": {"type": "Opportunity"}, "Name": "No stage"},
            ],
        },
    ).json()
    assert results[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert results[1]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    assert "StageName" in results[1]["errors"][0]["fields"] and contacts().count() == 0


def test_unknown_field_refuses_the_whole_collection(org):
    resp = org.call(
        "POST",
        "/composite/sobjects",
        json={
            "records": [
                {"attributes": {"type": "Contact"}, "LastName": "Ok"},
                {"attributes": {"type": "Contact"}, "LastName": "X", "Shoe__c": 9},
            ]
        },
    )
    assert resp.status_code == 400 and resp.json()[0]["errorCode"] == "INVALID_FIELD"
    assert contacts().count() == 0


def test_collections_update_and_delete_answer_per_id(org):
    made = org.call(
        "POST",
        "/composite/sobjects",
        json={
            "records": [
                {"attributes": {"type": "Contact"}, "LastName": "A"},
                {"attributes": {"type": "Contact"}, "LastName": "B"},
            ]
        },
    ).json()
    a, b = made[0]["id"], made[1]["id"]
    missing = case_safe_id("003Sb0000000000")
    updated = org.call(
        "PATCH",
        "/composite/sobjects",
        json={
            "records": [
                {"attributes": {"type": "Contact"}, "Id": a, "Title": "CEO"},
                {"attributes": {"type": "Contact"}, "Id": missing, "Title": "x"},
                {"attributes": {"type": "Contact"}, "Id": b, "LastName": ""},
            ]
        },
    ).json()
    assert [r["success"] for r in updated] == [True, False, False]
    assert updated[1]["errors"][0]["statusCode"] == "INVALID_CROSS_REFERENCE_KEY"
    assert updated[2]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    assert contacts().get(remote_id=a).data["Title"] == "CEO"
    deleted = org.call("DELETE", "/composite/sobjects", params={"ids": f"{a},nonsense,{a}"}).json()
    assert [r["success"] for r in deleted] == [True, False, False]
    assert deleted[1]["errors"][0]["statusCode"] == "MALFORMED_ID"
    assert contacts().get(remote_id=a).archived is True


def test_single_record_crud_and_not_found_shapes(org):
    created = org.call("POST", "/sobjects/Contact/", json={"LastName": "Solo", "Email": "solo@example.com"})
    assert created.status_code == 201 and created.json()["success"] is True
    rid = created.json()["id"]
    got = org.get(f"/sobjects/Contact/{rid}").json()
    assert (
        got["Name"] == "Solo" and got["OwnerId"].startswith("005") and SF_DATETIME.match(got["CreatedDate"])
    )
    assert got["LastModifiedDate"] == got["SystemModstamp"]
    assert set(org.get(f"/sobjects/Contact/{rid}", params={"fields": "Email"}).json()) == {
        "attributes",
        "Email",
    }
    patched = org.call("PATCH", f"/sobjects/Contact/{rid}", json={"Title": "CTO"})
    assert patched.status_code == 204 and contacts().get(remote_id=rid).data["Title"] == "CTO"
    refused = org.call("POST", "/sobjects/Contact/", json={"FirstName": "x"})
    assert refused.status_code == 400 and refused.json()[0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    assert org.call("DELETE", f"/sobjects/Contact/{rid}").status_code == 204
    gone = org.get(f"/sobjects/Contact/{rid}")
    assert gone.status_code == 404 and gone.json() == [
        {"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}
    ]
    assert org.call("DELETE", f"/sobjects/Contact/{rid}").json()[0]["errorCode"] == "ENTITY_IS_DELETED"


def test_external_id_upsert_creates_201_updates_204_and_reports_300_on_several(org):
    path = "/sobjects/Contact/External_Id__c/ext-1"
    created = org.call("PATCH", path, json={"LastName": "Ext"})
    assert created.status_code == 201 and created.json()["created"] is True
    assert contacts().get(remote_id=created.json()["id"]).data["External_Id__c"] == "ext-1"
    updated = org.call("PATCH", path, json={"Title": "Boss"})
    assert (
        updated.status_code == 204 and contacts().get(remote_id=created.json()["id"]).data["Title"] == "Boss"
    )
    org.call("POST", "/sobjects/Contact/", json={"LastName": "Twin", "External_Id__c": "ext-1"})
    several = org.call("PATCH", path, json={"Title": "?"})
    assert several.status_code == 300 and len(several.json()) == 2
    assert all(
        url.startswith("/sandbox/salesforce/services/data/v62.0/sobjects/Contact/003")
        for url in several.json()
    )
    in_body = org.call("PATCH", "/sobjects/Contact/External_Id__c/ext-2", json={"External_Id__c": "ext-2"})
    assert in_body.status_code == 400
    assert (
        org.call(
            "PATCH", "/sobjects/Contact/External_Id__c/ext-3?updateOnly=true", json={"LastName": "x"}
        ).status_code
        == 404
    )
    assert org.call("PATCH", "/sobjects/Contact/Email/a@b.c", json={"LastName": "x"}).status_code == 404


def test_an_expired_session_answers_401_invalid_session_id(org):
    org.control("settings", {"session_seconds": 60})
    assert org.get("/limits/").status_code == 200
    org.expire_session(age_seconds=61)
    resp = org.get("/limits/")
    assert resp.status_code == 401
    assert resp.json() == [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
    assert requests.get(org.api("/limits/"), timeout=10).status_code == 401  # no token at all


def test_the_daily_budget_runs_out_with_403_request_limit_exceeded_never_429(org):
    org.control("settings", {"daily_limit": 3})
    seen = [org.get("/limits/") for _ in range(3)]
    assert [r.headers["Sforce-Limit-Info"] for r in seen] == [
        "api-usage=1/3",
        "api-usage=2/3",
        "api-usage=3/3",
    ]
    assert seen[-1].json()["DailyApiRequests"] == {"Max": 3, "Remaining": 0}
    over = org.query("SELECT Id FROM Contact")
    assert over.status_code == 403
    assert over.json() == [
        {"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}
    ]
    assert "Retry-After" not in over.headers and over.headers["Sforce-Limit-Info"] == "api-usage=3/3"


def test_injected_rate_limit_and_failure_use_salesforce_shapes(org):
    org.control("faults", {"ratelimit_count": 1, "fail_count": 1, "fail_status": 503})
    limited, failed, fine = org.get("/limits/"), org.get("/limits/"), org.get("/limits/")
    assert limited.status_code == 403 and limited.json() == [
        {"message": "ConcurrentPerOrgLongTxn Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}
    ]
    assert failed.status_code == 503 and failed.json()[0]["errorCode"] == "SERVER_UNAVAILABLE"
    assert fine.status_code == 200


def test_deletes_go_to_the_recycle_bin_seen_by_query_all_and_the_deleted_window(org):
    made = org.call(
        "POST",
        "/composite/sobjects",
        json={"records": [{"attributes": {"type": "Contact"}, "LastName": n} for n in ("Keep", "Drop")]},
    ).json()
    drop = made[1]["id"]
    org.call("DELETE", f"/sobjects/Contact/{drop}")
    assert [r["Id"] for r in org.query("SELECT Id FROM Contact").json()["records"]] == [made[0]["id"]]
    binned = org.get(
        "/queryAll/", params={"q": "SELECT Id, IsDeleted FROM Contact WHERE IsDeleted = true"}
    ).json()
    assert binned["records"][0]["Id"] == drop and binned["records"][0]["IsDeleted"] is True
    # Salesforce ignores seconds and covers whole minutes only: let the deletion be five minutes old.
    five_ago = timezone.now() - timedelta(minutes=5)
    contacts(remote_id=drop).update(archived_at=five_ago, updated_at=five_ago)
    now = datetime.now(UTC)
    window = org.get(
        "/sobjects/Contact/deleted/",
        params={
            "start": (now - timedelta(minutes=10)).isoformat(),
            "end": (now + timedelta(minutes=2)).isoformat(),
        },
    )
    body = window.json()
    assert [d["id"] for d in body["deletedRecords"]] == [drop]
    assert SF_DATETIME.match(body["latestDateCovered"]) and SF_DATETIME.match(body["earliestDateAvailable"])
    assert body["latestDateCovered"].endswith(":00.000+0000")
    too_old = org.get(
        "/sobjects/Contact/deleted/",
        params={"start": (now - timedelta(days=16)).isoformat(), "end": now.isoformat()},
    )
    assert too_old.status_code == 400 and too_old.json()[0]["errorCode"] == "INVALID_REPLICATION_DATE"
    updated = org.get(
        "/sobjects/Contact/updated/",
        params={
            "start": (now - timedelta(minutes=10)).isoformat(),
            "end": (now + timedelta(minutes=1)).isoformat(),
        },
    ).json()
    assert "latestDateCovered" in updated and drop not in updated["ids"]


def test_oauth_web_server_flow_with_pkce(org):
    base = org.instance_url
    client_id, client_secret = emulator.client_credentials()
    verifier = "v" * 64
    redirect = "https://app.example.test/oauth/callback/salesforce/"
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect,
        "scope": "api refresh_token",
        "state": "st-1",
        "code_challenge": code_challenge(verifier),
        "code_challenge_method": "S256",
    }
    page = requests.get(f"{base}/services/oauth2/authorize", params=params, timeout=10)
    assert page.status_code == 200 and ">Allow</button>" in page.text and ">Deny</button>" in page.text
    denied = requests.post(
        f"{base}/services/oauth2/authorize",
        data={**params, "decision": "deny"},
        allow_redirects=False,
        timeout=10,
    )
    assert parse_qs(urlsplit(denied.headers["Location"]).query)["error"] == ["access_denied"]
    allowed = requests.post(
        f"{base}/services/oauth2/authorize",
        data={**params, "decision": "allow"},
        allow_redirects=False,
        timeout=10,
    )
    location = allowed.headers["Location"]
    assert allowed.status_code == 302 and location.startswith(redirect)
    query = parse_qs(urlsplit(location).query)
    assert query["state"] == ["st-1"]
    form = {
        "grant_type": "authorization_code",
        "code": query["code"][0],
        "client_id": client_id,
        "client_secret": client_secret,
        "redirect_uri": redirect,
    }
    wrong = requests.post(
        f"{base}/services/oauth2/token", data={**form, "code_verifier": "w" * 64}, timeout=10
    )
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    granted = requests.post(
        f"{base}/services/oauth2/token", data={**form, "code_verifier": verifier}, timeout=10
    )
    body = granted.json()
    assert granted.status_code == 200 and "expires_in" not in body
    assert body["instance_url"] == f"{org.sandbox_url}/salesforce" and body["token_type"] == "Bearer"
    assert body["id"].endswith(f"/id/{ORG_ID}/{USER_ID}") and body["issued_at"].isdigit()
    expected = base64.b64encode(
        hmac.new(client_secret.encode(), (body["id"] + body["issued_at"]).encode(), hashlib.sha256).digest()
    ).decode()
    assert body["signature"] == expected and body["refresh_token"]
    api = requests.get(
        f"{body['instance_url']}/services/data/v62.0/limits/",
        headers={"Authorization": f"Bearer {body['access_token']}"},
        timeout=10,
    )
    assert api.status_code == 200
    identity = requests.get(
        body["id"], headers={"Authorization": f"Bearer {body['access_token']}"}, timeout=10
    )
    assert identity.json()["organization_id"] == ORG_ID and identity.json()["user_id"] == USER_ID
    replay = requests.post(
        f"{base}/services/oauth2/token", data={**form, "code_verifier": verifier}, timeout=10
    )
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"


def test_refresh_returns_a_new_session_and_a_bad_refresh_is_invalid_grant(org):
    client_id, client_secret = emulator.client_credentials()
    url = f"{org.instance_url}/services/oauth2/token"
    form = {"grant_type": "refresh_token", "client_id": client_id, "client_secret": client_secret}
    fresh = requests.post(url, data={**form, "refresh_token": org.tokens.refresh_token}, timeout=10)
    body = fresh.json()
    assert fresh.status_code == 200 and body["access_token"] != org.tokens.access_token
    assert (
        "refresh_token" not in body and "expires_in" not in body and body["instance_url"] == org.instance_url
    )
    bad = requests.post(url, data={**form, "refresh_token": "rt-nope"}, timeout=10)
    assert bad.status_code == 400
    assert bad.json() == {"error": "invalid_grant", "error_description": "expired access/refresh token"}
    revoked = requests.post(
        f"{org.instance_url}/services/oauth2/revoke", data={"token": org.tokens.refresh_token}, timeout=10
    )
    assert revoked.status_code == 200
    after = requests.post(url, data={**form, "refresh_token": org.tokens.refresh_token}, timeout=10)
    assert after.status_code == 400 and org.get("/limits/").status_code == 401


def test_versions_and_describe(org):
    versions = requests.get(f"{org.instance_url}/services/data/", timeout=10).json()
    v62 = next(v for v in versions if v["version"] == "62.0")
    assert v62 == {"label": "Winter '25", "url": "/sandbox/salesforce/services/data/v62.0", "version": "62.0"}
    fields = {f["name"]: f for f in org.get("/sobjects/Contact/describe/").json()["fields"]}
    assert fields["LastName"]["nillable"] is False and fields["External_Id__c"]["externalId"] is True
    assert set(fields) == set(OBJECTS["Contact"].fields)
    assert org.get("/sobjects/Spaceship/describe/").status_code == 404
    assert org.call("GET", "/../v10.0/limits/").status_code == 404


def test_control_seed_and_touch_accept_rest_style_names(org):
    assert org.control("seed", {"object": "contacts", "count": 3}) == {"seeded": 3}
    assert org.control("seed", {"object": "deal", "count": 2}) == {"seeded": 2}
    row = contacts().order_by("updated_at").first()
    before = row.updated_at
    emulator.touch("contacts", row.remote_id, {"Title": "Touched"})
    row.refresh_from_db()
    assert row.data["Title"] == "Touched" and row.updated_at > before
    assert SandboxRecord.objects.filter(object_type="Opportunity").count() == 2
    unknown = requests.post(
        f"{org.instance_url}/_control/seed", json={"object": "Spaceship", "count": 1}, timeout=10
    )
    assert unknown.status_code == 400
