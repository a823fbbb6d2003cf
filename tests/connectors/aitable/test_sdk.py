"""The official ``apitable`` SDK (1.5.0), unchanged, against the emulator: spaces, nodes, fields,
views, records all/get/filter, create (its 10-record cap and our chunking), update, delete, field
creation."""

import pytest
from apitable.exceptions import RecordDoesNotExist
from apitable.utils import chunks

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
    """The SDK does not pace itself; these flows are about shapes, not the 5-per-second limit."""
    control(base, "settings", {"qps": 1000})


def test_spaces_and_nodes(sdk):
    spaces = sdk.spaces.all()
    assert [(s.id, s.name) for s in spaces] == [(SPACE_ID, "Digicon CRM")]
    nodes = sdk.space(SPACE_ID).nodes.all()
    assert {n.id: n.name for n in nodes} == {
        LEADS_ID: "Leads",
        ORDERS_ID: "Orders",
        AUDIT_ID: "Audit Results",
        COMPANIES_ID: "Companies",
        DEALS_ID: "Deals",
        ACTIVITIES_ID: "Activities",
    }
    assert all(n.type.value == "Datasheet" for n in nodes)
    found = sdk.space(SPACE_ID).nodes.search(type="Datasheet", query="lead")
    assert [n.id for n in found] == [LEADS_ID]
    assert sdk.nodes.get(ORDERS_ID).name == "Orders"


def test_fields_and_views(sdk):
    dst = sdk.datasheet(LEADS_ID)
    fields = dst.fields.all()
    assert fields[0].name == "Client Name" and fields[0].isPrimary
    status = dst.fields.get("Status")
    assert [o.name for o in status.property.options][:2] == ["New", "Contacted"]
    assert "Email" in dst.fields and "Nope" not in dst.fields
    views = dst.views.all()
    assert views[0].id.startswith("viw") and views[0].type.value == "Grid"


def test_create_get_filter_update_delete(sdk):
    dst = sdk.datasheet(LEADS_ID)
    ana = dst.records.create({"Client Name": "Ana", "Email": "ana@example.com", "Status": "New"})
    assert ana._id.startswith("rec") and ana.Email == "ana@example.com"
    assert ana.Notes is None  # an empty cell of an existing column
    got = dst.records.get(ana._id)
    assert got.json()["Client Name"] == "Ana"
    assert dst.records.get(Email="ana@example.com")._id == ana._id
    with pytest.raises(RecordDoesNotExist):
        dst.records.get(Email="nobody@example.com")
    ana.update({"Status": "Won", "Company": "Acme"})
    assert dst.records.get(ana._id).json()["Status"] == "Won"
    ana.Phone = "+12025550100"
    assert dst.records.get(ana._id).Phone == "+12025550100"
    dst.records.create({"Client Name": "Bo", "Status": "Won", "Company": "Acme"})
    won = dst.records.filter(Status="Won", Company="Acme")
    assert sorted(r.json()["Client Name"] for r in won) == ["Ana", "Bo"]
    assert won.update(Status="Lost")
    assert {r.Status for r in dst.records.all()} == {"Lost"}
    assert ana.delete()
    assert [r.json()["Client Name"] for r in dst.records.all()] == ["Bo"]


def test_bulk_create_caps_at_ten_and_chunks_reach_every_row(sdk):
    dst = sdk.datasheet(LEADS_ID)
    rows = [{"Client Name": f"Lead {i}", "Email": f"lead{i}@example.com"} for i in range(23)]
    with pytest.raises(Exception, match="cannot be greater than 10"):
        dst.records.bulk_create(rows)
    made = [r for chunk in chunks(rows, 10) for r in dst.records.bulk_create(chunk)]
    assert len(made) == 23
    everything = dst.records.all()
    assert len(everything) == 23
    paged = dst.records.all(pageSize=10, pageNum=3)
    assert [r.json()["Client Name"] for r in paged] == ["Lead 20", "Lead 21", "Lead 22"]
    by_sort = dst.records.all(sort=[{"field": "Client Name", "order": "desc"}], maxRecords=2)
    assert [r.json()["Client Name"] for r in by_sort] == ["Lead 9", "Lead 8"]
    only = dst.records.all(fields=["Email"], pageSize=1, pageNum=1)
    assert only[0].json() == {"Email": "lead0@example.com"}
    updated = dst.records.bulk_update(
        [{"recordId": r._id, "fields": {"Status": "Qualified"}} for r in made[:10]]
    )
    assert {r.Status for r in updated} == {"Qualified"}
    for chunk in everything.chunks():
        assert chunk.delete()
    assert len(dst.records.all()) == 0


def test_field_key_id_and_field_creation(sdk):
    space = sdk.space(SPACE_ID)
    by_id = space.datasheet(ORDERS_ID, field_key="id")
    order = by_id.records.create({"fldOrderName01": "O-1", "fldOrderStatus": "Active"})
    assert order.json() == {"fldOrderName01": "O-1", "fldOrderStatus": "Active"}
    orders = space.datasheet(ORDERS_ID)
    made = orders.fields.create({"type": "Number", "name": "Employees", "property": {"precision": 0}})
    assert made.id.startswith("fld") and made.name == "Employees"
    assert orders.fields.get("Employees").type == "Number"
    orders.records.get(order._id).update(Employees=12)
    assert orders.records.get(order._id).Employees == 12
    assert orders.fields.delete(made.id)
    created = space.datasheets.create(
        {"name": "Scratch", "fields": [{"type": "SingleText", "name": "Title"}]}
    )
    assert created.id.startswith("dst") and [f.name for f in created.items] == ["Title"]


def test_sdk_raises_on_an_error_envelope(sdk):
    dst = sdk.datasheet(LEADS_ID)
    with pytest.raises(Exception, match="Nope"):
        dst.records.create({"Nope": 1})
    with pytest.raises(Exception, match="does not exist"):
        sdk.datasheet("dstMissing0000").get_records()
