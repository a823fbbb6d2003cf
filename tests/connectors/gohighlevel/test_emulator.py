"""The GoHighLevel emulator over real HTTP: the behaviours providers.md §6 lists (Version header,
location-scoped Bearer tokens, wrappers and upsert ``new``, duplicates, search paging, 422 with an
array ``message``, opportunities and pipelines, notes and tasks, per-location rate limits with the
X-RateLimit-* headers, OAuth with rotating refresh tokens)."""

from __future__ import annotations

import requests

from connectors.gohighlevel.emulator.store import PIPELINE_ID, SANDBOX_LOCATION, STAGES
from tests.connectors.gohighlevel.conftest import VERSION, control

LOC = SANDBOX_LOCATION


def make_contact(api, base, n, **extra):
    body = {
        "locationId": LOC,
        "firstName": f"Ana{n}",
        "lastName": "Lima",
        "email": f"ana{n}@example.com",
        **extra,
    }
    resp = api.post(f"{base}/contacts/", json=body)
    assert resp.status_code == 201, resp.text
    return resp.json()["contact"]


def test_the_version_header_is_required(api, base):
    resp = requests.get(
        f"{base}/contacts/search/duplicate",
        params={"locationId": LOC, "email": "x@y.z"},
        headers={"Authorization": api.headers["Authorization"]},
        timeout=10,
    )
    assert resp.status_code == 400 and resp.json() == {
        "statusCode": 400,
        "message": "Version header is missing or invalid",
    }
    for version in ("2021-07-28", "v3"):
        ok = requests.get(
            f"{base}/contacts/search/duplicate",
            params={"locationId": LOC, "email": "x@y.z"},
            headers={"Authorization": api.headers["Authorization"], "Version": version},
            timeout=10,
        )
        assert ok.status_code == 200 and ok.json() == {"contact": None}


def test_a_bad_token_is_a_nestjs_401(base):
    resp = requests.get(
        f"{base}/contacts/abc", headers={"Authorization": "Bearer nope", **VERSION}, timeout=10
    )
    assert resp.status_code == 401
    assert resp.json() == {
        "statusCode": 401,
        "message": "Invalid token: access token is invalid",
        "error": "Unauthorized",
    }


def test_contacts_create_get_update_delete_with_wrappers(api, base):
    made = make_contact(api, base, 1, phone="+14155550101", tags=["vip"])
    assert made["name"] == "Ana1 Lima" and made["locationId"] == LOC and made["tags"] == ["vip"]
    assert made["dateAdded"].endswith("Z") and made["dateUpdated"]
    got = api.get(f"{base}/contacts/{made['id']}").json()
    assert got == {"contact": made}
    changed = api.put(f"{base}/contacts/{made['id']}", json={"lastName": "Souza"})
    assert changed.status_code == 200 and changed.json()["contact"]["name"] == "Ana1 Souza"
    assert changed.json()["contact"]["dateUpdated"] >= made["dateUpdated"]
    gone = api.delete(f"{base}/contacts/{made['id']}")
    assert gone.json() == {"succeded": True}
    assert api.get(f"{base}/contacts/{made['id']}").status_code == 400


def test_validation_errors_are_422_with_an_array_message(api, base):
    resp = api.post(f"{base}/contacts/", json={"locationId": LOC, "email": "not-an-email", "phone": "12"})
    assert resp.status_code == 422
    assert resp.json() == {
        "statusCode": 422,
        "message": ["email must be an email", "phone must be a valid phone number"],
        "error": "Unprocessable Entity",
    }


def test_duplicates_are_refused_unless_allowed_and_upsert_says_new(api, base):
    first = make_contact(api, base, 2)
    dup = api.post(f"{base}/contacts/", json={"locationId": LOC, "email": "ANA2@example.com"})
    assert dup.status_code == 400 and dup.json()["meta"]["contactId"] == first["id"]
    found = api.get(
        f"{base}/contacts/search/duplicate", params={"locationId": LOC, "email": "ana2@example.com"}
    )
    assert found.json()["contact"]["id"] == first["id"]
    upserted = api.post(
        f"{base}/contacts/upsert", json={"locationId": LOC, "email": "ana2@example.com", "city": "Porto"}
    )
    assert upserted.status_code == 200 and upserted.json()["new"] is False
    assert upserted.json()["contact"]["id"] == first["id"] and upserted.json()["contact"]["city"] == "Porto"
    fresh = api.post(f"{base}/contacts/upsert", json={"locationId": LOC, "email": "new@example.com"})
    assert fresh.status_code == 201 and fresh.json()["new"] is True and fresh.json()["traceId"]
    control(base, "settings", {"allow_duplicate_contact": True})
    assert (
        api.post(f"{base}/contacts/", json={"locationId": LOC, "email": "ana2@example.com"}).status_code
        == 201
    )


def test_search_pages_by_page_and_by_search_after_and_filters_on_date_updated(api, base, ghl):
    ghl.seed("contacts", 25, None)
    body = {"locationId": LOC, "pageLimit": 10, "sort": [{"field": "dateUpdated", "direction": "asc"}]}
    pages, after = [], None
    while True:
        data = api.post(
            f"{base}/contacts/search", json={**body, **({"searchAfter": after} if after else {"page": 1})}
        ).json()
        assert data["total"] == 25
        pages.append([c["id"] for c in data["contacts"]])
        if len(data["contacts"]) < 10:
            break
        after = data["contacts"][-1]["searchAfter"]
    ids = [i for page in pages for i in page]
    assert len(ids) == 25 == len(set(ids)) and [len(p) for p in pages] == [10, 10, 5]
    second = api.post(f"{base}/contacts/search", json={**body, "page": 2}).json()
    assert [c["id"] for c in second["contacts"]] == pages[1]
    too_big = api.post(f"{base}/contacts/search", json={**body, "pageLimit": 101})
    assert too_big.status_code == 422 and isinstance(too_big.json()["message"], list)
    last = api.post(f"{base}/contacts/search", json={**body, "page": 3}).json()["contacts"][-1]
    api.put(f"{base}/contacts/{ids[0]}", json={"city": "Lisbon"})
    changed = api.post(
        f"{base}/contacts/search",
        json={
            **body,
            "page": 1,
            "filters": [{"field": "dateUpdated", "operator": "range", "value": {"gt": last["dateUpdated"]}}],
        },
    ).json()
    assert [c["id"] for c in changed["contacts"]] == [ids[0]]


def test_the_deprecated_list_pages_with_start_after(api, base, ghl):
    ghl.seed("contacts", 5, None)
    first = api.get(f"{base}/contacts/", params={"locationId": LOC, "limit": 3}).json()
    assert first["count"] == 3 and first["meta"]["startAfterId"] and first["meta"]["nextPageUrl"]
    rest = api.get(
        f"{base}/contacts/",
        params={
            "locationId": LOC,
            "limit": 3,
            "startAfterId": first["meta"]["startAfterId"],
            "startAfter": first["meta"]["startAfter"],
        },
    ).json()
    assert rest["count"] == 2 and rest["meta"]["nextPageUrl"] is None
    assert api.get(f"{base}/contacts/", params={"locationId": LOC, "limit": 101}).status_code == 422


def test_opportunities_pipelines_and_their_search(api, base):
    contact = make_contact(api, base, 3)
    pipelines = api.get(f"{base}/opportunities/pipelines", params={"locationId": LOC}).json()["pipelines"]
    assert pipelines[0]["id"] == PIPELINE_ID and [s["id"] for s in pipelines[0]["stages"]] == [
        s for s, _ in STAGES
    ]
    body = {
        "locationId": LOC,
        "pipelineId": PIPELINE_ID,
        "pipelineStageId": STAGES[0][0],
        "name": "Big",
        "status": "open",
        "monetaryValue": 500,
        "contactId": contact["id"],
    }
    made = api.post(f"{base}/opportunities/", json=body)
    assert made.status_code == 201
    opp = made.json()["opportunity"]
    bad = api.post(f"{base}/opportunities/", json={**body, "status": "maybe"})
    assert bad.status_code == 422 and "status must be one of" in bad.json()["message"][0]
    won = api.put(f"{base}/opportunities/{opp['id']}", json={"status": "won"}).json()["opportunity"]
    assert won["status"] == "won"
    found = api.get(
        f"{base}/opportunities/search", params={"location_id": LOC, "contact_id": contact["id"]}
    ).json()
    assert [o["id"] for o in found["opportunities"]] == [opp["id"]] and found["meta"]["total"] == 1
    camel = api.get(f"{base}/opportunities/search", params={"locationId": LOC, "contactId": contact["id"]})
    assert [o["id"] for o in camel.json()["opportunities"]] == [opp["id"]]  # as the SDK 3.0 asks
    assert api.delete(f"{base}/opportunities/{opp['id']}").json() == {"succeded": True}
    assert api.get(f"{base}/opportunities/{opp['id']}").status_code == 404


def test_notes_and_tasks_live_under_their_contact(api, base):
    contact = make_contact(api, base, 4)
    note = api.post(f"{base}/contacts/{contact['id']}/notes", json={"body": "Called"})
    assert note.status_code == 201 and note.json()["note"]["contactId"] == contact["id"]
    task = api.post(
        f"{base}/contacts/{contact['id']}/tasks",
        json={"title": "Call back", "body": "x", "dueDate": "2026-01-01T10:00:00Z", "completed": False},
    )
    assert task.status_code == 201
    assert (
        api.post(f"{base}/contacts/{contact['id']}/tasks", json={"title": "No due date"}).status_code == 422
    )
    notes = api.get(f"{base}/contacts/{contact['id']}/notes").json()["notes"]
    assert [n["body"] for n in notes] == ["Called"]
    task_id = task.json()["task"]["id"]
    assert api.get(f"{base}/contacts/{contact['id']}/tasks/{task_id}").json()["task"]["title"] == "Call back"


def test_tokens_are_scoped_to_their_location(api, base):
    resp = api.get(f"{base}/opportunities/pipelines", params={"locationId": "OtherLocation000001"})
    assert resp.status_code == 403
    assert api.get(f"{base}/locations/OtherLocation000001/customFields").status_code == 403
    fields = api.get(f"{base}/locations/{LOC}/customFields").json()["customFields"]
    assert {f["name"] for f in fields} == {"Lead score", "Industry"}


def test_the_burst_limit_answers_429_with_the_rate_limit_headers(api, base):
    control(base, "settings", {"burst_max": 3, "daily_max": 1000})
    seen = [api.get(f"{base}/opportunities/pipelines", params={"locationId": LOC}) for _ in range(4)]
    assert [r.status_code for r in seen] == [200, 200, 200, 429]
    assert seen[0].headers["X-RateLimit-Max"] == "3" and seen[0].headers["X-RateLimit-Remaining"] == "2"
    assert seen[0].headers["X-RateLimit-Interval-Milliseconds"] == "10000"
    assert (
        seen[0].headers["X-RateLimit-Limit-Daily"] == "1000"
        and seen[0].headers["X-RateLimit-Daily-Remaining"] == "999"
    )
    assert seen[3].json() == {"statusCode": 429, "message": "Too Many Requests"}
    assert int(seen[3].headers["Retry-After"]) >= 1 and seen[3].headers["X-RateLimit-Remaining"] == "0"


def test_the_daily_limit_answers_429_too(api, base):
    control(base, "settings", {"daily_max": 2})
    codes = [
        api.get(f"{base}/opportunities/pipelines", params={"locationId": LOC}).status_code for _ in range(3)
    ]
    assert codes == [200, 200, 429]


def test_oauth_token_endpoint_is_form_encoded_and_refresh_tokens_rotate(connected, base):
    config, tokens = connected
    creds = {"client_id": config["client_id"], "client_secret": config["client_secret"]}
    as_json = requests.post(
        f"{base}/oauth/token",
        json={**creds, "grant_type": "refresh_token", "refresh_token": tokens.refresh_token},
        timeout=10,
    )
    assert as_json.status_code == 400
    fresh = requests.post(
        f"{base}/oauth/token",
        data={
            **creds,
            "grant_type": "refresh_token",
            "refresh_token": tokens.refresh_token,
            "user_type": "Location",
        },
        timeout=10,
    )
    assert fresh.status_code == 200, fresh.text
    body = fresh.json()
    assert (
        body["token_type"] == "Bearer"
        and body["expires_in"] in (86398, 86399)
        and body["locationId"] == config["locationId"]
    )
    assert body["refresh_token"] != tokens.refresh_token and body["userType"] == "Location"
    reused = requests.post(
        f"{base}/oauth/token",
        data={**creds, "grant_type": "refresh_token", "refresh_token": tokens.refresh_token},
        timeout=10,
    )
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    old_access = requests.get(
        f"{base}/opportunities/pipelines",
        params={"locationId": config["locationId"]},
        headers={"Authorization": f"Bearer {tokens.access_token}", **VERSION},
        timeout=10,
    )
    assert old_access.status_code == 401


def test_the_location_chooser_redirects_with_a_code_that_exchanges_once(connected, base):
    config, _ = connected
    redirect = "https://app.example.com/oauth/callback/gohighlevel/"
    resp = requests.get(
        f"{base}/oauth/chooselocation",
        params={
            "response_type": "code",
            "client_id": config["client_id"],
            "redirect_uri": redirect,
            "state": "s1",
            "scope": "contacts.readonly",
        },
        allow_redirects=False,
        timeout=10,
    )
    assert (
        resp.status_code == 302
        and resp.headers["Location"].startswith(redirect)
        and "state=s1" in resp.headers["Location"]
    )
    code = resp.headers["Location"].split("code=")[1].split("&")[0]
    form = {
        "client_id": config["client_id"],
        "client_secret": config["client_secret"],
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect,
    }
    assert requests.post(f"{base}/oauth/token", data=form, timeout=10).json()["scope"] == "contacts.readonly"
    assert requests.post(f"{base}/oauth/token", data=form, timeout=10).status_code == 400
