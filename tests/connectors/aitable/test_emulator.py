"""The AITable emulator over real HTTP: envelopes, paging caps, HTTP-200 error codes, the write cap,
field keys, omitted empty cells, formulas, links, the per-datasheet rate limit (providers.md §4)."""

import re
import time

import pytest
import requests

from connectors.aitable.emulator.schema import (
    ACTIVITIES_ID,
    AUDIT_ID,
    COMPANIES_ID,
    DEALS_ID,
    LEADS_ID,
    ORDERS_ID,
    SPACE_ID,
)
from tests.connectors.aitable.conftest import control


@pytest.fixture(autouse=True)
def roomy_limit(at, base):
    """Most tests make more than 5 calls a second; the rate-limit test sets AITable's 5 back."""
    control(base, "settings", {"qps": 1000})


def records_url(base, dst=LEADS_ID):
    return f"{base}/fusion/v1/datasheets/{dst}/records"


def create(api, base, rows, dst=LEADS_ID, **extra):
    resp = api.post(records_url(base, dst), json={"records": [{"fields": f} for f in rows], **extra})
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_connect_returns_the_catalog_config(config, sandbox_url):
    assert config["base_url"] == f"{sandbox_url}/aitable"
    assert config["space_id"] == SPACE_ID
    assert config["datasheets"] == {
        "contact": LEADS_ID,
        "company": COMPANIES_ID,
        "deal": DEALS_ID,
        "activity": ACTIVITIES_ID,
    }
    assert config["onboarding"] == {"orders_datasheet": ORDERS_ID, "audit_results_datasheet": AUDIT_ID}
    assert set(config) == {"base_url", "api_token", "space_id", "datasheets", "onboarding"}
    for dst in (LEADS_ID, ORDERS_ID, AUDIT_ID, COMPANIES_ID, DEALS_ID, ACTIVITIES_ID):
        assert re.fullmatch(r"dst[A-Za-z0-9]{5,40}", dst)


def test_bad_or_missing_token_is_a_real_401_envelope(base):
    for headers in ({}, {"Authorization": "Bearer nope"}):
        resp = requests.get(records_url(base), headers=headers, timeout=10)
        assert resp.status_code == 401
        body = resp.json()
        assert body["success"] is False and body["code"] == 401 and body["message"]


def test_default_space_nodes_fields_and_views(api, base):
    spaces = api.get(f"{base}/fusion/v1/spaces").json()
    assert spaces["success"] and spaces["code"] == 200 and spaces["message"] == "SUCCESS"
    assert spaces["data"]["spaces"] == [{"id": SPACE_ID, "name": "Digicon CRM", "isAdmin": True}]
    nodes = api.get(f"{base}/fusion/v1/spaces/{SPACE_ID}/nodes").json()["data"]["nodes"]
    assert [(n["id"], n["name"], n["type"]) for n in nodes] == [
        (LEADS_ID, "Leads", "Datasheet"),
        (ORDERS_ID, "Orders", "Datasheet"),
        (AUDIT_ID, "Audit Results", "Datasheet"),
        (COMPANIES_ID, "Companies", "Datasheet"),
        (DEALS_ID, "Deals", "Datasheet"),
        (ACTIVITIES_ID, "Activities", "Datasheet"),
    ]
    fields = api.get(f"{base}/fusion/v1/datasheets/{LEADS_ID}/fields").json()["data"]["fields"]
    assert [f["name"] for f in fields] == [
        "Client Name", "Email", "Phone", "Company", "Status", "Portal URL", "Notes", "Last Edited",
    ]  # fmt: skip
    assert fields[0]["isPrimary"] and fields[0]["type"] == "SingleText"
    status = next(f for f in fields if f["name"] == "Status")
    assert [o["name"] for o in status["property"]["options"]] == [
        "New",
        "Contacted",
        "Qualified",
        "Won",
        "Lost",
    ]
    order_fields = api.get(f"{base}/fusion/v1/datasheets/{ORDERS_ID}/fields").json()["data"]["fields"]
    lead_link = next(f for f in order_fields if f["name"] == "Lead")
    assert lead_link["property"]["foreignDatasheetId"] == LEADS_ID
    deal_fields = api.get(f"{base}/fusion/v1/datasheets/{DEALS_ID}/fields").json()["data"]["fields"]
    assert [(f["name"], f["type"]) for f in deal_fields] == [
        ("Deal", "SingleText"), ("Amount", "Currency"), ("Stage", "SingleSelect"),
        ("Close Date", "DateTime"), ("Company", "OneWayLink"), ("Contacts", "OneWayLink"),
    ]  # fmt: skip
    links = {f["name"]: f["property"]["foreignDatasheetId"] for f in deal_fields if "Link" in f["type"]}
    assert links == {"Company": COMPANIES_ID, "Contacts": LEADS_ID}
    stage = next(f for f in deal_fields if f["name"] == "Stage")
    assert [o["name"] for o in stage["property"]["options"]] == ["Qualified", "Proposal", "Won", "Lost"]
    activity_fields = api.get(f"{base}/fusion/v1/datasheets/{ACTIVITIES_ID}/fields").json()["data"]
    kind = next(f for f in activity_fields["fields"] if f["name"] == "Kind")
    assert [o["name"] for o in kind["property"]["options"]] == ["note", "task", "call", "email", "meeting"]
    views = api.get(f"{base}/fusion/v1/datasheets/{LEADS_ID}/views").json()["data"]["views"]
    assert views and views[0]["id"].startswith("viw")


def test_paging_default_cap_and_total(api, base):
    control(base, "seed", {"object": "leads", "count": 1205})
    first = api.get(records_url(base)).json()["data"]
    assert first["total"] == 1205 and first["pageNum"] == 1 and len(first["records"]) == 100
    seen = []
    for page in (1, 2):
        data = api.get(records_url(base), params={"pageSize": 1000, "pageNum": page}).json()["data"]
        assert data["total"] == 1205
        seen += [r["recordId"] for r in data["records"]]
    assert len(seen) == len(set(seen)) == 1205
    capped = api.get(records_url(base), params={"maxRecords": 150, "pageSize": 100, "pageNum": 2}).json()
    assert capped["data"]["total"] == 150 and len(capped["data"]["records"]) == 50


def test_errors_come_back_as_http_200_envelopes(api, base):
    too_big = api.get(records_url(base), params={"pageSize": 1001})
    assert too_big.status_code == 200 and too_big.json()["code"] == 400 and not too_big.json()["success"]
    eleven = api.post(
        records_url(base), json={"records": [{"fields": {"Client Name": f"n{i}"}} for i in range(11)]}
    )
    assert eleven.status_code == 200 and eleven.json()["code"] == 400
    unknown = api.post(records_url(base), json={"records": [{"fields": {"Nope": "x"}}]})
    assert (
        unknown.status_code == 200 and unknown.json()["code"] == 400 and "Nope" in unknown.json()["message"]
    )
    formula = api.get(records_url(base), params={"filterByFormula": "FIND('a', {Email}) > 0"})
    assert formula.status_code == 200 and formula.json()["code"] == 400
    missing = api.get(records_url(base, "dstDoesNotExist99"))
    assert missing.status_code == 200 and missing.json() == {
        "success": False,
        "code": 301,
        "message": missing.json()["message"],
        "data": None,
    }
    assert api.get(records_url(base)).json()["data"]["total"] == 0  # nothing written by the failures


def test_a_request_with_one_bad_record_fails_whole(api, base):
    body = {
        "records": [
            {"fields": {"Client Name": "Fine"}},
            {"fields": {"Client Name": "Bad", "Email": 42}},
        ]
    }
    resp = api.post(records_url(base), json=body).json()
    assert resp["code"] == 400 and "records[1]" in resp["message"] and "Email" in resp["message"]
    assert api.get(records_url(base)).json()["data"]["total"] == 0


def test_empty_cells_are_omitted_and_times_are_epoch_ms(api, base):
    before = int(time.time() * 1000) - 1000
    created = create(api, base, [{"Client Name": "Ana", "Email": "ana@example.com", "Notes": ""}])
    record = created["data"]["records"][0]
    assert record["recordId"].startswith("rec")
    assert set(record["fields"]) == {"Client Name", "Email", "Last Edited"}
    assert record["createdAt"] >= before and record["updatedAt"] >= record["createdAt"]
    assert record["fields"]["Last Edited"] == record["updatedAt"]


def test_patch_changes_only_given_cells_and_delete_by_ids(api, base):
    rec = create(api, base, [{"Client Name": "Ana", "Company": "Acme", "Status": "New"}])["data"]["records"][
        0
    ]
    resp = api.patch(
        records_url(base), json={"records": [{"recordId": rec["recordId"], "fields": {"Status": "Won"}}]}
    ).json()
    fields = resp["data"]["records"][0]["fields"]
    assert fields["Status"] == "Won" and fields["Company"] == "Acme" and fields["Client Name"] == "Ana"
    cleared = api.put(
        records_url(base), json={"records": [{"recordId": rec["recordId"], "fields": {"Company": None}}]}
    ).json()
    assert "Company" not in cleared["data"]["records"][0]["fields"]
    gone = api.delete(records_url(base), params={"recordIds": rec["recordId"]}).json()
    assert gone["success"] and gone["data"]["records"] == [{"recordId": rec["recordId"]}]
    assert api.get(records_url(base)).json()["data"]["total"] == 0
    again = api.delete(records_url(base), params={"recordIds": rec["recordId"]}).json()
    assert again["code"] == 400


def test_field_key_id_reads_and_writes_by_field_id(api, base):
    resp = api.post(
        records_url(base),
        json={
            "records": [{"fields": {"fldLeadName001": "Bo", "fldLeadEmail01": "bo@example.com"}}],
            "fieldKey": "id",
        },
    ).json()
    assert resp["data"]["records"][0]["fields"]["fldLeadName001"] == "Bo"
    data = api.get(records_url(base), params={"fieldKey": "id", "fields": "fldLeadEmail01"}).json()["data"]
    assert data["records"][0]["fields"] == {"fldLeadEmail01": "bo@example.com"}
    by_name = api.get(records_url(base), params={"fields[]": ["Client Name"]}).json()["data"]
    assert by_name["records"][0]["fields"] == {"Client Name": "Bo"}


def test_formula_equality_and_or(api, base):
    create(
        api,
        base,
        [
            {"Client Name": "Ana", "Status": "Won", "Company": "Acme"},
            {"Client Name": "Bo", "Status": "New", "Company": "Acme"},
            {"Client Name": "Cy", "Status": "Won", "Company": "Globex"},
        ],
    )

    def names(formula):
        data = api.get(records_url(base), params={"filterByFormula": formula}).json()
        assert data["success"], data
        return sorted(r["fields"]["Client Name"] for r in data["data"]["records"])

    assert names('{Status}="Won"') == ["Ana", "Cy"]
    assert names('AND({Status}="Won", {Company}="Acme")') == ["Ana"]
    assert names("OR({Client Name}='Bo', {Client Name}='Cy')") == ["Bo", "Cy"]
    assert names("{Notes}=BLANK()") == ["Ana", "Bo", "Cy"]
    unknown = api.get(records_url(base), params={"filterByFormula": '{Nope}="x"'}).json()
    assert unknown["code"] == 400


def test_number_formula_sort_and_string_cells(api, base):
    rows = [
        {"Audit": "a1", "Employees Processed": 12, "Upload Date": 1_700_000_000_000},
        {"Audit": "a2", "Employees Processed": 3},
        {"Audit": "a3", "Employees Processed": 40},
    ]
    create(api, base, rows, AUDIT_ID)
    url = records_url(base, AUDIT_ID)
    hit = api.get(url, params={"filterByFormula": "{Employees Processed}=12"}).json()["data"]["records"]
    assert [r["fields"]["Audit"] for r in hit] == ["a1"]
    desc = api.get(url, params={"sort[0][field]": "Employees Processed", "sort[0][order]": "desc"}).json()
    assert [r["fields"]["Audit"] for r in desc["data"]["records"]] == ["a3", "a1", "a2"]
    text = api.get(url, params={"cellFormat": "string", "recordIds": hit[0]["recordId"]}).json()["data"]
    assert text["records"][0]["fields"]["Employees Processed"] == "12"
    assert text["records"][0]["fields"]["Upload Date"] == "2023/11/14 22:13"
    wrong = api.post(url, json={"records": [{"fields": {"Employees Processed": "twelve"}}]}).json()
    assert wrong["code"] == 400 and "Employees Processed" in wrong["message"]


def test_link_cells_hold_record_ids_of_the_linked_datasheet(api, base):
    lead = create(api, base, [{"Client Name": "Ana"}])["data"]["records"][0]["recordId"]
    order = create(api, base, [{"Order": "O-1", "Lead": [lead], "Lead Record ID": lead}], ORDERS_ID)
    fields = order["data"]["records"][0]["fields"]
    assert fields["Lead"] == [lead] and fields["Lead Record ID"] == lead
    as_text = api.get(records_url(base, ORDERS_ID), params={"cellFormat": "string"}).json()["data"]
    assert as_text["records"][0]["fields"]["Lead"] == "Ana"
    bad = api.post(
        records_url(base, ORDERS_ID), json={"records": [{"fields": {"Lead": ["recNope1234"]}}]}
    ).json()
    assert bad["code"] == 400 and "recNope1234" in bad["message"]
    api.delete(records_url(base), params={"recordIds": lead})
    after = api.get(records_url(base, ORDERS_ID)).json()["data"]["records"][0]["fields"]
    assert "Lead" not in after


def test_select_options_unknown_added_or_refused(api, base):
    added = create(api, base, [{"Client Name": "Ana", "Status": "Dormant"}])["data"]["records"][0]
    assert added["fields"]["Status"] == "Dormant"
    fields = api.get(f"{base}/fusion/v1/datasheets/{LEADS_ID}/fields").json()["data"]["fields"]
    assert "Dormant" in [
        o["name"] for o in next(f for f in fields if f["name"] == "Status")["property"]["options"]
    ]
    control(base, "settings", {"select_unknown_option": "error"})
    refused = api.post(records_url(base), json={"records": [{"fields": {"Status": "Other"}}]}).json()
    assert refused["code"] == 400 and "Other" in refused["message"]
    read_only = api.post(records_url(base), json={"records": [{"fields": {"Last Edited": 1}}]}).json()
    assert read_only["code"] == 400


def test_field_create_and_no_permission(api, base):
    url = f"{base}/fusion/v1/spaces/{SPACE_ID}/datasheets/{LEADS_ID}/fields"
    made = api.post(url, json={"type": "Checkbox", "name": "VIP", "property": {"icon": "star"}}).json()
    assert made["success"] and made["data"]["id"].startswith("fld") and made["data"]["name"] == "VIP"
    assert (
        create(api, base, [{"Client Name": "Ana", "VIP": True}])["data"]["records"][0]["fields"]["VIP"]
        is True
    )
    dup = api.post(url, json={"type": "Checkbox", "name": "VIP"}).json()
    assert dup["code"] == 400
    control(base, "settings", {"forbidden_nodes": [ORDERS_ID]})
    denied = api.get(records_url(base, ORDERS_ID))
    assert denied.status_code == 200 and denied.json()["code"] == 602


def test_sixth_request_in_a_second_on_one_datasheet_is_429_without_headers(api, base):
    control(base, "settings", {"qps": 5})
    answers = [api.get(records_url(base)) for _ in range(6)]
    assert [a.status_code for a in answers[:5]] == [200] * 5
    limited = answers[5]
    assert limited.status_code == 429
    assert limited.json()["code"] == 429 and limited.json()["success"] is False
    assert "frequency is too high" in limited.json()["message"]
    assert "Retry-After" not in limited.headers
    assert not [h for h in limited.headers if h.lower().startswith("x-ratelimit")]
    other = api.get(records_url(base, ORDERS_ID))  # another datasheet has its own window
    assert other.status_code == 200


def test_unknown_fusion_path_is_a_real_404(api, base):
    resp = api.get(f"{base}/fusion/v1/nothing/here")
    assert resp.status_code == 404 and resp.json()["code"] == 404


def test_seeded_leads_are_mostly_new_or_contacted_with_a_few_qualified(api, base):
    control(base, "seed", {"object": "leads", "count": 20})
    rows = api.get(records_url(base), params={"pageSize": 100}).json()["data"]["records"]
    assert len(rows) == 20
    statuses = [r["fields"]["Status"] for r in rows]
    assert statuses.count("Qualified") == 4 and set(statuses) == {"New", "Contacted", "Qualified"}
    assert statuses.count("New") + statuses.count("Contacted") == 16
    for column in ("Client Name", "Email", "Phone"):
        assert len({r["fields"][column] for r in rows}) == 20, column
    assert all(re.fullmatch(r"\+\d{8,15}", r["fields"]["Phone"]) for r in rows)


def test_state_lists_datasheets_with_rows(api, base):
    control(base, "seed", {"object": "leads", "count": 3})
    state = requests.get(f"{base}/_control/state", timeout=10).json()
    sheets = {s["id"]: s for s in state["datasheets"]}
    rows = sheets[LEADS_ID]["records"]
    assert len(rows) == 3
    assert len({r["fields"]["Email"] for r in rows}) == 3
    assert all(r["fields"]["Phone"].startswith("+1") for r in rows)


def test_injected_server_error_is_a_real_500_envelope(api, base):
    control(base, "faults", {"fail_status": 500, "fail_count": 1})
    failed = api.get(records_url(base))
    assert failed.status_code == 500 and failed.json()["code"] == 500 and failed.json()["success"] is False
    assert api.get(records_url(base)).json()["success"]
