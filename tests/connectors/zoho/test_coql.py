"""The emulator's COQL subset: select/where/order by/limit, 204 when empty, syntax errors, credits by limit."""

from __future__ import annotations

import pytest

from tests.connectors.zoho.conftest import control

pytestmark = pytest.mark.django_db(transaction=True)


def coql(api, base, query: str):
    return api.post(f"{base}/crm/v7/coql", json={"select_query": query}, timeout=10)


def test_a_delta_query_reads_changed_rows_in_order_with_offset_and_limit(zoho, api, base):
    zoho.seed("Contacts", 30)
    records = list(zoho.records("Contacts").order_by("updated_at"))
    since = records[9].updated_at.replace(microsecond=0).isoformat()
    query = f"select Last_Name, Email, Modified_Time from Contacts where Modified_Time > '{since}' order by Modified_Time asc limit 5, 10"  # noqa: S608 (COQL text to the emulator)
    body = coql(api, base, query).json()
    assert [row["Email"] for row in body["data"]] == [r.data["Email"] for r in records[15:25]]
    assert set(body["data"][0]) == {"id", "Last_Name", "Email", "Modified_Time"}
    assert body["info"] == {"count": 10, "more_records": True}


def test_conditions_nulls_lists_and_errors(zoho, api, base):
    zoho.seed("Contacts", 3)
    emails = ("seed0@example.com", "seed2@example.com")
    found = coql(
        api,
        base,
        f"select Email from Contacts where Email in ('{emails[0]}', '{emails[1]}') and Title is null",  # noqa: S608 (COQL text)
    )
    assert sorted(row["Email"] for row in found.json()["data"]) == list(emails)
    assert coql(api, base, "select Email from Contacts where Email = 'nobody@example.com'").status_code == 204
    broken = coql(api, base, "select Email form Contacts")
    assert broken.status_code == 400 and broken.json()["code"] == "SYNTAX_ERROR"
    mixed = coql(api, base, "select Email from Contacts where Email = 'a' and Email = 'b' or Email = 'c'")
    assert mixed.json()["code"] == "SYNTAX_ERROR"
    assert coql(api, base, "select Email from Contacts limit 2001").json()["code"] == "LIMIT_EXCEEDED"


def test_a_query_costs_credits_by_its_limit(zoho, api, base):
    zoho.seed("Contacts", 1)
    coql(api, base, "select Email from Contacts limit 2000")
    assert control(base, "state", {})["credits_used"] == 3
