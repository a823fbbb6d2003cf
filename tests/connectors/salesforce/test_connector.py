"""SalesforceConnector against the emulator over real HTTP."""

from __future__ import annotations

import json

import pytest

from connectors.base import ConfigError, RateLimited, ReauthorizationNeeded, Tokens, TransientError
from connectors.salesforce.connector import SalesforceConnector
from connectors.salesforce.emulator import emulator
from connectors.sandbox.models import SandboxRecord


def stored(object_type: str, **filters):
    return SandboxRecord.objects.filter(provider="salesforce", object_type=object_type, **filters)


def pull_all(connector, entity, cursor=None):
    pages = list(connector.pull(entity, cursor=cursor))
    records = [record for page in pages for record in page.records]
    return pages, records, (pages[-1].cursor if pages else cursor)


def test_full_pull_follows_next_records_url_oldest_first(connector):
    emulator.seed("Contact", 2100, None)
    pages, records, cursor = pull_all(connector, "contact")
    assert [len(page.records) for page in pages] == [2000, 100]
    assert len({r.id for r in records}) == 2100 == stored("Contact").count()
    stamps = [r.modified_at for r in records]
    assert stamps == sorted(stamps) and all(r.deleted is False for r in records)
    first = records[0]
    assert first.fields["LastName"].startswith("Person") and first.fields["Email"].endswith("@example.com")
    assert "attributes" not in first.fields and first.remote_type == "Contact"
    marks = json.loads(cursor)
    assert marks["Contact"]["since"] == records[-1].fields["SystemModstamp"][:23] + "Z"
    # each page's cursor already covers that page: a crash after page 1 resumes after it
    assert json.loads(pages[0].cursor)["Contact"]["since"] < marks["Contact"]["since"]


def test_delta_with_the_cursor_returns_only_what_changed(connector):
    emulator.seed("Contact", 30, None)
    _, records, cursor = pull_all(connector, "contact")
    touched = [records[3].id, records[29].id]  # 29: the record sitting exactly on the watermark
    for remote_id in touched:
        emulator.touch("Contact", remote_id, {"Title": "Changed"})
    (created,) = connector.create("contact", [{"LastName": "New", "Email": "new@example.com"}])
    _, delta, _ = pull_all(connector, "contact", cursor)
    assert sorted(r.id for r in delta) == sorted([*touched, created.remote_id])
    assert {r.fields["Title"] for r in delta if r.id in touched} == {"Changed"}


def test_deletes_since_the_cursor_come_back_as_deleted_records(connector):
    emulator.seed("Account", 5, None)
    _, records, cursor = pull_all(connector, "company")
    gone = [records[0].id, records[2].id]
    results = connector.delete("company", gone)
    assert [r.ok for r in results] == [True, True]
    _, delta, next_cursor = pull_all(connector, "company", cursor)
    assert sorted(r.id for r in delta) == sorted(gone) and all(r.deleted for r in delta)
    assert "Account:deleted" in json.loads(next_cursor)
    assert stored("Account", archived=True).count() == 2


def test_250_creates_go_out_in_two_collection_calls(connector):
    client = connector.client()
    before = client.calls
    results = connector.create("contact", [emulator.sample_record("contact", i) for i in range(250)])
    assert client.calls - before == 2
    assert [r.index for r in results] == list(range(250)) and all(r.ok and r.created for r in results)
    assert len({r.remote_id for r in results}) == 250 == stored("Contact").count()


def test_one_invalid_record_fails_alone(connector):
    batch = [
        emulator.sample_record("contact", 1),
        emulator.invalid_record("contact"),
        emulator.sample_record("contact", 2),
    ]
    results = connector.create("contact", batch)
    assert [r.ok for r in results] == [True, False, True]
    assert results[1].code == "REQUIRED_FIELD_MISSING" and "LastName" in results[1].error
    assert stored("Contact").count() == 2


@pytest.mark.parametrize("entity", ["contact", "company", "deal", "activity"])
def test_contract_samples_are_accepted_and_invalid_ones_refused(connector, entity):
    results = connector.create(entity, [emulator.sample_record(entity, 7), emulator.invalid_record(entity)])
    assert results[0].ok and not results[1].ok and results[1].code


def test_an_expired_session_is_refreshed_and_the_call_retried(org, connector, store):
    connector.test_connection()
    org.expire_session()  # the stored access token is now past the 2 h session timeout
    result = connector.test_connection()
    assert result.ok, result.message
    assert store.tokens.access_token != org.tokens.access_token
    assert store.tokens.refresh_token == org.tokens.refresh_token  # Salesforce does not rotate it
    assert store.tokens.extra["instance_url"] == org.instance_url


def test_a_revoked_refresh_token_needs_reauthorization(org, connector, store):
    org.expire_session()
    store.tokens.refresh_token = "rt-revoked"
    with pytest.raises(ReauthorizationNeeded):
        connector.get("contact", ["003000000000000AAA"])
    assert store.reauth_reason
    assert connector.test_connection().ok is False


def test_an_injected_rate_limit_is_waited_out_then_succeeds(org, connector):
    org.control("faults", {"ratelimit_count": 1})
    client = connector.client()
    (result,) = connector.create("contact", [emulator.sample_record("contact", 1)])
    assert result.ok and client.calls == 2 and stored("Contact").count() == 1


def test_a_503_is_retried_for_an_update_but_never_resent_for_a_create(org, connector):
    # A create that met a 503 may have been written: resending it could make the record twice.
    # The engine settles it (CreateIntent + find_created); the client never guesses.
    org.control("faults", {"fail_status": 503, "fail_count": 1})
    with pytest.raises(TransientError):
        connector.create("company", [emulator.sample_record("company", 1)])
    (created,) = connector.create("company", [emulator.sample_record("company", 1)])
    assert created.ok
    org.control("faults", {"fail_status": 503, "fail_count": 1})
    (updated,) = connector.update("company", [(created.remote_id, {"Name": "Renamed"})])
    assert updated.ok and stored("Account", remote_id=created.remote_id).get().data["Name"] == "Renamed"


def test_the_daily_limit_raises_rate_limited_at_once_with_a_long_wait(org, connector):
    org.control("settings", {"daily_limit": 0})
    client = connector.client()
    with pytest.raises(RateLimited) as exc:
        list(connector.pull("contact", cursor=None))
    assert exc.value.retry_after == 3600 and exc.value.status == 403 and client.calls == 1


def test_activities_span_tasks_and_events_with_kind(connector):
    results = connector.create(
        "activity",
        [
            {"_kind": "task", "Subject": "Call back", "Status": "Not Started", "ActivityDate": "2025-01-02"},
            {
                "_kind": "event",
                "Subject": "Demo",
                "Status": "ignored on events",
                "DurationInMinutes": 30,
                "ActivityDateTime": "2025-01-02T10:00:00Z",
            },
            {"_kind": "call", "Subject": "Logged call"},
            {"_kind": "fax", "Subject": "no such thing"},
        ],
    )
    assert [r.ok for r in results] == [True, True, True, False]
    assert results[0].remote_id.startswith("00T") and results[1].remote_id.startswith("00U")
    assert stored("Task", remote_id=results[2].remote_id).get().data["TaskSubtype"] == "Call"
    _, records, _ = pull_all(connector, "activity")
    kinds = {r.id: (r.fields["_kind"], r.remote_type) for r in records}
    assert kinds == {
        results[0].remote_id: ("task", "Task"),
        results[1].remote_id: ("event", "Event"),
        results[2].remote_id: ("call", "Task"),
    }
    updated = connector.update(
        "activity",
        [
            (results[1].remote_id, {"Subject": "Demo v2", "Status": "x"}),
            (results[0].remote_id, {"Status": "Completed", "_kind": "event"}),
        ],
    )
    assert all(r.ok for r in updated)
    assert stored("Event", remote_id=results[1].remote_id).get().data["Subject"] == "Demo v2"
    assert stored("Task", remote_id=results[0].remote_id).get().data["Status"] == "Completed"


def test_update_and_delete_answer_in_input_order_with_bad_ids_failing_alone(connector):
    made = connector.create("deal", [emulator.sample_record("deal", i) for i in range(2)])
    a, b = made[0].remote_id, made[1].remote_id
    updated = connector.update(
        "deal",
        [(a, {"StageName": "Closed Won"}), ("001000000000000AAA", {"Name": "x"}), (b, {"CloseDate": None})],
    )
    assert [(r.index, r.ok) for r in updated] == [(0, True), (1, False), (2, False)]
    assert updated[1].code == "MALFORMED_ID" and updated[2].code == "REQUIRED_FIELD_MISSING"
    assert stored("Opportunity", remote_id=a).get().data["StageName"] == "Closed Won"
    deleted = connector.delete("deal", [b, "garbage", a[:15]])
    assert [r.ok for r in deleted] == [True, False, True]
    assert stored("Opportunity", archived=True).count() == 2


def test_get_returns_found_records_in_input_order(connector):
    made = connector.create("contact", [emulator.sample_record("contact", i) for i in range(3)])
    ids = [r.remote_id for r in made]
    connector.delete("contact", [ids[1]])
    found = connector.get("contact", [ids[2], ids[1], "nonsense", ids[0][:15]])
    assert [r.id for r in found] == [ids[2], ids[0]]
    assert found[0].fields["Email"] == "ana.lee2@example.com" and found[0].modified_at is not None


def test_test_connection_reports_the_daily_budget(connector):
    result = connector.test_connection()
    assert result.ok and result.details["daily_api_requests"]["Max"] == 15000
    assert "daily API requests left" in result.message


def test_oauth_endpoints_and_tokens_follow_the_login_url(org):
    connector = SalesforceConnector(org.config)
    assert connector.oauth_endpoints()["token_url"] == f"{org.instance_url}/services/oauth2/token"
    default = SalesforceConnector({"client_id": "x"})
    assert (
        default.oauth_endpoints()["authorize_url"] == "https://login.salesforce.com/services/oauth2/authorize"
    )
    client = default.oauth_client()
    url = client.authorize_url(state="s", redirect_uri="https://app.test/cb", verifier="v" * 50)
    assert "scope=api+refresh_token" in url and "code_challenge=" in url
    with pytest.raises(ConfigError, match="instance_url"):
        connector.accept_tokens(Tokens(access_token="a"))
    with pytest.raises(ConfigError, match="instance_url"):
        connector.accept_tokens(Tokens(access_token="a", extra={"instance_url": "http://10.0.0.5/"}))
    connector.accept_tokens(org.tokens)


def test_validate_config_refuses_bad_versions_org_ids_and_ips(org):
    SalesforceConnector.validate_config(org.config | {"allowed_ips": ["13.108.0.0/14", "10.1.2.3"]})
    for bad in (
        {"api_version": "62"},
        {"organization_id": "nope"},
        {"allowed_ips": ["not-an-ip"]},
        {"login_url": "ftp://login.salesforce.com"},
    ):
        with pytest.raises(ConfigError):
            SalesforceConnector.validate_config(org.config | bad)


def test_pull_needs_tokens(org):
    with pytest.raises(ReauthorizationNeeded):
        list(SalesforceConnector(org.config, token_store=None).pull("contact", cursor=None))
