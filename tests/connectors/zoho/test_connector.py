"""The Zoho connector against the emulator over real HTTP: paging edges, deltas, upsert idempotency,
per-item batch results, custom fields, credits, and data-centre hosts."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.utils import timezone

from connectors.base import RELATIONS_KEY, MemoryTokenStore
from connectors.zoho.connector import ZohoConnector
from tests.connectors.zoho.conftest import control

pytestmark = pytest.mark.django_db(transaction=True)


def pull(connector, entity="contact", cursor=None):
    records = []
    for page in connector.pull(entity, cursor=cursor):
        records += page.records
        cursor = page.cursor or cursor
    return records, cursor


@pytest.mark.parametrize(("rows", "calls"), [(200, 1), (2000, 10), (2001, 11)])
def test_full_pull_paging_edges(zoho, connector, rows, calls):
    """200 a page; ``page`` reaches 2,000 rows, the 2,001st comes through ``page_token``."""
    zoho.seed("Contacts", rows)
    records, cursor = pull(connector)
    assert len({r.id for r in records}) == rows == len(records)
    assert connector.client().calls == calls and cursor


def test_page_numbers_stop_at_2000_rows_and_page_tokens_go_on(zoho, api, base):
    zoho.seed("Contacts", 2001)
    url = f"{base}/crm/v7/Contacts"
    beyond = api.get(url, params={"fields": "Last_Name", "page": 11, "per_page": 200}, timeout=10)
    assert beyond.status_code == 400 and beyond.json()["code"] == "DISCRETE_PAGINATION_LIMIT_EXCEEDED"
    tenth = api.get(url, params={"fields": "Last_Name", "page": 10, "per_page": 200}, timeout=10).json()
    assert tenth["info"]["more_records"] and tenth["info"]["next_page_token"]
    last = api.get(
        url, params={"fields": "Last_Name", "page_token": tenth["info"]["next_page_token"]}, timeout=10
    )
    assert (
        last.status_code == 200
        and last.json()["info"]["count"] == 1
        and not last.json()["info"]["more_records"]
    )


def test_the_emulator_insists_on_fields_the_zoho_header_and_answers_204_when_empty(
    zoho, api, base, connected
):
    url = f"{base}/crm/v7/Contacts"
    assert api.get(url, timeout=10).json()["code"] == "REQUIRED_PARAM_MISSING"
    assert api.get(url, params={"fields": "Email"}, timeout=10).status_code == 204
    bearer = requests.get(
        url,
        params={"fields": "Email"},
        headers={"Authorization": f"Bearer {connected[1].access_token}"},
        timeout=10,
    )
    assert bearer.status_code == 401 and bearer.json()["code"] == "INVALID_TOKEN"
    assert api.get(f"{base}/crm/v8/Contacts", params={"fields": "Email"}, timeout=10).status_code == 204


def test_delta_reads_changes_since_the_cursor_and_deletions_from_the_recycle_bin(zoho, connector):
    made = connector.create("contact", [zoho.sample_record("contact", i) for i in range(4)])
    _, cursor = pull(connector)
    [changed] = connector.update("contact", [(made[1].remote_id, {"Title": "CFO"})])
    [gone] = connector.delete("contact", [made[2].remote_id])
    assert changed.ok and gone.ok
    before = connector.client().calls

    records, _ = pull(connector, cursor=cursor)

    by_id = {r.id: r for r in records}
    assert by_id[made[1].remote_id].fields["Title"] == "CFO"
    assert by_id[made[2].remote_id].deleted
    assert connector.client().calls - before == 2  # one listing, one recycle-bin read


def test_a_create_resent_with_the_same_email_updates_instead_of_duplicating(zoho, connector):
    [first] = connector.create("contact", [zoho.sample_record("contact", 1)])
    [again] = connector.create("contact", [{**zoho.sample_record("contact", 1), "Title": "Again"}])
    assert first.ok and first.created and again.ok and again.created is False
    assert again.remote_id == first.remote_id
    assert zoho.records("Contacts").count() == 1


def test_a_batch_with_one_bad_record_answers_207_and_fails_that_record_alone(zoho, connector, api, base):
    batch = [
        zoho.sample_record("contact", 1),
        zoho.invalid_record("contact"),
        zoho.sample_record("contact", 2),
    ]
    raw = api.post(f"{base}/crm/v7/Contacts", json={"data": batch}, timeout=10)
    assert raw.status_code == 207
    assert [item["status"] for item in raw.json()["data"]] == ["success", "error", "success"]
    assert raw.json()["data"][1]["details"]["api_name"] == "Email"

    results = connector.create("contact", [zoho.sample_record("contact", 3), zoho.invalid_record("contact")])
    assert [r.ok for r in results] == [True, False]
    assert results[1].code == "INVALID_DATA" and "Email" in results[1].error


def test_more_than_100_records_go_in_several_write_calls(zoho, connector):
    results = connector.create("contact", [zoho.sample_record("contact", i) for i in range(250)])
    assert all(r.ok for r in results) and connector.client().calls == 3


def test_a_deal_carries_its_account_and_one_contact(zoho, connector):
    [company] = connector.create("company", [zoho.sample_record("company", 1)])
    people = connector.create("contact", [zoho.sample_record("contact", i) for i in range(2)])
    both = [p.remote_id for p in people]
    links = {
        "company_id": {"add": [company.remote_id], "remove": []},
        "contact_ids": {"add": both, "remove": []},
    }
    [deal] = connector.create("deal", [{**zoho.sample_record("deal", 1), RELATIONS_KEY: links}])
    assert deal.ok and deal.relations_failed == ("contact_ids",)  # Zoho deals hold one contact
    [read] = connector.get("deal", [deal.remote_id])
    assert read.relations == {"company_id": (company.remote_id,), "contact_ids": (both[0],)}


def test_a_gone_relation_target_fails_the_relation_not_the_record(zoho, connector):
    link = {RELATIONS_KEY: {"company_id": {"add": ["5725767000000999999"], "remove": []}}}
    [made] = connector.create("contact", [{**zoho.sample_record("contact", 1), **link}])
    assert made.ok and made.relations_failed == ("company_id",) and "INVALID_DATA" in made.relations_error


def test_notes_are_activities_with_a_parent(zoho, connector):
    [company] = connector.create("company", [zoho.sample_record("company", 1)])
    note = {"_kind": "note", "Subject": "Call notes", "Description": "Liked the demo"}
    parent = {RELATIONS_KEY: {"company_id": {"add": [company.remote_id], "remove": []}}}
    [made] = connector.create("activity", [{**note, **parent}])
    assert made.ok, made.error
    [read] = connector.get("activity", [made.remote_id])
    assert read.fields["_kind"] == "note" and read.fields["Subject"] == "Call notes"
    assert read.relations["company_id"] == (company.remote_id,)
    [updated] = connector.update("activity", [(made.remote_id, {"Description": "Loved it"})])
    assert updated.ok, updated.error
    assert zoho.records("Notes").get().data["Note_Content"] == "Loved it"


def test_custom_fields_are_discovered_read_and_written(zoho, connector, base):
    colours = ["Red", "Green"]
    control(
        base,
        "settings",
        {
            "custom_fields": {
                "Contacts": {
                    "Favourite_Colour": {
                        "data_type": "picklist",
                        "field_label": "Favourite colour",
                        "pick_list_values": colours,
                    }
                }
            }
        },
    )
    fields = {f.name: f for f in connector.discover_fields("contact")}
    colour = fields["Favourite_Colour"]
    assert colour.custom and colour.type == "enumeration" and colour.label == "Favourite colour"
    assert colour.options == (("Red", "Red"), ("Green", "Green"))
    assert fields["Date_of_Birth"].type == "date" and fields["Date_of_Birth"].format == "date"
    assert not fields["Email"].custom and fields["Modified_Time"].read_only

    [made] = connector.create("contact", [{**zoho.sample_record("contact", 1), "Favourite_Colour": "Green"}])
    connector.want_fields("contact", ["Favourite_Colour"])
    [record], _ = pull(connector)
    assert record.id == made.remote_id and record.fields["Favourite_Colour"] == "Green"


def test_find_created_looks_only_at_records_created_since(zoho, connector):
    since = timezone.now() - timedelta(seconds=2)
    sample = zoho.sample_record("company", 4)
    [made] = connector.create("company", [sample])
    assert connector.find_created("company", [sample, zoho.sample_record("company", 5)], since=since) == [
        [made.remote_id],
        [],
    ]


def test_credits_run_out_with_429_too_many_requests_and_are_reported(zoho, connector, base, api):
    control(base, "settings", {"credit_limit": 3})
    result = connector.test_connection()
    assert (
        result.ok
        and result.details["api_credits"]["limit"] == 3
        and result.details["api_credits"]["used"] == 1
    )
    api.get(f"{base}/crm/v7/org", timeout=10)
    api.get(f"{base}/crm/v7/org", timeout=10)
    refused = api.get(f"{base}/crm/v7/org", timeout=10)
    assert refused.status_code == 429 and refused.json()["code"] == "TOO_MANY_REQUESTS"
    assert control(base, "state", {})["credits_used"] == 3


def test_an_eu_account_works_on_the_emulators_eu_hosts_only(zoho, sandbox_url, make_connector):
    """Tokens from the EU accounts server carry the EU api_domain and are refused on the US host."""
    eu = f"{sandbox_url}/zoho/dc/eu"
    form = {
        "response_type": "code",
        "client_id": "sandbox-client-id",
        "redirect_uri": "http://app.test/cb",
        "state": "st",
        "decision": "accept",
    }
    consent = requests.post(f"{eu}/oauth/v2/auth", data=form, allow_redirects=False, timeout=10)
    callback = parse_qs(urlsplit(consent.headers["Location"]).query)
    assert callback["accounts-server"] == [eu] and callback["location"] == ["eu"]
    config = {
        "accounts_url": "https://accounts.zoho.eu",
        "base_url": eu,
        "client_id": "sandbox-client-id",
        "client_secret": "sandbox-client-secret",
    }
    probe = ZohoConnector(config, token_store=MemoryTokenStore())
    tokens = probe.oauth_client().exchange_code(
        code=callback["code"][0], redirect_uri="http://app.test/cb", verifier=None
    )
    probe.accept_tokens(tokens)
    assert tokens.extra["api_domain"] == eu and tokens.refresh_token

    assert make_connector(config, tokens).test_connection().ok
    us = make_connector({**config, "base_url": f"{sandbox_url}/zoho"}, tokens)
    us.token_store.tokens.extra["api_domain"] = f"{sandbox_url}/zoho"
    us.token_store.tokens.refresh_token = ""
    assert not us.test_connection().ok


def test_the_emulator_caps_refreshes_at_ten_per_ten_minutes(zoho, connected, base):
    config, tokens = connected
    form = {
        "grant_type": "refresh_token",
        "refresh_token": tokens.refresh_token,
        "client_id": config["client_id"],
        "client_secret": config["client_secret"],
    }
    answers = [requests.post(f"{base}/oauth/v2/token", data=form, timeout=10) for _ in range(11)]
    assert all("access_token" in a.json() and "refresh_token" not in a.json() for a in answers[:10])
    assert answers[10].json()["error"] == "Access Denied"
    bad = requests.post(f"{base}/oauth/v2/token", data={**form, "refresh_token": "nope"}, timeout=10)
    assert bad.status_code == 200 and bad.json() == {"error": "invalid_code"}


def test_contacts_can_live_in_the_leads_module(zoho, connected, make_connector):
    config, tokens = connected
    leads = make_connector({**config, "contact_module": "Leads"}, tokens)
    link = {RELATIONS_KEY: {"company_id": {"add": ["5725767000000999999"], "remove": []}}}
    [made] = leads.create("contact", [{**zoho.sample_record("contact", 1), **link}])
    assert made.ok and made.relations_failed == ("company_id",)  # a lead has a Company text, no account
    stored = zoho.records("Leads").get(remote_id=made.remote_id).data
    assert stored["Designation"] == "Buyer" and "Title" not in stored
    [record], _ = pull(leads)
    assert record.remote_type == "Leads" and record.fields["Title"] == "Buyer"


def test_the_emulator_caps_concurrent_calls_with_429(zoho, api, base):
    control(base, "settings", {"concurrency_limit": 0})
    refused = api.get(f"{base}/crm/v7/org", timeout=10)
    assert refused.status_code == 429 and refused.json()["code"] == "TOO_MANY_REQUESTS"
    control(base, "settings", {"concurrency_limit": 10})
    assert api.get(f"{base}/crm/v7/org", timeout=10).ok


def test_a_unique_field_refuses_a_second_record_with_duplicate_data(zoho, connector, base):
    control(base, "settings", {"unique_fields": {"Accounts": ["Account_Name"]}})
    [first] = connector.create("company", [zoho.sample_record("company", 1)])
    [second] = connector.create(
        "company", [{**zoho.sample_record("company", 1), "Website": "other.example.com"}]
    )
    assert first.ok and not second.ok and second.code == "DUPLICATE_DATA"
    assert second.remote_id == first.remote_id  # the record it collides with
