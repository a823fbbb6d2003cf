"""The GoHighLevel connector live against the emulator: API-key and OAuth auth, upsert-based creates,
delta pulls with deletions found by id diff, opportunities with their contact, notes and tasks read
by id, custom fields, field discovery, and the rate-limit headers honoured."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
import requests
from django.utils import timezone

from connectors.base import (
    RELATIONS_KEY,
    AuthError,
    ConfigError,
    MemoryTokenStore,
    RateLimited,
    WebhookRequest,
)
from connectors.gohighlevel import webhooks
from connectors.gohighlevel.emulator.store import PIPELINE_ID, SANDBOX_LOCATION, STAGES
from connectors.gohighlevel.records import iso
from connectors.types import USAGE_KEY
from tests.connectors.gohighlevel.conftest import control, wait_for_deliveries


def pull_all(connector, entity, cursor=None):
    records = []
    for page in connector.pull(entity, cursor=cursor):
        records += page.records
        cursor = page.cursor or cursor
    return records, cursor


def contact(n, **extra):
    return {"firstName": f"Rui{n}", "lastName": "Costa", "email": f"rui{n}@example.com", **extra}


def test_the_seeds_api_key_and_location_connect_and_report_usage(connector):
    result = connector.test_connection()
    assert result.ok, result.message
    assert result.details["location_id"] == SANDBOX_LOCATION
    labels = [row["label"] for row in result.details[USAGE_KEY]]
    assert labels == ["Requests left today", "Burst window"]


def test_a_wrong_key_or_missing_location_is_refused_clearly(key_config, make_connector):
    bad = make_connector({**key_config, "apiKey": "pit-wrong-key-000000"}).test_connection()
    assert not bad.ok and "pit-wrong-key-000000" not in bad.message and "Invalid token" in bad.message
    with pytest.raises(ConfigError):
        make_connector({k: v for k, v in key_config.items() if k != "locationId"}).client  # noqa: B018
    with pytest.raises(ConfigError):
        type(make_connector(key_config)).validate_config({"auth_mode": "api_key", "apiKey": "x" * 20})


def test_a_create_upserts_so_a_retried_push_links_the_same_contact(connector):
    [first] = connector.create("contact", [contact(1)])
    assert first.ok and first.created is True and first.matched_by == ""
    [again] = connector.create("contact", [contact(1, city="Braga")])
    assert again.ok and again.remote_id == first.remote_id and again.created is False
    assert again.matched_by == "email"
    [read] = connector.get("contact", [first.remote_id])
    assert read.fields["city"] == "Braga" and read.fields["name"] == "Rui1 Costa"


def spread_updates(ghl) -> None:
    """Seeded contacts changed a minute apart (seeding makes them all in the same second)."""
    for n, row in enumerate(ghl.records("contacts").order_by("pk")):
        row.data = {**row.data, "dateUpdated": iso(timezone.now() - timedelta(minutes=200 - n))}
        row.save(update_fields=["data"])


def test_full_pull_pages_then_delta_reads_changes_and_deletions(connector, ghl):
    ghl.seed("contacts", 150, None)
    spread_updates(ghl)
    pages = list(connector.pull("contact", cursor=None))
    assert sum(len(p.records) for p in pages) == 150 and pages[0].remaining == 50
    cursor = pages[-1].cursor
    assert all(p.cursor is None for p in pages[:-1]) and cursor
    before = connector.client.calls
    unchanged, cursor = pull_all(connector, "contact", cursor)
    assert len(unchanged) == 1 and not unchanged[0].deleted  # the newest, re-read in the overlap
    assert connector.client.calls - before == 2  # the delta and one total: no id sweep when nothing went
    ids = [r.id for p in pages for r in p.records]
    connector.update("contact", [(ids[3], {"lastName": "Changed"})])
    connector.delete("contact", [ids[5]])
    changed, cursor = pull_all(connector, "contact", cursor)
    by_id = {r.id: r for r in changed}
    assert by_id[ids[3]].fields["lastName"] == "Changed" and by_id[ids[5]].deleted
    assert len(changed) < 10
    again, _ = pull_all(connector, "contact", cursor)
    assert not any(r.deleted for r in again)


def test_deals_carry_their_contact_status_and_stage_and_deletions_come_back(connector):
    [person] = connector.create("contact", [contact(2)])
    body = {
        "name": "Renewal",
        "pipelineId": PIPELINE_ID,
        "pipelineStageId": STAGES[0][0],
        "status": "open",
        "monetaryValue": 1200,
        RELATIONS_KEY: {"contact_ids": {"add": [person.remote_id], "remove": []}},
    }
    [made] = connector.create("deal", [body])
    assert made.ok and made.created, made.error
    _, cursor = pull_all(connector, "deal")
    [read] = connector.get("deal", [made.remote_id])
    assert read.relations == {"contact_ids": (person.remote_id,)} and read.fields["monetaryValue"] == 1200
    [won] = connector.update("deal", [(made.remote_id, {"status": "won", "pipelineStageId": STAGES[1][0]})])
    assert won.ok
    changed, cursor = pull_all(connector, "deal", cursor)
    assert [(r.id, r.fields["status"]) for r in changed] == [(made.remote_id, "won")]
    [bad] = connector.update("deal", [(made.remote_id, {"status": "maybe"})])
    assert not bad.ok and "status must be one of" in bad.error
    assert connector.delete("deal", [made.remote_id])[0].ok
    gone, _ = pull_all(connector, "deal", cursor)
    assert [(r.id, r.deleted) for r in gone] == [(made.remote_id, True)]
    assert connector.delete("deal", [made.remote_id])[0].ok  # already gone counts as deleted


def test_notes_and_tasks_are_read_by_id_and_pulled_per_contact(connector, api, base):
    [person] = connector.create("contact", [contact(3)])
    note = api.post(f"{base}/contacts/{person.remote_id}/notes", json={"body": "Met at the fair"}).json()[
        "note"
    ]
    task = api.post(
        f"{base}/contacts/{person.remote_id}/tasks",
        json={"title": "Send quote", "dueDate": "2026-03-01T09:00:00.000Z"},
    ).json()["task"]
    ids = [f"notes/{person.remote_id}/{note['id']}", f"tasks/{person.remote_id}/{task['id']}", "bogus"]
    read = {r.id: r for r in connector.get("activity", ids)}
    assert set(read) == set(ids[:2])
    assert read[ids[0]].fields["_kind"] == "note" and read[ids[0]].fields["body"] == "Met at the fair"
    assert read[ids[1]].fields["title"] == "Send quote" and read[ids[1]].fields["completed"] is False
    assert read[ids[1]].relations == {"contact_id": (person.remote_id,)}
    pulled, cursor = pull_all(connector, "activity")
    assert sorted(r.id for r in pulled) == sorted(ids[:2])
    again, _ = pull_all(connector, "activity", cursor)  # only the contacts changed since (overlap)
    assert {r.id for r in again} <= set(ids[:2])


def related(contact_id: str, **fields):
    return {**fields, RELATIONS_KEY: {"contact_id": {"add": [contact_id], "remove": []}}}


def test_notes_and_tasks_are_written_under_their_contact(connector, api, base):
    [person] = connector.create("contact", [contact(5)])
    pid = person.remote_id
    note, task = connector.create(
        "activity",
        [
            related(pid, _kind="note", body="Called back", title="ignored for a note"),
            related(pid, _kind="task", title="Send quote", body="v2", dueDate="2026-03-01T09:00:00.000Z"),
        ],
    )
    assert note.ok and note.created and note.remote_id.startswith(f"notes/{pid}/"), note.error
    assert task.ok and task.remote_id.startswith(f"tasks/{pid}/"), task.error
    listed = api.get(f"{base}/contacts/{pid}/notes").json()["notes"]
    assert [n["body"] for n in listed] == ["Called back"]
    [done] = connector.update("activity", [(task.remote_id, {"completed": True, "title": "Quote sent"})])
    assert done.ok and done.remote_id == task.remote_id
    [read] = connector.get("activity", [task.remote_id])
    assert read.fields["completed"] is True and read.fields["title"] == "Quote sent"
    [moved] = connector.update(
        "activity", [(note.remote_id, {RELATIONS_KEY: {"contact_id": {"add": ["other"], "remove": [pid]}}})]
    )
    assert moved.ok and moved.relations_failed == ("contact_id",)
    assert [r.ok for r in connector.delete("activity", [note.remote_id, note.remote_id])] == [True, True]
    assert api.get(f"{base}/contacts/{pid}/notes").json()["notes"] == []


def test_an_activity_gohighlevel_cannot_take_fails_alone(connector):
    [person] = connector.create("contact", [contact(6)])
    results = connector.create(
        "activity",
        [
            {"_kind": "note", "body": "no contact"},
            related(person.remote_id, _kind="task", title="no due date"),
            related(person.remote_id, _kind="call", body="a call"),
            related(person.remote_id, _kind="note", body="fine"),
        ],
    )
    assert [r.ok for r in results] == [False, False, False, True]
    assert "contact" in results[0].error and "due" in results[1].error and "call" in results[2].error
    assert connector.delete("activity", ["appointments/x"])[0].code == "unsupported"


def test_deleted_notes_and_tasks_are_found_by_the_id_diff(connector, api, base):
    [person] = connector.create("contact", [contact(7)])
    note, task = connector.create(
        "activity",
        [
            related(person.remote_id, _kind="note", body="a"),
            related(person.remote_id, _kind="task", title="t", dueDate="2026-03-01T09:00:00.000Z"),
        ],
    )
    assert set(connector.remote_ids("activity")) == {note.remote_id, task.remote_id}
    _, _, child = note.remote_id.split("/")
    assert api.delete(f"{base}/contacts/{person.remote_id}/notes/{child}").status_code == 200
    assert set(connector.remote_ids("activity")) == {task.remote_id}
    assert list(connector.remote_ids("contact")) == [person.remote_id]


def test_custom_fields_are_discovered_by_name_and_written_as_the_list(connector):
    fields = {f.label: f for f in connector.discover_fields("contact")}
    score = fields["Lead score"]
    assert score.custom and score.type == "number" and score.name.startswith("customFields.")
    [made] = connector.create("contact", [{**contact(4), score.name: 87}])
    [read] = connector.get("contact", [made.remote_id])
    assert read.fields[score.name] == 87
    stages = {f.name: f for f in connector.discover_fields("deal")}["pipelineStageId"]
    assert [value for value, _ in stages.options][: len(STAGES)] == [s for s, _ in STAGES]


def test_find_created_searches_email_then_name_within_the_window(connector):
    since = timezone.now() - timedelta(seconds=5)
    [made] = connector.create("contact", [contact(5)])
    [named] = connector.create("contact", [{"firstName": "Solo", "lastName": "Name"}])
    found = connector.find_created(
        "contact", [contact(5), {"firstName": "Solo", "lastName": "Name"}, contact(6)], since=since
    )
    assert found == [[made.remote_id], [named.remote_id], []]


def test_the_burst_headers_pace_requests_instead_of_hitting_429(connector, base):
    control(base, "settings", {"burst_max": 3, "burst_ms": 1000})
    connector.client.calls = 0
    started = time.monotonic()
    for _ in range(5):
        connector.discover_fields("deal")
    assert time.monotonic() - started >= 0.9  # waited out the window once X-RateLimit-Remaining hit 0
    assert connector.client.calls == 5  # and no request was answered 429 (none had to be sent again)


def test_an_exhausted_day_is_a_long_rate_limit_for_celery(connector, base):
    control(base, "settings", {"daily_max": 1})
    connector.discover_fields("deal")
    with pytest.raises(RateLimited) as exc:
        connector.discover_fields("deal")
    assert exc.value.retry_after == 3600


def test_oauth_refreshes_an_expired_token_and_keeps_the_rotated_refresh_token(
    connected, make_connector, base
):
    config, tokens = connected
    tokens.expires_at = time.time() - 1
    store = MemoryTokenStore(tokens)
    connector = make_connector(config, token_store=store)
    assert connector.test_connection().ok
    assert store.tokens.refresh_token != tokens.refresh_token
    assert store.tokens.extra["locationId"] == SANDBOX_LOCATION
    spent = requests.post(
        f"{base}/oauth/token",
        data={
            **{k: config[k] for k in ("client_id", "client_secret")},
            "grant_type": "refresh_token",
            "refresh_token": tokens.refresh_token,
        },
        timeout=10,
    )
    assert spent.json()["error"] == "invalid_grant"


def test_a_crash_after_the_refresh_loses_no_token(connected, make_connector, monkeypatch):
    """The rotated pair is stored before the request it was refreshed for is sent: a worker dying
    then leaves a working refresh token behind for the next one."""
    config, tokens = connected
    tokens.expires_at = time.time() - 1
    store = MemoryTokenStore(tokens)
    dying = make_connector(config, token_store=store)

    def crash(*args, **kwargs):
        raise SystemExit("worker killed")

    monkeypatch.setattr(dying.client.session, "request", crash)
    with pytest.raises(SystemExit):
        dying.test_connection()
    assert store.tokens.refresh_token and store.tokens.refresh_token != tokens.refresh_token
    store.tokens.expires_at = time.time() - 1  # force the next worker to refresh with what was stored
    assert make_connector(config, token_store=store).test_connection().ok


def test_a_revoked_oauth_grant_needs_reauthorization(connected, make_connector):
    config, tokens = connected
    tokens.access_token, tokens.refresh_token = "revoked", ""
    store = MemoryTokenStore(tokens)
    with pytest.raises(AuthError):
        make_connector(config, token_store=store).client.search_contacts(filters=[], limit=1)
    assert store.reauth_reason


def test_notes_written_and_deleted_announce_themselves_by_webhook(connector, base, receiver, connected):
    [person] = connector.create("contact", [contact(8)])
    control(base, "webhooks", {"target_url": receiver.url})
    [note] = connector.create("activity", [related(person.remote_id, _kind="note", body="hello")])
    connector.update("activity", [(note.remote_id, {"body": "hello again"})])
    connector.delete("activity", [note.remote_id])
    wait_for_deliveries(base, 3)
    events = []
    for got in receiver.received:
        request = WebhookRequest(method="POST", url="/", headers=got["headers"], body=got["body"])
        webhooks.verify(request, secret="", now=timezone.now().timestamp(), config=connected[0])
        events += webhooks.parse(request)
    assert [(e.action, e.remote_id) for e in events] == [
        ("created", note.remote_id),
        ("updated", note.remote_id),
        ("deleted", note.remote_id),
    ]
