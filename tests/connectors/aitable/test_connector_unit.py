"""AITableConnector over a ``responses``-mocked AITable: batching, per-record retry, delta and id
diff, find_created, TableStore and field discovery (providers.md §4 bodies)."""

import json
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from connectors.aitable.client import AITableClient
from connectors.aitable.connector import AITableConnector
from connectors.aitable.records import equals_formula
from connectors.base import ConfigError, FieldSpec, decode_cursor, encode_cursor
from connectors.capabilities import IdLister, RemoteTable, TableStore
from connectors.http import bearer
from connectors.ratelimit import RateLimiter

BASE = "https://aitable.ai"
LEADS = "dstLeads0001"
SPACE = "spcSpace0001"
RECORDS = f"{BASE}/fusion/v1/datasheets/{LEADS}/records"
FIELDS = f"{BASE}/fusion/v1/datasheets/{LEADS}/fields"
TOKEN = "usk-secret-token-1"
T0 = 1_700_000_000_000


def envelope(data):
    return {"success": True, "code": 200, "message": "SUCCESS", "data": data}


def failure(code, message):
    return {"success": False, "code": code, "message": message, "data": None}


def raw(rec_id, name="Ana Lee", updated=T0, created=T0, **cells):
    return {
        "recordId": rec_id,
        "fields": {"Client Name": name, **cells},
        "createdAt": created,
        "updatedAt": updated,
    }


def page(records, total=None, page_num=1):
    total = len(records) if total is None else total
    return envelope({"total": total, "pageNum": page_num, "pageSize": 1000, "records": records})


@pytest.fixture
def connector() -> AITableConnector:
    config = {
        "api_token": TOKEN,
        "space_id": SPACE,
        "datasheets": {"contact": LEADS},
        "requests_per_second": 50,
    }
    conn = AITableConnector(config, integration_id="unit")
    conn.__dict__["client"] = AITableClient(
        base_url=BASE,
        auth=bearer(TOKEN),
        token=TOKEN,
        limiter_factory=lambda scope: RateLimiter(
            key=f"unit:{scope}", rate="1000/1", storage_url="memory://"
        ),
    )
    return conn


def sent(call) -> dict:
    return json.loads(call.request.body)


def query(call) -> dict[str, list[str]]:
    return parse_qs(urlsplit(call.request.url).query)


def created_answer(request):
    rows = json.loads(request.body)["records"]
    records = [raw(f"recNew{i:05d}", **row["fields"]) for i, row in enumerate(rows)]
    return 200, {}, json.dumps(envelope({"records": records}))


def test_it_offers_the_table_store_and_id_lister_capabilities(connector):
    assert isinstance(connector, TableStore) and isinstance(connector, IdLister)


@responses.activate
def test_eleven_records_go_as_two_posts_with_field_key_name(connector):
    responses.add_callback(responses.POST, RECORDS, callback=created_answer)
    results = connector.create("contact", [{"Client Name": f"Client {i}", "Email": ""} for i in range(11)])
    assert [r.index for r in results] == list(range(11)) and all(r.ok and r.created for r in results)
    bodies = [sent(call) for call in responses.calls]
    assert [len(b["records"]) for b in bodies] == [10, 1]
    assert all(b["fieldKey"] == "name" for b in bodies)
    assert bodies[0]["records"][0] == {"fields": {"Client Name": "Client 0"}}  # empty cells left out


@responses.activate
def test_a_batch_refused_for_validation_is_retried_record_by_record(connector):
    def answer(request):
        rows = json.loads(request.body)["records"]
        if any(row["fields"].get("Email") == "not-an-email" for row in rows):
            return 200, {}, json.dumps(failure(400, "api_param_email_field_invalid: Email is not an e-mail"))
        return created_answer(request)

    responses.add_callback(responses.POST, RECORDS, callback=answer)
    batch = [{"Client Name": "A"}, {"Client Name": "B", "Email": "not-an-email"}, {"Client Name": "C"}]
    results = connector.create("contact", batch)
    assert [r.ok for r in results] == [True, False, True]
    assert "Email is not an e-mail" in results[1].error and results[1].code == "400"
    assert not results[1].remote_id and results[0].remote_id and results[2].remote_id
    assert [len(sent(c)["records"]) for c in responses.calls] == [3, 1, 1, 1]


@responses.activate
def test_a_lost_create_answer_is_uncertain_and_never_resent(connector):
    responses.post(RECORDS, json=failure(500, "internal error"), status=500)
    results = connector.create("contact", [{"Client Name": "A"}, {"Client Name": "B"}])
    assert all(r.uncertain and not r.ok for r in results) and len(responses.calls) == 1


@responses.activate
def test_updates_patch_only_the_given_cells(connector):
    def answer(request):
        rows = json.loads(request.body)["records"]
        return 200, {}, json.dumps(envelope({"records": [raw(r["recordId"]) for r in rows]}))

    responses.add_callback(responses.PATCH, RECORDS, callback=answer)
    [result] = connector.update("contact", [("recA0000001", {"Status": "Won", "Phone": None})])
    assert result.ok and result.remote_id == "recA0000001"
    assert sent(responses.calls[0]) == {
        "records": [{"recordId": "recA0000001", "fields": {"Status": "Won", "Phone": None}}],
        "fieldKey": "name",
    }


@responses.activate
def test_a_delete_of_a_record_already_gone_counts_as_done(connector):
    responses.delete(RECORDS, json=failure(400, "api_param_record_not_exists"))
    responses.get(RECORDS, json=page([]))
    results = connector.delete("contact", ["recGone00001", "recGone00002"])
    assert [r.ok for r in results] == [True, True]


@responses.activate
def test_delta_yields_changes_since_the_watermark_and_deletions_by_id_diff(connector):
    responses.get(
        RECORDS, json=page([raw("recOld00001", updated=T0), raw("recNew00001", updated=T0 + 600_000)])
    )
    first = list(connector.pull("contact", cursor=None))
    assert {r.id for p in first for r in p.records} == {"recOld00001", "recNew00001"}
    cursor = first[-1].cursor
    assert decode_cursor(cursor)["updated"] == T0 + 600_000 and all(p.cursor is None for p in first[:-1])

    responses.replace(
        responses.GET,
        RECORDS,
        json=page([raw("recNew00001", name="Changed", updated=T0 + 900_000)]),
    )
    responses.add(responses.GET, RECORDS, json=page([]))  # the confirming read: recOld00001 is gone
    second = list(connector.pull("contact", cursor=cursor))
    records = [r for p in second for r in p.records]
    assert [(r.id, r.deleted) for r in records] == [("recNew00001", False), ("recOld00001", True)]
    assert records[0].fields["Client Name"] == "Changed"
    assert records[0].modified_at == datetime.fromtimestamp((T0 + 900_000) / 1000, tz=UTC)
    assert query(responses.calls[-1])["recordIds"] == ["recOld00001"]


@responses.activate
def test_delta_keeps_an_overlap_and_skips_older_rows(connector):
    cursor = encode_cursor({"ids": "", "updated": T0 + 600_000})
    responses.get(
        RECORDS,
        json=page(
            [
                raw("recOld00001", updated=T0),
                raw("recEdge0001", updated=T0 + 590_000),  # inside the minute of overlap
            ]
        ),
    )
    records = [r for p in connector.pull("contact", cursor=cursor) for r in p.records]
    assert [r.id for r in records] == ["recEdge0001"]


def test_an_entity_without_a_datasheet_pulls_nothing_and_refuses_writes(connector):
    assert list(connector.pull("company", cursor=None)) == []
    assert connector.get("company", ["rec1"]) == [] and connector.discover_fields("company") == []
    with pytest.raises(ConfigError):
        connector.create("company", [{"Name": "Acme"}])


@responses.activate
def test_remote_ids_read_only_the_primary_column(connector):
    responses.get(
        FIELDS,
        json=envelope(
            {"fields": [{"id": "fld1", "name": "Client Name", "type": "SingleText", "isPrimary": True}]}
        ),
    )
    responses.get(RECORDS, json=page([raw("recA0000001"), raw("recB0000001")], total=1001))
    responses.get(RECORDS, json=page([raw("recC0000001")], total=1001, page_num=2))
    assert list(connector.remote_ids("contact")) == ["recA0000001", "recB0000001", "recC0000001"]
    assert query(responses.calls[1])["fields"] == ["Client Name"]


@responses.activate
def test_find_created_matches_identifying_cells_created_since(connector):
    responses.get(
        RECORDS,
        json=page(
            [
                raw("recMine00001", name="Ana Lee", Email="ana@acme.example", created=T0 + 5_000),
                raw("recOlder0001", name="Ana Lee", Email="ana@acme.example", created=T0 - 60_000),
                raw("recOther0001", name="Bob Roe", Email="ana@acme.example", created=T0 + 5_000),
            ]
        ),
    )
    since = datetime.fromtimestamp(T0 / 1000, tz=UTC)
    found = connector.find_created(
        "contact", [{"Client Name": "Ana Lee", "Email": "ana@acme.example"}], since=since
    )
    assert found == [["recMine00001"]]
    assert query(responses.calls[0])["filterByFormula"] == ['{Email}="ana@acme.example"']


def test_formulas_escape_quotes_and_backslashes():
    assert equals_formula("Client Name", 'Say "hi" \\ bye') == '{Client Name}="Say \\"hi\\" \\\\ bye"'


@responses.activate
def test_rows_find_sends_the_escaped_equality_formula(connector):
    responses.get(RECORDS, json=page([raw("recFound0001", name='O"Neil')]))
    [row] = connector.rows_find(LEADS, "Client Name", 'O"Neil')
    assert row.id == "recFound0001" and row.fields["Client Name"] == 'O"Neil'
    assert query(responses.calls[0])["filterByFormula"] == ['{Client Name}="O\\"Neil"']


@responses.activate
def test_tables_list_follows_folders(connector):
    responses.get(
        f"{BASE}/fusion/v1/spaces/{SPACE}/nodes",
        json=envelope(
            {
                "nodes": [
                    {"id": LEADS, "name": "Leads", "type": "Datasheet", "icon": "", "isFav": False},
                    {"id": "fodSales0001", "name": "Sales", "type": "Folder", "icon": "", "isFav": False},
                    {"id": "dsbBoard0001", "name": "Board", "type": "Dashboard", "icon": "", "isFav": False},
                ]
            }
        ),
    )
    responses.get(
        f"{BASE}/fusion/v1/nodes/fodSales0001",
        json=envelope(
            {
                "id": "fodSales0001",
                "name": "Sales",
                "type": "Folder",
                "icon": "",
                "isFav": False,
                "children": [
                    {"id": "dstOrders0001", "name": "Orders", "type": "Datasheet", "icon": "", "isFav": False}
                ],
            }
        ),
    )
    assert connector.tables_list() == [RemoteTable(LEADS, "Leads"), RemoteTable("dstOrders0001", "Orders")]


@responses.activate
def test_fields_map_onto_field_types(connector):
    option = {"id": "opt1", "name": "Won", "color": {"name": "red_0", "value": "#f00"}}
    responses.get(
        FIELDS,
        json=envelope(
            {
                "fields": [
                    {
                        "id": "f1",
                        "name": "Client Name",
                        "type": "SingleText",
                        "isPrimary": True,
                        "editable": True,
                    },
                    {
                        "id": "f2",
                        "name": "Status",
                        "type": "SingleSelect",
                        "editable": True,
                        "property": {"options": [option]},
                    },
                    {
                        "id": "f3",
                        "name": "Amount",
                        "type": "Currency",
                        "editable": True,
                        "property": {"precision": 2, "symbol": "$"},
                    },
                    {
                        "id": "f4",
                        "name": "Due",
                        "type": "DateTime",
                        "editable": True,
                        "property": {"format": "YYYY/MM/DD"},
                    },
                    {
                        "id": "f5",
                        "name": "Lead",
                        "type": "OneWayLink",
                        "editable": True,
                        "property": {"foreignDatasheetId": "dstX"},
                    },
                    {"id": "f6", "name": "Edited", "type": "LastModifiedTime", "editable": False},
                    {"id": "f7", "name": "Paid", "type": "Checkbox", "editable": True},
                    {"id": "f8", "name": "Email", "type": "Email", "editable": True},
                ]
            }
        ),
    )
    fields = {f.name: f for f in connector.discover_fields("contact")}
    assert fields["Client Name"].type == "string" and fields["Client Name"].label == "Client Name"
    assert fields["Status"].type == "enumeration" and fields["Status"].options == (("Won", "Won"),)
    assert fields["Amount"].type == "number"
    assert fields["Due"].type == "datetime" and fields["Due"].format == "epoch_ms"
    assert fields["Lead"].type == "reference"
    assert fields["Edited"].read_only and fields["Edited"].type == "datetime"
    assert fields["Paid"].type == "boolean" and fields["Email"].type == "email"


@responses.activate
def test_create_fields_adds_only_missing_columns(connector):
    existing = {"id": "f1", "name": "Client Name", "type": "SingleText", "isPrimary": True}
    score = {"id": "fldScore0001", "name": "platform_score", "type": "Number", "property": {"precision": 2}}
    responses.get(FIELDS, json=envelope({"fields": [existing]}))
    create_url = f"{BASE}/fusion/v1/spaces/{SPACE}/datasheets/{LEADS}/fields"
    responses.post(create_url, json=envelope({"id": "fldScore0001", "name": "platform_score"}))
    responses.get(FIELDS, json=envelope({"fields": [existing, score]}))
    made = connector.create_fields(
        "contact", [FieldSpec("platform_score", "Score", "number"), FieldSpec("Client Name", "Name")]
    )
    assert [f.name for f in made] == ["Client Name", "platform_score"]
    posts = [c for c in responses.calls if c.request.method == "POST"]
    assert [sent(c) for c in posts] == [
        {"type": "Number", "property": {"precision": 2}, "name": "platform_score"}
    ]


NODES = f"{BASE}/fusion/v1/spaces/{SPACE}/nodes"
SPACES = f"{BASE}/fusion/v1/spaces"


@responses.activate
def test_connection_test_lists_the_space_then_reads_one_row_per_datasheet(connector):
    responses.get(NODES, json=envelope({"nodes": []}))
    responses.get(RECORDS, json=page([], total=12))
    result = connector.test_connection()
    assert result.ok and result.details["contact_rows"] == 12
    assert [urlsplit(c.request.url).path for c in responses.calls] == [
        f"/fusion/v1/spaces/{SPACE}/nodes",
        f"/fusion/v1/datasheets/{LEADS}/records",
    ]
    assert query(responses.calls[1])["pageSize"] == ["1"]
    responses.replace(responses.GET, RECORDS, json=failure(301, "The datasheet does not exist"))
    result = connector.test_connection()
    assert not result.ok and LEADS in result.message


@responses.activate
def test_connection_test_needs_no_datasheet_yet(connector):
    """The wizard tests the token and space before the user picks datasheets from tables_list."""
    connector.config = {**connector.config, "datasheets": {}}
    responses.get(NODES, json=envelope({"nodes": [{"id": LEADS, "name": "Leads", "type": "Datasheet"}]}))
    result = connector.test_connection()
    assert result.ok and result.details["space_nodes"] == 1 and len(responses.calls) == 1
    responses.replace(responses.GET, NODES, json=failure(602, "No permission for this node"))
    assert not connector.test_connection().ok


@responses.activate
def test_connection_test_without_a_space_lists_the_spaces(connector):
    connector.config = {k: v for k, v in connector.config.items() if k not in ("space_id", "datasheets")}
    responses.get(SPACES, json=envelope({"spaces": [{"id": SPACE, "name": "CRM", "isAdmin": True}]}))
    result = connector.test_connection()
    assert result.ok and result.details["spaces"] == [SPACE]
    assert [urlsplit(c.request.url).path for c in responses.calls] == ["/fusion/v1/spaces"]
    responses.replace(responses.GET, SPACES, status=401, json=failure(401, "api token invalid"))
    result = connector.test_connection()
    assert not result.ok and "refused the API token" in result.message and TOKEN not in result.message
