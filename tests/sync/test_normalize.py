"""Normalisation: one stored form per value, and a clear reason when a value cannot be stored."""

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from sync.entities import entity_def
from sync.normalize import (
    RecordInvalid,
    normalise_attachments,
    normalise_currency,
    normalise_custom_fields,
    normalise_date,
    normalise_datetime,
    normalise_decimal,
    normalise_domain,
    normalise_email,
    normalise_phone,
    normalise_record,
    normalise_reference,
    normalise_string,
)

CONTACT = entity_def("contact")
DEAL = entity_def("deal")
ACTIVITY = entity_def("activity")


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("  Ana.Lee@Example.COM ", "ana.lee@example.com"),
        ("ANA@EXAMPLE.COM", "ana@example.com"),
        ("", ""),
        (None, ""),
    ],
)
def test_email_is_trimmed_and_lower_case(raw, stored):
    assert normalise_email(raw) == stored


@pytest.mark.parametrize("raw", ["ana@", "ana", "ana@localhost", "Ana <ana@example.com>", "a b@example.com"])
def test_an_invalid_email_says_why(raw):
    with pytest.raises(ValueError, match="Not a valid email address"):
        normalise_email(raw)


@pytest.mark.parametrize(
    ("raw", "region", "stored"),
    [
        ("(415) 555-2671", "US", "+14155552671"),
        ("415.555.2671", "US", "+14155552671"),
        ("+1 415 555 2671", "GB", "+14155552671"),  # a "+" ignores the region
        ("020 7946 0958", "GB", "+442079460958"),
        ("+44 20 7946 0958", "US", "+442079460958"),
        ("", "US", ""),
    ],
)
def test_phone_becomes_e164_reading_local_numbers_in_the_region(raw, region, stored):
    assert normalise_phone(raw, region=region) == stored


@pytest.mark.parametrize("raw", ["12345", "call me", "+1 000 000 0000"])
def test_an_invalid_phone_is_an_error(raw):
    with pytest.raises(ValueError, match="phone number"):
        normalise_phone(raw, region="US")


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("https://www.Acme.com/about?x=1", "acme.com"),
        ("acme.co.uk", "acme.co.uk"),
        ("WWW.acme.io.", "acme.io"),
        ("http://acme.com:8080", "acme.com"),
        ("", ""),
    ],
)
def test_domain_is_a_bare_lower_case_host(raw, stored):
    assert normalise_domain(raw) == stored


@pytest.mark.parametrize("raw", ["localhost", "not a domain", "acme.123"])
def test_a_non_domain_is_an_error(raw):
    with pytest.raises(ValueError, match="Not a domain name"):
        normalise_domain(raw)


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        (10, Decimal("10.00")),
        ("1234.5", Decimal("1234.50")),
        (19.99, Decimal("19.99")),
        (Decimal("2.005"), Decimal("2.01")),  # half-up, the way money rounds
        ("-3", Decimal("-3.00")),
        ("", None),
        (None, None),
    ],
)
def test_amount_becomes_a_two_place_decimal(raw, stored):
    assert normalise_decimal(raw) == stored


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("ten", "Expected a number"),
        (True, "Expected a number"),
        ("NaN", "finite"),
        (float("inf"), "finite"),
        ("1000000000000", "Too large"),
        ([1], "Expected a number"),
    ],
)
def test_a_bad_amount_says_why(raw, reason):
    with pytest.raises(ValueError, match=reason):
        normalise_decimal(raw)


def test_dates_and_datetimes_are_parsed_from_iso_strings():
    assert normalise_date("2025-03-31") == date(2025, 3, 31)
    assert normalise_date("2025-03-31T23:00:00Z") == date(2025, 3, 31)
    assert normalise_date(None) is None
    assert normalise_datetime("2025-03-31T14:00:00Z") == datetime(2025, 3, 31, 14, tzinfo=UTC)
    offset = normalise_datetime("2025-03-31T16:00:00+02:00")
    assert offset == datetime(2025, 3, 31, 14, tzinfo=UTC)
    assert offset.utcoffset() == timedelta(hours=2)
    naive = normalise_datetime("2025-03-31 14:00")
    assert naive == datetime(2025, 3, 31, 14, tzinfo=UTC)  # naive means UTC
    assert normalise_datetime(datetime(2025, 1, 1, tzinfo=timezone(timedelta(hours=-5)))).hour == 0
    assert normalise_datetime("") is None


@pytest.mark.parametrize("raw", ["31/03/2025", "yesterday", 1711843200, "2025-02-30"])
def test_unparseable_dates_are_errors(raw):
    with pytest.raises(ValueError, match="ISO 8601"):
        normalise_date(raw)
    with pytest.raises(ValueError, match="ISO 8601"):
        normalise_datetime(raw)


def test_strings_are_trimmed_numbers_become_text_and_length_is_checked():
    assert normalise_string("  Ana  ", max_length=10) == "Ana"
    assert normalise_string(12345, max_length=10) == "12345"
    assert normalise_string(None, max_length=10) == ""
    with pytest.raises(ValueError, match="At most 3 characters"):
        normalise_string("abcd", max_length=3)
    with pytest.raises(ValueError, match="Expected a string"):
        normalise_string({"a": 1}, max_length=None)


def test_currency_references_custom_fields_and_attachments():
    assert normalise_currency(" usd ") == "USD"
    with pytest.raises(ValueError, match="ISO 4217"):
        normalise_currency("dollars")
    assert normalise_reference("12") == 12 and normalise_reference(None) is None
    with pytest.raises(ValueError, match="id"):
        normalise_reference(-1)
    assert normalise_reference(2**63 - 1) == 2**63 - 1
    with pytest.raises(ValueError, match="id"):
        normalise_reference(2**63)  # past a 64-bit id: SQLite would overflow (a 500 in the embedded default)
    assert normalise_custom_fields({" plan ": "pro", "seats": Decimal("3"), "gone": None}) == {
        "plan": "pro",
        "seats": "3",  # stored as JSON reads it back, so comparisons are stable
        "gone": None,
    }
    with pytest.raises(ValueError, match="object"):
        normalise_custom_fields(["plan"])
    with pytest.raises(ValueError, match="non-empty strings"):
        normalise_custom_fields({"": 1})
    assert normalise_attachments([{"name": "a.pdf", "size": 10}]) == [{"name": "a.pdf", "size": 10}]
    assert normalise_attachments(None) == []
    with pytest.raises(ValueError, match="list of attachment objects"):
        normalise_attachments(["a.pdf"])


def test_a_record_is_normalised_field_by_field_with_the_regions_phone_rules():
    clean = normalise_record(
        CONTACT,
        {"email": " Ana@Example.com", "phone": "020 7946 0958", "first_name": " Ana ", "company_id": "7"},
        region="GB",
    )
    assert clean == {
        "email": "ana@example.com",
        "phone": "+442079460958",
        "first_name": "Ana",
        "company_id": 7,
    }


def test_choices_are_checked_and_read_case_insensitively():
    assert normalise_record(ACTIVITY, {"kind": " Call ", "direction": "INBOUND"}, region="US") == {
        "kind": "call",
        "direction": "inbound",
    }
    with pytest.raises(RecordInvalid) as exc:
        normalise_record(ACTIVITY, {"kind": "fax", "direction": "sideways"}, region="US")
    assert set(exc.value.errors) == {"kind", "direction"}
    assert "task" in exc.value.errors["kind"] and "inbound" in exc.value.errors["direction"]


def test_every_bad_field_and_every_unknown_name_is_reported_together():
    with pytest.raises(RecordInvalid) as exc:
        normalise_record(
            DEAL, {"amount": "lots", "close_date": "soon", "colour": "red", "stage_name": "won"}, region="US"
        )
    errors = exc.value.errors
    assert set(errors) == {"amount", "close_date", "colour", "stage_name"}
    assert errors["colour"] == "Unknown deal field." and errors["stage_name"] == "Unknown deal field."
    assert "colour" in str(exc.value)


def test_a_record_that_is_not_an_object_is_invalid():
    with pytest.raises(RecordInvalid) as exc:
        normalise_record(CONTACT, ["ana@example.com"], region="US")
    assert exc.value.errors == {"record": "Expected an object of field names and values."}
