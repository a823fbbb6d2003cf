"""The SOQL subset: parsing, binding to a schema, and evaluation."""

from datetime import UTC, date, datetime

import pytest

from connectors.salesforce.emulator import soql
from connectors.salesforce.emulator.soql import Condition, OrderBy

SCHEMA = {
    "Id": "id",
    "LastName": "string",
    "Email": "email",
    "Amount": "currency",
    "CloseDate": "date",
    "IsDeleted": "boolean",
    "SystemModstamp": "datetime",
}


def test_parses_the_whole_grammar_case_insensitively():
    query = soql.parse(
        "select Id, LastName from Contact where SystemModstamp > 2024-01-01T00:00:00Z and IsDeleted = false "
        "AND LastName IN ('Lee', 'O\\'Hara') and Amount >= 10.5 order by SystemModstamp desc nulls first limit 5"
    )
    assert query.fields == ("Id", "LastName") and query.sobject == "Contact"
    assert query.where == (
        Condition("SystemModstamp", ">", datetime(2024, 1, 1, tzinfo=UTC)),
        Condition("IsDeleted", "=", False),
        Condition("LastName", "IN", ("Lee", "O'Hara")),
        Condition("Amount", ">=", 10.5),
    )
    assert query.order_by == OrderBy("SystemModstamp", descending=True, nulls_last=False)
    assert query.limit == 5


@pytest.mark.parametrize(
    "literal",
    [
        "2024-01-01T10:00:00Z",
        "2024-01-01T10:00:00.000Z",
        "2024-01-01T10:00:00.000+0000",
        "2024-01-01T11:00:00+01:00",
        "2024-01-01T05:00:00.000-0500",
    ],
)
def test_unquoted_datetime_literals_in_every_offset_form_mean_the_same_instant(literal):
    (cond,) = soql.parse(f"SELECT Id FROM Contact WHERE SystemModstamp = {literal}").where  # noqa: S608 (SOQL under test)
    assert cond.value == datetime(2024, 1, 1, 10, tzinfo=UTC)


def test_date_literal_number_null_and_not_in():
    where = soql.parse(
        "SELECT Id FROM Opportunity WHERE CloseDate <= 2025-06-30 AND Amount != null AND Id NOT IN ('a') "
        "AND LastName <> 'x'"
    ).where
    assert where[0].value == date(2025, 6, 30) and where[1] == Condition("Amount", "!=", None)
    assert where[2] == Condition("Id", "NOT IN", ("a",)) and where[3].op == "!="


@pytest.mark.parametrize(
    "text",
    [
        "",
        "SELEC Id FROM Contact",
        "SELECT FROM Contact",
        "SELECT Id Contact",
        "SELECT Id FROM Contact WHERE",
        "SELECT Id FROM Contact WHERE LastName = 'open",
        "SELECT Id FROM Contact WHERE LastName = 'a' OR LastName = 'b'",
        "SELECT Id FROM Contact LIMIT -1",
        "SELECT Id FROM Contact WHERE Id IN ('a'",
        "SELECT Id FROM Contact WHERE SystemModstamp > 2024-13-45T00:00:00Z",
        "SELECT Id FROM Contact ; DROP",
    ],
)
def test_malformed_queries_raise_malformed_query(text):
    with pytest.raises(soql.SoqlError) as exc:
        soql.parse(text)
    assert exc.value.code == "MALFORMED_QUERY"


def test_bind_resolves_field_case_and_refuses_unknown_fields():
    query = soql.bind(
        soql.parse("SELECT id, lastname FROM contact ORDER BY systemmodstamp"), SCHEMA, sobject="Contact"
    )
    assert query.fields == ("Id", "LastName") and query.order_by.field == "SystemModstamp"
    with pytest.raises(soql.InvalidField) as exc:
        soql.bind(soql.parse("SELECT Id, Nope__c FROM Contact"), SCHEMA, sobject="Contact")
    assert exc.value.code == "INVALID_FIELD" and "Nope__c" in str(exc.value)


@pytest.mark.parametrize(
    "where",
    [
        "SystemModstamp > '2024-01-01T00:00:00Z'",
        "LastName = 5",
        "Amount = '5'",
        "IsDeleted = 'true'",
        "CloseDate = 2024-01-01T00:00:00Z",
        "SystemModstamp > null",
    ],
)
def test_bind_refuses_literals_of_the_wrong_type(where):
    with pytest.raises(soql.SoqlError) as exc:
        soql.bind(soql.parse(f"SELECT Id FROM Contact WHERE {where}"), SCHEMA, sobject="Contact")  # noqa: S608 (SOQL under test)
    assert exc.value.code == "MALFORMED_QUERY"


def _eval(where: str, record: dict) -> bool:
    query = soql.bind(soql.parse(f"SELECT Id FROM Contact WHERE {where}"), SCHEMA, sobject="Contact")  # noqa: S608 (SOQL under test)
    return soql.matches(record, query.where, SCHEMA)


def test_matches_compares_wire_values_by_type():
    record = {
        "Id": "003",
        "LastName": "Lee",
        "Email": None,
        "Amount": 100.0,
        "CloseDate": "2025-06-30",
        "IsDeleted": False,
        "SystemModstamp": "2024-01-01T10:00:00.000+0000",
    }
    assert _eval("SystemModstamp > 2024-01-01T09:59:59.999Z", record)
    assert not _eval("SystemModstamp > 2024-01-01T10:00:00Z", record)
    assert _eval("LastName = 'LEE' AND Amount < 100.5 AND CloseDate >= 2025-06-30", record)
    assert _eval("Email = null AND LastName LIKE 'l%' AND IsDeleted = false", record)
    assert not _eval("Email != null", record)
    assert _eval("LastName IN ('x', 'lee')", record) and not _eval("LastName NOT IN ('Lee')", record)


def test_sort_records_places_nulls_as_soql_does():
    rows = [{"LastName": "b"}, {"LastName": None}, {"LastName": "A"}]
    asc = soql.sort_records(rows, OrderBy("LastName"), SCHEMA)
    desc = soql.sort_records(rows, OrderBy("LastName", descending=True, nulls_last=True), SCHEMA)
    assert [r["LastName"] for r in asc] == [None, "A", "b"]
    assert [r["LastName"] for r in desc] == ["b", "A", None]
