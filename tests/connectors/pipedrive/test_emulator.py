"""The emulator as pipedrive-python-lib sees it: only the base URL differs from a real company."""

import pipedrive.exceptions
import pytest
import requests
from pipedrive.client import Client

from tests.connectors.pipedrive.conftest import control


@pytest.fixture
def lib(config):
    """pipedrive-python-lib on v2 (records) with the API token, as its README shows."""
    client = Client(domain=config["base_url"] + "/api/")
    client.BASE_URL = config["base_url"] + "/api/v2/"
    client.set_api_token(config["api_token"])
    return client


@pytest.fixture
def lib_v1(config):
    """pipedrive-python-lib on its default v1 paths (fields, notes, webhooks)."""
    client = Client(domain=config["base_url"])
    client.set_api_token(config["api_token"])
    return client


def test_the_library_creates_lists_gets_searches_and_deletes_persons_on_v2(lib):
    made = lib.persons.create_person(
        {"name": "Ana Lee", "emails": [{"value": "ana@example.com", "primary": True}]}
    )
    assert made["success"] and made["data"]["first_name"] == "Ana" and made["data"]["last_name"] == "Lee"
    person_id = made["data"]["id"]

    listed = lib.persons.get_all_persons(params={"limit": 10})
    assert [p["id"] for p in listed["data"]] == [person_id]
    assert listed["additional_data"]["next_cursor"] is None
    assert lib.persons.get_person(person_id)["data"]["emails"][0]["value"] == "ana@example.com"
    found = lib.persons.search_persons(
        params={"term": "ana@example.com", "fields": "email", "exact_match": "true"}
    )
    assert [i["item"]["id"] for i in found["data"]["items"]] == [person_id]

    assert lib.persons.delete_person(person_id)["data"] == {"id": person_id}
    with pytest.raises(pipedrive.exceptions.NotFoundError):
        lib.persons.get_person(person_id)


def test_the_library_reads_fields_writes_notes_and_registers_webhooks_on_v1(lib, lib_v1, pd):
    tier = pd.add_custom_field("persons", "Tier", "enum", ["Gold", "Silver"])
    fields = lib_v1.persons.get_person_fields()
    by_key = {f["key"]: f for f in fields["data"]}
    assert by_key[tier["key"]]["name"] == "Tier" and by_key[tier["key"]]["options"][0]["label"] == "Gold"

    person = lib.persons.create_person({"name": "Bo Diaz", "custom_fields": {tier["key"]: 1}})["data"]
    assert person["custom_fields"] == {tier["key"]: 1}
    note = lib_v1.notes.create_note({"content": "Called", "person_id": person["id"]})
    assert note["success"] and note["data"]["person_id"] == person["id"]
    assert (
        lib_v1.notes.update_note(note["data"]["id"], {"content": "Called back"})["data"]["content"]
        == "Called back"
    )

    hook = lib_v1.webhooks.create_hook_subscription("https://example.com/hook", "*", "person")
    assert hook["data"]["version"] == "2.0"  # v2 is the default since 2025-03-17
    assert [h["id"] for h in lib_v1.webhooks.get_hooks_subscription()["data"]] == [hook["data"]["id"]]
    lib_v1.webhooks.delete_hook_subscription(hook["data"]["id"])
    assert lib_v1.webhooks.get_hooks_subscription()["data"] == []


def test_a_bad_token_is_401_in_pipedrives_error_envelope(config):
    resp = requests.get(f"{config['base_url']}/api/v2/persons", headers={"x-api-token": "nope"}, timeout=10)
    body = resp.json()
    assert resp.status_code == 401 and body["success"] is False and body["error"] and body["data"] is None


@pytest.mark.parametrize(("count", "pages"), [(500, 1), (501, 2)])
def test_cursor_paging_at_the_500_row_cap(pd, api, base, count, pages):
    pd.seed("persons", count)
    seen, cursor, calls = [], None, 0
    while True:
        params = {"limit": 1000, **({"cursor": cursor} if cursor else {})}  # above the cap: 500 served
        body = api.get(f"{base}/api/v2/persons", params=params, timeout=10).json()
        calls += 1
        seen += [p["id"] for p in body["data"]]
        cursor = body["additional_data"]["next_cursor"]
        if cursor is None:
            break
    assert calls == pages and len(seen) == len(set(seen)) == count


def test_updated_since_and_sort_by_update_time(pd, api, base):
    pd.seed("persons", 5)
    first = api.get(f"{base}/api/v2/persons", params={"sort_by": "update_time"}, timeout=10).json()["data"]
    pd.touch("persons", str(first[0]["id"]), {"name": "Moved Up"})
    touched = api.get(
        f"{base}/api/v2/persons",
        params={"sort_by": "update_time", "sort_direction": "asc", "updated_since": first[-1]["update_time"]},
        timeout=10,
    ).json()["data"]
    assert touched[-1]["id"] == first[0]["id"] and touched[-1]["name"] == "Moved Up"


def test_burst_window_headers_and_the_429_body(pd, api, base):
    control(base, "settings", {"burst_api_token": 3})
    answers = [api.get(f"{base}/api/v2/persons", timeout=10) for _ in range(4)]
    assert [r.status_code for r in answers] == [200, 200, 200, 429]
    assert (
        answers[0].headers["x-ratelimit-limit"] == "3" and answers[2].headers["x-ratelimit-remaining"] == "0"
    )
    body = answers[3].json()
    assert body["success"] is False and body["error"] == "Request over limit" and body["data"] is None
    assert int(answers[3].headers["x-ratelimit-reset"]) >= 1
    assert "x-daily-requests-left" in answers[0].headers


def test_soft_deleted_records_leave_lists_and_show_in_recents(pd, api, base):
    pd.seed("persons", 2)
    gone = api.get(f"{base}/api/v2/persons", timeout=10).json()["data"][0]["id"]
    assert api.delete(f"{base}/api/v2/persons/{gone}", timeout=10).json() == {
        "success": True,
        "data": {"id": gone},
    }
    assert [p["id"] for p in api.get(f"{base}/api/v2/persons", timeout=10).json()["data"]] != [gone]
    assert api.get(f"{base}/api/v2/persons/{gone}", timeout=10).status_code == 404
    recents = api.get(
        f"{base}/v1/recents", params={"since_timestamp": "2000-01-01 00:00:00", "items": "person"}, timeout=10
    )
    deleted = [i for i in recents.json()["data"] if i["data"]["deleted"]]
    assert [i["id"] for i in deleted] == [gone] and deleted[0]["data"]["active_flag"] is False


def test_oauth_token_endpoint_wants_basic_client_auth_and_rotates_refresh_tokens(pd, base):
    code_page = requests.post(
        f"{base}/oauth/authorize",
        data={
            "client_id": "sandbox-client-id",
            "redirect_uri": "https://app.example.com/cb",
            "state": "s",
            "decision": "allow",
        },
        allow_redirects=False,
        timeout=10,
    )
    code = code_page.headers["Location"].split("code=")[1].split("&")[0]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": "https://app.example.com/cb"}
    refused = requests.post(
        f"{base}/oauth/token", data={**form, "client_id": "sandbox-client-id"}, timeout=10
    )
    assert refused.status_code == 401
    granted = requests.post(
        f"{base}/oauth/token", data=form, auth=("sandbox-client-id", "sandbox-client-secret"), timeout=10
    ).json()
    assert (
        granted["api_domain"] == base and granted["token_type"] == "Bearer" and granted["expires_in"] > 3000
    )
    refreshed = requests.post(
        f"{base}/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": granted["refresh_token"]},
        auth=("sandbox-client-id", "sandbox-client-secret"),
        timeout=10,
    ).json()
    assert refreshed["refresh_token"] != granted["refresh_token"]
    again = requests.post(
        f"{base}/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": granted["refresh_token"]},
        auth=("sandbox-client-id", "sandbox-client-secret"),
        timeout=10,
    )
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    persons = requests.get(
        f"{base}/api/v2/persons", headers={"Authorization": f"Bearer {refreshed['access_token']}"}, timeout=10
    )
    assert persons.status_code == 200
