"""HubSpotConnector against the emulator over real HTTP: pulls, deltas, deletes, batched writes."""

import json
import time

import pytest

from connectors.base import AuthError, RemoteRecord
from connectors.hubspot.connector import OVERLAP_MS, to_ms
from tests.connectors.hubspot.conftest import control

pytestmark = pytest.mark.django_db(transaction=True)


def pull_all(connector, entity, cursor=None):
    records, last = [], cursor
    for page in connector.pull(entity, cursor=cursor):
        records += page.records
        last = page.cursor
    return records, last


def test_connection_ok_with_a_valid_token(connector):
    result = connector.test_connection()
    assert result.ok and "HubSpot" in result.message


def test_a_rejected_token_raises_auth_error_with_hubspots_message(config, make_connector):
    bad = make_connector({**config, "access_token": "pat-na1-revoked"})
    with pytest.raises(AuthError, match="Authentication credentials not found"):
        bad.test_connection()


def test_full_pull_pages_past_one_search_page_oldest_first(hs, connector):
    hs.seed("contacts", 250, None)
    pages = list(connector.pull("contact", cursor=None))
    records = [r for p in pages for r in p.records]
    assert len(pages) >= 2
    assert len(records) == 250 and len({r.id for r in records}) == 250
    assert [r.modified_at for r in records] == sorted(r.modified_at for r in records)
    assert records[0].fields["email"].startswith("seed")
    cursor = json.loads(pages[-1].cursor)
    assert cursor["contacts"]["modified"] == to_ms(records[-1].modified_at)


def test_delta_returns_only_changes_plus_the_overlap_window(hs, connector):
    hs.seed("contacts", 40, None)
    _, cursor = pull_all(connector, "contact")
    watermark = json.loads(cursor)["contacts"]["modified"]
    ids = list(hs.records("contacts").order_by("updated_at").values_list("remote_id", flat=True))
    touched = {ids[0], ids[10]}
    for remote_id in touched:
        hs.touch("contacts", remote_id, {"firstname": "Changed"})
    changed, new_cursor = pull_all(connector, "contact", cursor)
    returned = {r.id for r in changed}
    assert touched <= returned
    overlap = {r.remote_id for r in hs.records("contacts") if to_ms(r.updated_at) > watermark - OVERLAP_MS}
    assert returned <= overlap | touched
    assert len(returned) < 40
    assert all(r.fields["firstname"] == "Changed" for r in changed if r.id in touched)
    assert json.loads(new_cursor)["contacts"]["modified"] > watermark


def test_search_ceiling_is_passed_by_moving_the_watermark(hs, base, connector):
    hs.seed("deals", 120, None)
    control(base, "settings", {"search_ceiling": 50})
    connector.search_ceiling = 50
    records, _ = pull_all(connector, "deal")
    assert {r.id for r in records} == set(hs.records("deals").values_list("remote_id", flat=True))


def test_archived_records_come_back_as_deleted_with_their_own_watermark(hs, api, base, connector):
    hs.seed("companies", 5, None)
    _, cursor = pull_all(connector, "company")
    gone = list(hs.records("companies").values_list("remote_id", flat=True))[:2]
    resp = api.post(
        f"{base}/crm/v3/objects/companies/batch/archive",
        json={"inputs": [{"id": i} for i in gone]},
        timeout=10,
    )
    assert resp.status_code == 204
    records, cursor = pull_all(connector, "company", cursor)
    deleted = [r for r in records if r.deleted]
    assert sorted(r.id for r in deleted) == sorted(gone)
    assert all(r.modified_at is not None and r.fields == {} for r in deleted)
    archived_at = max(to_ms(r.archived_at) for r in hs.records("companies").filter(archived=True))
    assert json.loads(cursor)["companies"]["archived"] == archived_at
    assert not any(r.id in gone for r in records if not r.deleted)


def test_activities_span_notes_tasks_and_calls_with_kind_and_typed_ids(hs, connector):
    results = connector.create(
        "activity",
        [
            {
                "_kind": "note",
                "hs_note_body": "hello",
                "hs_timestamp": "1700000000000",
                "hs_task_subject": "dropped",
            },
            {
                "_kind": "task",
                "hs_task_subject": "call back",
                "hs_timestamp": "1700000000000",
                "hs_note_body": "x",
            },
            {"_kind": "call", "hs_call_title": "intro", "hs_call_direction": "OUTBOUND"},
            {"_kind": "fax", "hs_note_body": "nope"},
        ],
    )
    assert [r.ok for r in results] == [True, True, True, False]
    assert [r.remote_id.split("/")[0] for r in results[:3]] == ["notes", "tasks", "calls"]
    records, _ = pull_all(connector, "activity")
    by_id = {r.id: r for r in records}
    note, task = by_id[results[0].remote_id], by_id[results[1].remote_id]
    assert note.fields["_kind"] == "note" and note.fields["hs_note_body"] == "hello"
    assert "hs_task_subject" not in note.fields
    assert task.fields["_kind"] == "task" and task.fields["hs_task_subject"] == "call back"
    fetched = connector.get("activity", [results[2].remote_id, "notes/999999"])
    assert [(r.id, r.fields["hs_call_title"]) for r in fetched] == [(results[2].remote_id, "intro")]
    updated = connector.update("activity", [(results[0].remote_id, {"hs_note_body": "edited"})])
    assert updated[0].ok
    assert (
        hs.records("notes").get(remote_id=results[0].remote_id.split("/")[1]).data["hs_note_body"] == "edited"
    )


def test_150_creates_go_out_in_two_batch_calls_in_input_order(hs, connector):
    records = [hs.sample_record("contact", i) for i in range(150)]
    results = connector.create("contact", records)
    assert connector.client.calls == 2
    assert [r.index for r in results] == list(range(150))
    assert all(r.ok and r.created for r in results)
    stored = {r.remote_id: r.data["email"] for r in hs.records("contacts")}
    assert [stored[r.remote_id] for r in results] == [f"sample{i}@example.com" for i in range(150)]


def test_one_invalid_record_fails_alone(hs, connector):
    batch = [hs.sample_record("contact", 1), hs.invalid_record("contact"), hs.sample_record("contact", 2)]
    results = connector.create("contact", batch)
    assert [r.ok for r in results] == [True, False, True]
    assert results[1].code == "VALIDATION_ERROR" and "no_such_property" in results[1].error
    assert hs.records("contacts").count() == 2


def test_duplicate_email_reports_contact_exists_with_the_existing_id(hs, connector):
    [first] = connector.create("contact", [hs.sample_record("contact", 7)])
    results = connector.create("contact", [hs.sample_record("contact", 8), hs.sample_record("contact", 7)])
    assert results[0].ok
    assert (results[1].ok, results[1].code) == (False, "CONTACT_EXISTS")
    assert f"Existing ID: {first.remote_id}" in results[1].error


def test_update_and_delete_report_per_record_outcomes(hs, connector):
    created = connector.create("deal", [hs.sample_record("deal", i) for i in range(3)])
    ids = [r.remote_id for r in created]
    updates = connector.update(
        "deal", [(ids[0], {"amount": "5"}), ("999999", {"amount": "1"}), (ids[2], {"bogus": "1"})]
    )
    assert [(r.index, r.ok) for r in updates] == [(0, True), (1, False), (2, False)]
    assert updates[1].code == "OBJECT_NOT_FOUND" and updates[2].code == "VALIDATION_ERROR"
    assert hs.records("deals").get(remote_id=ids[0]).data["amount"] == "5"
    deleted = connector.delete("deal", ids[:2])
    assert all(r.ok for r in deleted)
    assert sorted(hs.records("deals").filter(archived=True).values_list("remote_id", flat=True)) == sorted(
        ids[:2]
    )


def test_an_injected_429_is_waited_out_then_the_call_succeeds(hs, base, connector):
    hs.seed("contacts", 3, None)
    control(base, "settings", {"rate_interval_ms": 1000})  # HubSpot's window, shortened for the test
    control(base, "faults", {"ratelimit_count": 1})
    started = time.monotonic()
    records, _ = pull_all(connector, "contact")
    assert len(records) == 3
    assert control(base, "state", {})["ratelimit_count"] == 0
    assert time.monotonic() - started < 5


def test_get_returns_records_by_id_and_skips_missing(hs, connector):
    created = connector.create("company", [hs.sample_record("company", 1)])
    [record] = connector.get("company", [created[0].remote_id, "31337"])
    assert isinstance(record, RemoteRecord) and record.fields["name"] == "Sample Co 1"
