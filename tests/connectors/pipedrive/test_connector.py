"""The Pipedrive connector over real HTTP against the emulator: paging, delta, deletes and merges,
custom fields, relations, idempotent creates, limits and auth."""

import time

import pytest
import requests
from django.utils import timezone

from connectors.base import RELATIONS_KEY, ConfigError, MemoryTokenStore, Tokens
from connectors.pipedrive.connector import PipedriveConnector
from tests.connectors.pipedrive.conftest import control


def cf(definition: dict) -> str:
    """A custom field's remote name: the path of its value in a v2 body."""
    return f"custom_fields.{definition['key']}"


def pull_all(connector, entity, cursor=None):
    found = []
    for page in connector.pull(entity, cursor=cursor):
        found += page.records
        cursor = page.cursor or cursor
    return found, cursor


@pytest.mark.parametrize(("count", "calls"), [(500, 1), (501, 2)])
def test_a_full_pull_pages_at_500_rows(pd, connector, count, calls):
    pd.seed("persons", count)
    records, cursor = pull_all(connector, "contact")
    assert len({r.id for r in records}) == count and cursor
    assert connector.client.calls == calls  # a full pull reads no recents: nothing was deleted before it


def test_a_delta_of_100_changes_costs_at_most_three_calls_and_sees_deletes_and_merges(pd, connector):
    pd.seed("persons", 600)
    records, cursor = pull_all(connector, "contact")
    ids = sorted(int(r.id) for r in records)
    time.sleep(1.1)  # past the overlap's whole second, so the delta holds only what changes now
    for person_id in ids[:100]:
        pd.touch("persons", str(person_id), {"name": f"Changed {person_id}"})
    loser, winner = str(ids[200]), str(ids[201])
    pd.merge("persons", loser, winner)
    before = connector.client.calls

    changed, _ = pull_all(connector, "contact", cursor)

    assert connector.client.calls - before <= 3
    by_id = {r.id: r for r in changed}
    assert all(by_id[str(i)].fields["name"] == f"Changed {i}" for i in ids[:100])
    assert by_id[loser].deleted and by_id[loser].replaced_by == winner
    assert not by_id[winner].deleted


def test_records_read_flat_with_relations_and_custom_fields(pd, connector):
    tier = pd.add_custom_field("persons", "Tier", "enum", ["Gold", "Silver"])
    since = pd.add_custom_field("persons", "Customer since", "date")
    [org] = connector.create("company", [{"name": "Acme", "address": "1 Main St"}])
    [person] = connector.create(
        "contact",
        [
            {
                "name": "Ana Lee",
                "email": "ana@example.com",
                "phone": "+14155550100",
                cf(tier): 1,
                RELATIONS_KEY: {"company_id": {"add": [org.remote_id], "remove": []}},
            }
        ],
    )
    connector.want_fields("contact", [cf(tier), cf(since)])

    [read] = connector.get("contact", [person.remote_id])

    assert read.fields["first_name"] == "Ana" and read.fields["last_name"] == "Lee"
    assert read.fields["email"] == "ana@example.com" and read.fields["phone"] == "+14155550100"
    assert read.fields[cf(tier)] == 1 and read.fields[cf(since)] is None
    assert read.relations == {"company_id": (org.remote_id,)}
    [company] = connector.get("company", [org.remote_id])
    assert company.fields["address"] == "1 Main St"


def test_discovered_fields_name_custom_fields_by_hash_and_label_them_by_name(pd, connector):
    tier = pd.add_custom_field("persons", "Tier", "enum", ["Gold", "Silver"])
    fields = {f.name: f for f in connector.discover_fields("contact")}
    assert fields[cf(tier)].label == "Tier" and fields[cf(tier)].custom
    assert fields[cf(tier)].type == "enumeration" and fields[cf(tier)].options == (
        ("1", "Gold"),
        ("2", "Silver"),
    )
    assert fields["email"].type == "email" and fields["first_name"].read_only and not fields["name"].read_only
    assert "org_id" not in fields  # a relation, not a field
    activity = {(f.remote_type, f.name) for f in connector.discover_fields("activity")}
    assert (
        ("notes", "content") in activity
        and ("activities", "subject") in activity
        and ("", "_kind") in activity
    )


def test_a_refused_relation_leaves_the_record_written_and_reports_the_relation(pd, connector):
    payload = {"name": "Bo Diaz", RELATIONS_KEY: {"company_id": {"add": ["999999"], "remove": []}}}
    [result] = connector.create("contact", [payload])
    assert result.ok and result.created and result.relations_failed == ("company_id",)
    assert "999999" in result.relations_error
    [read] = connector.get("contact", [result.remote_id])
    assert read.relations == {"company_id": ()}


def test_a_deal_links_one_person_and_reports_the_others(pd, connector):
    made = connector.create("contact", [{"name": f"P{i} Person"} for i in range(2)])
    adds = [m.remote_id for m in made]
    [deal] = connector.create(
        "deal", [{"title": "Big", RELATIONS_KEY: {"contact_ids": {"add": adds, "remove": []}}}]
    )
    assert deal.ok and deal.relations_failed == ("contact_ids",)
    [read] = connector.get("deal", [deal.remote_id])
    assert read.relations["contact_ids"] == (adds[0],)


def test_a_create_sent_twice_finds_the_first_instead_of_duplicating(pd, connector):
    payload = {"name": "Cy Twice", "email": "cy@example.com"}
    [first] = connector.create("contact", [payload])
    [again] = connector.create("contact", [{**payload, "email": "CY@example.com"}])
    assert first.created and again.ok and again.created is False and again.remote_id == first.remote_id
    assert pd.live("persons").count() == 1
    [org] = connector.create("company", [{"name": "Same Co"}])
    [org_again] = connector.create("company", [{"name": "Same Co"}])
    assert org_again.remote_id == org.remote_id and pd.live("organizations").count() == 1


def test_a_create_whose_answer_is_lost_is_uncertain_and_found_afterwards(pd, connector, base):
    since = timezone.now()
    control(
        base,
        "faults",
        {"rule": {"path_contains": "/api/v2/deals", "count": 1, "status": 502, "after_write": True}},
    )
    [result] = connector.create("deal", [{"title": "Lost answer"}])
    assert not result.ok and result.uncertain
    assert connector.find_created("deal", [{"title": "Lost answer"}], since=since) == [
        [str(pd.live("deals").get().remote_id)]
    ]


def test_notes_are_activities_of_kind_note_and_their_deletes_come_back(pd, connector):
    [person] = connector.create("contact", [{"name": "Di Notes"}])
    link = {RELATIONS_KEY: {"contact_id": {"add": [person.remote_id], "remove": []}}}
    [note] = connector.create("activity", [{"_kind": "note", "content": "Met at the fair", **link}])
    [task] = connector.create(
        "activity", [{"_kind": "call", "subject": "Call back", "note": "ignored on notes", **link}]
    )
    assert note.remote_id.startswith("notes/") and task.remote_id.startswith("activities/")
    records, cursor = pull_all(connector, "activity")
    by_id = {r.id: r for r in records}
    assert by_id[note.remote_id].fields["_kind"] == "note" and by_id[task.remote_id].fields["_kind"] == "call"
    assert by_id[note.remote_id].relations["contact_id"] == (person.remote_id,)

    [deleted] = connector.delete("activity", [note.remote_id])
    changed, _ = pull_all(connector, "activity", cursor)
    assert deleted.ok and any(r.id == note.remote_id and r.deleted for r in changed)


def test_a_bad_token_gives_test_connection_a_clear_message(config, make_connector):
    bad = make_connector({**config, "api_token": "wrong-token-0123456789abcdef"})
    result = bad.test_connection()
    assert not result.ok and "refused the API token" in result.message and "unauthorized" in result.message
    assert "wrong-token" not in result.message


def test_a_429_storm_is_waited_out_and_nothing_fails(pd, connector, base):
    pd.seed("persons", 6)  # twice the burst: the window is waited out more than once
    control(base, "settings", {"burst_api_token": 3})
    control(base, "faults", {"ratelimit_count": 4})
    ids = [r.id for r in pull_all(connector, "contact")[0]]
    results = connector.update("contact", [(i, {"name": f"Storm {i}"}) for i in ids])
    assert all(r.ok for r in results)
    assert {r.fields["name"] for r in connector.get("contact", ids)} == {f"Storm {i}" for i in ids}
    assert control(base, "state", {})["ratelimit_count"] == 0


def test_oauth_refreshes_with_basic_client_auth_and_stores_the_rotated_refresh_token(
    pd, base, make_connector
):
    issued = requests.post(f"{base}/_control/token", json={"kind": "oauth"}, timeout=10).json()
    assert issued["api_domain"] == base
    store = MemoryTokenStore(
        Tokens(
            access_token=issued["access_token"],
            refresh_token=issued["refresh_token"],
            expires_at=time.time() - 1,
            extra={"api_domain": base},
        )
    )
    config = {
        "auth_mode": "oauth",
        "client_id": "sandbox-client-id",
        "client_secret": "sandbox-client-secret",
        "base_url": base,
    }
    connector = make_connector(config, token_store=store)
    assert connector.test_connection().ok
    assert store.tokens.refresh_token != issued["refresh_token"] and store.tokens.extra["api_domain"] == base


def test_oauth_uses_the_api_domain_from_the_token_response():
    store = MemoryTokenStore(Tokens(access_token="a", extra={"api_domain": "https://acme.pipedrive.com"}))
    connector = PipedriveConnector(
        {"auth_mode": "oauth", "client_id": "c", "client_secret": "s"}, token_store=store
    )
    assert connector.base_url() == "https://acme.pipedrive.com"
    assert (
        PipedriveConnector({"auth_mode": "api_token", "company_domain": "globex"}).base_url()
        == "https://globex.pipedrive.com"
    )


def test_webhook_subscription_registers_v2_with_basic_credentials_and_removes_it(pd, connector):
    subscription = connector.subscribe_webhooks(
        target_url="https://app.example.com/webhooks/in/pipedrive/7/", secret="s3cret"
    )
    [hook] = pd.subscriptions()
    assert hook["version"] == "2.0" and hook["event_object"] == "*" and hook["http_auth_user"] == "pipedrive"
    assert hook["http_auth_password"] and "s3cret" not in hook["http_auth_password"]
    connector.unsubscribe_webhooks(subscription=subscription)
    connector.unsubscribe_webhooks(subscription=subscription)
    assert pd.subscriptions() == []


def test_a_person_create_whose_answer_is_lost_is_found_at_once_not_sent_again(pd, connector, base):
    control(
        base,
        "faults",
        {"rule": {"path_contains": "/api/v2/persons", "count": 1, "status": 504, "after_write": True}},
    )
    [result] = connector.create("contact", [{"name": "Lost Answer", "email": "lost@example.com"}])
    assert result.ok and result.created and result.remote_id == pd.live("persons").get().remote_id


def test_revoke_sends_basic_client_auth_and_the_grant_stops_working(pd, base, make_connector):
    issued = requests.post(f"{base}/_control/token", json={"kind": "oauth"}, timeout=10).json()
    store = MemoryTokenStore(
        Tokens(access_token=issued["access_token"], refresh_token=issued["refresh_token"])
    )
    config = {
        "auth_mode": "oauth",
        "client_id": "sandbox-client-id",
        "client_secret": "sandbox-client-secret",
        "base_url": base,
    }
    assert make_connector(config, token_store=store).revoke()
    store.tokens.refresh_token = ""
    assert not make_connector(config, token_store=store).test_connection().ok


def test_an_api_domain_on_a_private_address_is_refused():
    connector = PipedriveConnector({"auth_mode": "oauth", "client_id": "c", "client_secret": "s"})
    with pytest.raises(ConfigError):
        connector.accept_tokens(
            Tokens(access_token="a", extra={"api_domain": "http://169.254.169.254/latest"})
        )
    connector.accept_tokens(Tokens(access_token="a", extra={"api_domain": "https://acme.pipedrive.com"}))


def test_an_unknown_company_domain_gives_test_connection_a_clear_message():
    connector = PipedriveConnector(
        {
            "auth_mode": "api_token",
            "api_token": "0123456789abcdef0123456789",
            "company_domain": "no-such-company-zz",
        }
    )
    result = connector.test_connection()
    assert (
        not result.ok
        and "check the company domain" in result.message
        and "no-such-company-zz" in result.message
    )
    assert "0123456789abcdef" not in result.message
