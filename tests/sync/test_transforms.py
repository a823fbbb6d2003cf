"""Named field transforms: examples for every transform and error, validate_transform's messages,
and hypothesis round trips (to_local(to_remote(x)) == x for canonical x; idempotence for
lowercase and trim)."""

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync.transforms import TRANSFORMS, TransformError, to_local, to_remote, validate_transform


def spec(name: str, **args: Any) -> dict[str, Any]:
    return {"name": name, "args": args}


# --- the registry and the shared rules --------------------------------------------------------


def test_registry_rows_are_to_local_to_remote_and_arg_schema_for_every_named_transform():
    expected = {
        "lowercase",
        "trim",
        "e164",
        "split_name",
        "join",
        "value_map",
        "date_format",
        "number",
        "default",
    }
    assert expected <= set(TRANSFORMS)
    for to_local_fn, to_remote_fn, arg_schema in TRANSFORMS.values():
        assert callable(to_local_fn) and callable(to_remote_fn)
        assert all(isinstance(name, str) for name in arg_schema)


def test_no_spec_copies_the_value_unchanged_in_both_directions():
    assert to_local(None, " Ana ") == " Ana "
    assert to_remote(None, "") == ""
    assert to_remote(None, Decimal("1.50")) == Decimal("1.50")


BLANK_SPECS = [
    spec("lowercase"),
    spec("trim"),
    spec("e164"),
    spec("split_name", part="first"),
    spec("join", fields=["subject", "body"]),
    spec("value_map", map={"a": "A"}, default="other"),
    spec("date_format", format="epoch_ms"),
    spec("number", decimals=2),
]


@pytest.mark.parametrize("transform", BLANK_SPECS, ids=lambda s: s["name"])
@pytest.mark.parametrize("blank", [None, ""])
def test_none_and_empty_text_come_out_as_none(transform, blank):
    assert to_local(transform, blank) is None
    if transform["name"] not in {"split_name", "join"}:  # those build to_remote from the record
        assert to_remote(transform, blank) is None


def test_spec_without_args_key_uses_the_defaults():
    assert to_local({"name": "number"}, "2.50") == Decimal("2.50")
    assert to_local({"name": "trim", "args": None}, " x ") == "x"
    assert to_remote({"name": "join", "args": {"fields": ["a", "b"]}}, "x", record={"b": "y"}) == "x y"


def test_malformed_spec_raises_value_error_not_transform_error():
    with pytest.raises(ValueError, match="unknown transform 'upper'") as info:
        to_local({"name": "upper"}, "x")
    assert not isinstance(info.value, TransformError)


def test_transform_error_quotes_only_a_short_excerpt_of_the_value():
    secret_tail = "z" * 500
    with pytest.raises(TransformError) as info:
        to_local(spec("number"), "not a number " + secret_tail)
    message = str(info.value)
    assert message.startswith("number: not a number")
    assert "'not a number zzzzzz…" in message
    assert secret_tail not in message and len(message) < 80
    assert isinstance(info.value, ValueError)


# --- lowercase, trim, default -----------------------------------------------------------------


def test_lowercase_lowers_in_both_directions():
    assert to_local(spec("lowercase"), "Ana@Example.COM") == "ana@example.com"
    assert to_remote(spec("lowercase"), "ACME.io") == "acme.io"


def test_trim_strips_and_treats_all_whitespace_as_blank():
    assert to_local(spec("trim"), "  Ana Lee \n") == "Ana Lee"
    assert to_remote(spec("trim"), "\tx ") == "x"
    assert to_local(spec("trim"), "   ") is None


@pytest.mark.parametrize("name", ["lowercase", "trim"])
def test_text_transforms_refuse_non_text(name):
    with pytest.raises(TransformError, match=rf"^{name}: expects text, not int \(got 42\)$"):
        to_local(spec(name), 42)


def test_default_fills_blanks_both_ways_and_keeps_other_values():
    transform = spec("default", value="lead")
    assert to_local(transform, None) == "lead"
    assert to_local(transform, "") == "lead"
    assert to_remote(transform, None) == "lead"
    assert to_local(transform, "customer") == "customer"
    assert to_remote(transform, 0) == 0
    assert to_local(spec("default", value=0), "") == 0


# --- e164 -----------------------------------------------------------------------------------


def test_e164_uses_the_call_region_for_national_numbers():
    assert to_local(spec("e164"), "(202) 555-0125") == "+12025550125"
    assert to_local(spec("e164"), "020 7946 0018", region="GB") == "+442079460018"


def test_e164_mapping_region_wins_over_the_call_region():
    assert to_local(spec("e164", region="GB"), "020 7946 0018", region="US") == "+442079460018"


def test_e164_leaves_international_numbers_alone_whatever_the_region():
    assert to_local(spec("e164", region="DE"), "+1 202-555-0125") == "+12025550125"
    assert to_remote(spec("e164"), "+44 20 7946 0018") == "+442079460018"


def test_e164_refuses_invalid_and_unparseable_numbers():
    with pytest.raises(TransformError, match=r"^e164: not a valid phone number for region US \(got '123'\)$"):
        to_local(spec("e164"), "123")
    with pytest.raises(TransformError, match=r"^e164: cannot parse a phone number for region US"):
        to_local(spec("e164"), "call me")
    with pytest.raises(TransformError, match=r"^e164: cannot parse a phone number for region ZZ"):
        to_remote(spec("e164"), "555 0125", region="ZZ")
    with pytest.raises(TransformError, match="e164: expects text"):
        to_local(spec("e164"), 2025550125)


# --- split_name -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("full", "first", "last"),
    [
        ("Ana Maria Lee", "Ana", "Maria Lee"),
        ("  Ana   Maria\tLee ", "Ana", "Maria Lee"),
        ("Cher", "Cher", None),
        ("   ", None, None),
    ],
)
def test_split_name_first_is_the_first_token_and_last_the_rest(full, first, last):
    assert to_local(spec("split_name", part="first"), full) == first
    assert to_local(spec("split_name", part="last"), full) == last


def test_split_name_to_remote_joins_own_value_with_the_other_part_from_the_record():
    record = {"first_name": "Ana", "last_name": "Maria Lee"}
    assert to_remote(spec("split_name", part="first"), "Ana", record=record) == "Ana Maria Lee"
    assert to_remote(spec("split_name", part="last"), "Maria Lee", record=record) == "Ana Maria Lee"
    # The own part is the value given, so a changed first name goes out with the stored last name.
    assert to_remote(spec("split_name", part="first"), " Eva ", record=record) == "Eva Maria Lee"


def test_split_name_to_remote_skips_blank_parts():
    assert to_remote(spec("split_name", part="first"), "", record={"last_name": "Lee"}) == "Lee"
    assert to_remote(spec("split_name", part="last"), None, record={"first_name": "Ana"}) == "Ana"
    assert to_remote(spec("split_name", part="first"), None, record={"last_name": " "}) is None


def test_split_name_errors():
    with pytest.raises(TransformError, match=r"^split_name: to_remote needs the record"):
        to_remote(spec("split_name", part="first"), "Ana")
    with pytest.raises(TransformError, match=r"^split_name: expects text, not list"):
        to_local(spec("split_name", part="first"), ["Ana"])
    with pytest.raises(TransformError, match=r"^split_name: expects text, not int"):
        to_remote(spec("split_name", part="first"), "Ana", record={"last_name": 7})


# --- join -----------------------------------------------------------------------------------


def test_join_to_remote_joins_value_and_record_fields_skipping_blanks():
    transform = spec("join", fields=["subject", "body", "status"], sep=" | ")
    record = {"subject": "ignored: value wins", "body": "Call back", "status": "open"}
    assert to_remote(transform, "Follow-up", record=record) == "Follow-up | Call back | open"
    assert to_remote(transform, "Follow-up", record={"body": "  ", "status": None}) == "Follow-up"
    assert to_remote(transform, "", record={"body": "Call back"}) == "Call back"
    assert to_remote(transform, None, record={}) is None


def test_join_to_remote_writes_non_text_values_as_text():
    transform = spec("join", fields=["name", "amount", "currency"])
    assert (
        to_remote(transform, "Deal", record={"amount": Decimal("10.50"), "currency": "EUR"})
        == "Deal 10.50 EUR"
    )


def test_join_to_local_takes_the_first_part_for_the_mapping_own_field():
    assert (
        to_local(spec("join", fields=["subject", "body"], sep=" | "), "Follow-up | Call back") == "Follow-up"
    )
    assert to_local(spec("join", fields=["first_name", "last_name"]), "Ana Maria Lee") == "Ana"
    assert to_local(spec("join", fields=["subject", "body"], sep="|"), "|body only") is None


def test_join_errors():
    with pytest.raises(TransformError, match=r"^join: to_remote needs the record"):
        to_remote(spec("join", fields=["a", "b"]), "x")
    with pytest.raises(TransformError, match=r"^join: expects text, not int"):
        to_local(spec("join", fields=["a", "b"]), 5)


# --- value_map ------------------------------------------------------------------------------

STAGES = {"appointmentscheduled": "lead", "qualifiedtobuy": "lead", "closedwon": "won", "closedlost": "lost"}


def test_value_map_maps_remote_to_local_and_back_through_the_inverse():
    transform = spec("value_map", map=STAGES)
    assert to_local(transform, "closedwon") == "won"
    assert to_remote(transform, "lost") == "closedlost"
    # Several remote values for one canonical value: the first in map order goes back.
    assert to_local(transform, "qualifiedtobuy") == "lead"
    assert to_remote(transform, "lead") == "appointmentscheduled"


def test_value_map_reads_json_numbers_and_booleans_by_their_key_text():
    transform = spec("value_map", map={"1": "hot", "true": True, "false": False, "2": 1})
    assert to_local(transform, 1) == "hot"
    assert to_local(transform, True) is True
    assert to_local(transform, False) is False
    assert to_remote(transform, True) == "true"
    assert to_remote(transform, 1) == "2"  # 1 is not the mapped True


def test_value_map_defaults_in_each_direction():
    transform = spec("value_map", map=STAGES, default="other", remote_default="closedlost")
    assert to_local(transform, "decisionmakerboughtin") == "other"
    assert to_remote(transform, "other") == "closedlost"


def test_value_map_unmapped_values_without_default_are_errors():
    with pytest.raises(TransformError, match=r"^value_map: no mapping for this remote value; known: appoint"):
        to_local(spec("value_map", map=STAGES), "decisionmakerboughtin")
    with pytest.raises(
        TransformError, match=r"^value_map: no remote value maps to this canonical value \(got 'x'\)"
    ):
        to_remote(spec("value_map", map=STAGES, default="other"), "x")


# --- date_format ----------------------------------------------------------------------------

EPOCH_MS = spec("date_format", format="epoch_ms")


def test_date_format_epoch_ms_reads_hubspot_strings_and_numbers_as_utc_iso():
    assert to_local(EPOCH_MS, "1714564800123") == "2024-05-01T12:00:00.123000+00:00"
    assert to_local(EPOCH_MS, 1714564800000) == "2024-05-01T12:00:00+00:00"
    assert to_local(EPOCH_MS, " -86400000 ") == "1969-12-31T00:00:00+00:00"


def test_date_format_epoch_ms_also_reads_iso_text_which_hubspot_answers_for_system_dates():
    # createdate / lastmodifieddate come back as ISO 8601 though the property is typed datetime
    assert to_local(EPOCH_MS, "2019-10-30T03:30:17.883Z") == to_local(EPOCH_MS, "1572406217883")
    assert to_local(spec("date_format", format="epoch_ms", as_date=True), "2024-05-01") == "2024-05-01"


def test_date_format_epoch_ms_writes_a_string_of_digits_from_any_canonical_form():
    assert to_remote(EPOCH_MS, "2024-05-01T12:00:00.123+00:00") == "1714564800123"
    assert to_remote(EPOCH_MS, "2024-05-01T14:00:00.123999+02:00") == "1714564800123"  # truncated to ms
    assert to_remote(EPOCH_MS, datetime(2024, 5, 1, 12, tzinfo=UTC)) == "1714564800000"
    assert to_remote(EPOCH_MS, datetime(2024, 5, 1, 12)) == "1714564800000"  # naive means UTC
    assert to_remote(EPOCH_MS, date(2024, 5, 1)) == "1714521600000"  # midnight UTC
    assert to_remote(EPOCH_MS, "1969-12-31T23:59:59.9995+00:00") == "-1"  # floors before 1970 too


def test_date_format_as_date_gives_dates_for_date_fields_stored_as_epochs():
    transform = spec("date_format", format="epoch_ms", as_date=True)
    assert to_local(transform, "1714521600000") == "2024-05-01"
    assert to_local(transform, "1714564800123") == "2024-05-01"
    assert to_remote(transform, "2024-05-01") == "1714521600000"
    assert to_remote(transform, "2024-05-01T23:30:00-02:00") == "1714608000000"  # 2024-05-02 in UTC


def test_date_format_epoch_s_reads_fractions_and_writes_an_int():
    transform = spec("date_format", format="epoch_s")
    assert to_local(transform, 1714564800.5) == "2024-05-01T12:00:00.500000+00:00"
    assert to_local(transform, "1714564800") == "2024-05-01T12:00:00+00:00"
    assert to_remote(transform, "2024-05-01T12:00:00.999+00:00") == 1714564800


def test_date_format_iso_normalises_offsets_to_utc_and_keeps_dates_as_dates():
    transform = spec("date_format", format="iso")
    assert to_local(transform, "2024-05-01T12:00:00.000+0000") == "2024-05-01T12:00:00+00:00"  # Salesforce
    assert to_local(transform, "2024-05-01T14:00:00+02:00") == "2024-05-01T12:00:00+00:00"
    assert to_local(transform, "2024-05-01T12:00:00Z") == "2024-05-01T12:00:00+00:00"
    assert to_local(transform, "2024-05-01T12:00:00") == "2024-05-01T12:00:00+00:00"
    assert to_local(transform, "2024-05-01") == "2024-05-01"
    assert to_local(transform, datetime(2024, 5, 1, 14, tzinfo=timezone(timedelta(hours=2)))) == (
        "2024-05-01T12:00:00+00:00"
    )
    assert to_remote(transform, date(2024, 5, 1)) == "2024-05-01"
    assert to_remote(transform, "2024-05-01T14:00:00+02:00") == "2024-05-01T12:00:00+00:00"


def test_date_format_date_reads_only_dates_and_writes_the_utc_date():
    transform = spec("date_format", format="date")
    assert to_local(transform, "2024-05-01") == "2024-05-01"
    assert to_local(transform, date(2024, 5, 1)) == "2024-05-01"
    assert to_remote(transform, date(2024, 5, 1)) == "2024-05-01"
    assert to_remote(transform, "2024-05-01T23:30:00-02:00") == "2024-05-02"
    with pytest.raises(
        TransformError, match=r"^date_format: cannot read it as date: expects a date YYYY-MM-DD"
    ):
        to_local(transform, "2024-05-01T12:00:00Z")


def test_date_format_strftime_patterns_with_and_without_a_time():
    day_first = spec("date_format", format="%d/%m/%Y")
    assert to_local(day_first, "01/05/2024") == "2024-05-01"
    assert to_remote(day_first, "2024-05-01") == "01/05/2024"
    assert to_remote(day_first, "2024-05-01T23:30:00-02:00") == "02/05/2024"

    with_time = spec("date_format", format="%d/%m/%Y %H:%M")
    assert to_local(with_time, "01/05/2024 12:30") == "2024-05-01T12:30:00+00:00"  # naive means UTC
    assert to_remote(with_time, "2024-05-01T14:30:00+02:00") == "01/05/2024 12:30"
    assert to_remote(with_time, date(2024, 5, 1)) == "01/05/2024 00:00"

    with_offset = spec("date_format", format="%Y-%m-%d %H:%M:%S%z")
    assert to_local(with_offset, "2024-05-01 14:30:00+0200") == "2024-05-01T12:30:00+00:00"
    assert to_remote(with_offset, "2024-05-01T12:30:00+00:00") == "2024-05-01 12:30:00+0000"


@pytest.mark.parametrize(
    ("transform", "value", "why"),
    [
        (EPOCH_MS, "yesterday", "cannot read it as epoch_ms"),
        (EPOCH_MS, True, "cannot read it as epoch_ms: expects a number or a string of digits"),
        (EPOCH_MS, "NaN", "cannot read it as epoch_ms: expects a finite number"),
        (EPOCH_MS, "9" * 30, "cannot read it as epoch_ms"),
        (spec("date_format", format="iso"), "01/05/2024", "cannot read it as iso"),
        (spec("date_format", format="iso"), "2024-02-30", "cannot read it as iso"),
        (spec("date_format", format="iso"), 20240501, "expects text, not int"),
        (spec("date_format", format="%d/%m/%Y"), "2024-05-01", "cannot read it as %d/%m/%Y"),
    ],
)
def test_date_format_to_local_refuses_unreadable_values(transform, value, why):
    with pytest.raises(TransformError, match=rf"^date_format: {why}"):
        to_local(transform, value)


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("first of May", "Invalid isoformat string"),
        (1714564800000, "expects a date, a datetime or ISO 8601 text, not int"),
    ],
)
def test_date_format_to_remote_refuses_values_that_are_not_canonical_dates(value, why):
    with pytest.raises(TransformError, match=rf"^date_format: {why}"):
        to_remote(EPOCH_MS, value)


# --- number ---------------------------------------------------------------------------------


def test_number_to_local_gives_decimals_and_ints():
    assert to_local(spec("number"), "1234.50") == Decimal("1234.50")
    assert to_local(spec("number"), 0.1) == Decimal("0.1")  # not 0.1000000000000000055...
    assert to_local(spec("number"), 7) == Decimal(7)
    assert to_local(spec("number", decimals=2), "2.345") == Decimal("2.35")  # half up
    assert to_local(spec("number", decimals=2), "-2.345") == Decimal("-2.35")
    whole = to_local(spec("number", decimals=0), "2.5")
    assert (whole, type(whole)) == (3, int)


def test_number_to_remote_gives_json_numbers_or_plain_text():
    assert to_remote(spec("number"), Decimal("1234.50")) == 1234.5
    assert to_remote(spec("number"), Decimal("1234.00")) == 1234
    assert type(to_remote(spec("number"), Decimal("1234.00"))) is int
    assert to_remote(spec("number", as_string=True), Decimal("1E+3")) == "1000"
    assert to_remote(spec("number", as_string=True, decimals=2), "12.5") == "12.50"
    assert to_remote(spec("number", decimals=1), "12.25") == 12.3


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("12abc", r"not a number \(got '12abc'\)"),
        ("1,234.50", "not a number"),
        ("NaN", "expects a finite number"),
        (float("inf"), "expects a finite number"),
        (True, r"expects a number, not bool \(got True\)"),
        ([1], "expects a number, not list"),
    ],
)
def test_number_refuses_what_is_not_a_finite_number(value, why):
    with pytest.raises(TransformError, match=rf"^number: {why}"):
        to_local(spec("number"), value)
    with pytest.raises(TransformError, match=rf"^number: {why}"):
        to_remote(spec("number"), value)


def test_number_too_large_for_its_decimals_is_an_error():
    with pytest.raises(TransformError, match=r"^number: too large to round to 2 decimals"):
        to_local(spec("number", decimals=2), "1e40")


# --- validate_transform ---------------------------------------------------------------------

KNOWN = "boolean, date_format, default, e164, join, lowercase, number, options, split_name, trim, value_map"


@pytest.mark.parametrize(
    "transform",
    [
        None,
        {"name": "lowercase"},
        {"name": "trim", "args": {}},
        {"name": "trim", "args": None},
        spec("e164", region="GB"),
        spec("split_name", part="last"),
        spec("join", fields=["subject", "body"], sep="\n"),
        spec("value_map", map={"1": True, "x": 2.5}, default="other", remote_default="x"),
        spec("date_format", format="epoch_ms", as_date=True),
        spec("date_format", format="%Y-%m-%dT%H:%M:%S.%f%z"),
        spec("number", decimals=0, as_string=True),
        spec("default", value=False),
    ],
)
def test_validate_transform_accepts_well_formed_specs(transform):
    assert validate_transform(transform) is None


@pytest.mark.parametrize(
    ("transform", "message"),
    [
        (["lowercase"], 'a transform must be {"name": ..., "args": {...}} or null, not list'),
        ({"name": "trim", "arg": {}}, "a transform has only the keys name and args; unknown: arg"),
        ({"args": {}}, f'a transform needs a "name", one of: {KNOWN}'),
        ({"name": 3}, f'a transform needs a "name", one of: {KNOWN}'),
        ({"name": "uppercase"}, f"unknown transform 'uppercase'; known transforms: {KNOWN}"),
        ({"name": "trim", "args": ["x"]}, "transform 'trim': \"args\" must be an object, not list"),
        (spec("trim", strip="both"), "transform 'trim': unknown argument 'strip'; allowed arguments: none"),
        (
            spec("number", precision=2, scale=1),
            "transform 'number': unknown argument 'precision', 'scale'; allowed arguments: as_string, decimals",
        ),
        (spec("split_name"), "transform 'split_name': missing required argument 'part'"),
        (
            spec("split_name", part="middle"),
            "transform 'split_name': argument 'part' must be \"first\" or \"last\", got 'middle'",
        ),
        (spec("split_name", part=1), "transform 'split_name': argument 'part' must be text, not int"),
        (
            spec("e164", region="gb"),
            "transform 'e164': argument 'region' must be an ISO 3166 alpha-2 region code",
        ),
        (
            spec("e164", region="XX"),
            "transform 'e164': argument 'region' must be an ISO 3166 alpha-2 region code",
        ),
        (spec("join"), "transform 'join': missing required argument 'fields'"),
        (spec("join", fields="subject,body"), "transform 'join': argument 'fields' must be a list, not str"),
        (
            spec("join", fields=[]),
            "transform 'join': argument 'fields' must be a non-empty list of field names",
        ),
        (
            spec("join", fields=["a", ""]),
            "transform 'join': argument 'fields' must be a non-empty list of field names",
        ),
        (spec("join", fields=["a", "a"]), "transform 'join': argument 'fields' must not repeat a field"),
        (spec("join", fields=["a"], sep=""), "transform 'join': argument 'sep' must not be empty"),
        (spec("value_map"), "transform 'value_map': missing required argument 'map'"),
        (spec("value_map", map={}), "transform 'value_map': argument 'map' must not be empty"),
        (
            spec("value_map", map=[["a", "b"]]),
            "transform 'value_map': argument 'map' must be an object, not list",
        ),
        (
            spec("value_map", map={"a": None}),
            "transform 'value_map': argument 'map' must map to text, number or boolean values",
        ),
        (spec("value_map", map={1: "a"}), "transform 'value_map': argument 'map' must have text keys"),
        (
            spec("value_map", map={"": "none", "a": "b"}),
            "transform 'value_map': argument 'map' must not have an empty key: blank remote values come through",
        ),
        (
            spec("value_map", map={"a": "b"}, default=["x"]),
            "transform 'value_map': argument 'default' must be text, a number or a boolean, not list",
        ),
        (spec("date_format"), "transform 'date_format': missing required argument 'format'"),
        (
            spec("date_format", format="YYYY-MM-DD"),
            "transform 'date_format': argument 'format' must be one of epoch_ms, epoch_s, iso, date or a "
            "strftime pattern such as '%Y-%m-%d', got 'YYYY-MM-DD'",
        ),
        (
            spec("date_format", format="%Y-%Q"),
            "transform 'date_format': argument 'format' is not a usable strftime pattern ('Q' is a bad directive",
        ),
        (
            spec("date_format", format="iso", as_date="yes"),
            "transform 'date_format': argument 'as_date' must be true or false, not str",
        ),
        (
            spec("number", decimals=True),
            "transform 'number': argument 'decimals' must be an integer, not bool",
        ),
        (
            spec("number", decimals=2.0),
            "transform 'number': argument 'decimals' must be an integer, not float",
        ),
        (
            spec("number", decimals=-1),
            "transform 'number': argument 'decimals' must be between 0 and 12, got -1",
        ),
        (
            spec("number", as_string=1),
            "transform 'number': argument 'as_string' must be true or false, not int",
        ),
        (spec("default"), "transform 'default': missing required argument 'value'"),
        (
            spec("default", value=None),
            "transform 'default': argument 'value' must be text, a number or a boolean",
        ),
    ],
)
def test_validate_transform_says_what_is_wrong(transform, message):
    with pytest.raises(ValueError) as info:
        validate_transform(transform)
    assert str(info.value).startswith(message)
    assert not isinstance(info.value, TransformError)


# --- round-trip properties ------------------------------------------------------------------

PROPERTY = settings(deadline=None, max_examples=150)  # a shared 2-core machine: no timing flakes

texts = st.text(max_size=40)
tokens = st.text(min_size=1, max_size=12).filter(lambda s: s.split() == [s])
utc_datetimes = st.datetimes(
    min_value=datetime(1900, 1, 1), max_value=datetime(2200, 12, 31), timezones=st.just(UTC)
)
dates = st.dates(min_value=date(1900, 1, 1), max_value=date(2200, 12, 31))
offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(lambda m: timezone(timedelta(minutes=m)))


@PROPERTY
@given(name=st.sampled_from(["lowercase", "trim"]), value=texts)
def test_lowercase_and_trim_are_idempotent_in_both_directions(name, value):
    once = to_local(spec(name), value)
    assert to_local(spec(name), once) == once
    assert to_local(spec(name), to_remote(spec(name), value)) == once


def _example_numbers() -> list[tuple[str, str]]:
    numbers = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        example = phonenumbers.example_number(region)
        if example is not None:
            numbers.append((region, phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)))
    return numbers


EXAMPLE_NUMBERS = _example_numbers()


@PROPERTY
@given(
    example=st.sampled_from(EXAMPLE_NUMBERS),
    style=st.sampled_from(
        [phonenumbers.PhoneNumberFormat.INTERNATIONAL, phonenumbers.PhoneNumberFormat.NATIONAL]
    ),
)
def test_e164_round_trips_and_reads_every_region_formatting(example, style):
    region, canonical = example
    assert to_local(spec("e164"), to_remote(spec("e164"), canonical)) == canonical
    written = phonenumbers.format_number(phonenumbers.parse(canonical), style)
    assert to_local(spec("e164"), written, region=region) == canonical
    assert to_local(spec("e164", region=region), written, region="US") == canonical


@PROPERTY
@given(first=tokens, last=st.one_of(st.none(), st.just(""), st.lists(tokens, max_size=3).map(" ".join)))
def test_split_name_first_round_trips(first, last):
    transform = spec("split_name", part="first")
    remote = to_remote(transform, first, record={"first_name": first, "last_name": last})
    assert to_local(transform, remote) == first


@PROPERTY
@given(first=tokens, last=st.lists(tokens, min_size=1, max_size=4).map(" ".join))
def test_split_name_last_round_trips(first, last):
    transform = spec("split_name", part="last")
    remote = to_remote(transform, last, record={"first_name": first, "last_name": last})
    assert to_local(transform, remote) == last


@PROPERTY
@given(
    sep=st.sampled_from([" ", ", ", " | ", "\n"]),
    own=st.text(min_size=1, max_size=20),
    others=st.lists(st.one_of(st.none(), texts), min_size=1, max_size=3),
)
def test_join_round_trips_the_mapping_own_field(sep, own, others):
    if sep in own or not own.strip():
        own = "own"
    fields = ["own", *(f"f{i}" for i in range(len(others)))]
    transform = spec("join", fields=fields, sep=sep)
    record = {"own": own, **{f"f{i}": value for i, value in enumerate(others)}}
    assert to_local(transform, to_remote(transform, own, record=record)) == own


scalars = st.one_of(st.text(max_size=10), st.integers(), st.booleans(), st.floats(allow_nan=False))


@PROPERTY
@given(
    data=st.data(), mapping=st.dictionaries(st.text(min_size=1, max_size=10), scalars, min_size=1, max_size=6)
)
def test_value_map_round_trips_every_mapped_value(data, mapping):
    transform = spec("value_map", map=mapping)
    local = data.draw(st.sampled_from(list(mapping.values())).filter(lambda v: v != ""))
    back = to_local(transform, to_remote(transform, local))
    assert back == local and isinstance(back, bool) == isinstance(local, bool)


@PROPERTY
@given(value=scalars.filter(lambda v: v != ""), fill=scalars.filter(lambda v: v != ""))
def test_default_round_trips_non_blank_values(value, fill):
    transform = spec("default", value=fill)
    assert to_local(transform, to_remote(transform, value)) == value


def _ms(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


DATE_FORMAT_CASES = [
    ({"format": "epoch_ms"}, utc_datetimes.map(_ms).map(datetime.isoformat)),
    ({"format": "epoch_s"}, utc_datetimes.map(lambda d: d.replace(microsecond=0).isoformat())),
    ({"format": "epoch_ms", "as_date": True}, dates.map(date.isoformat)),
    ({"format": "iso"}, utc_datetimes.map(datetime.isoformat)),
    ({"format": "iso"}, dates.map(date.isoformat)),
    ({"format": "date"}, dates.map(date.isoformat)),
    ({"format": "%d/%m/%Y"}, dates.map(date.isoformat)),
    ({"format": "%Y-%m-%dT%H:%M:%S%z"}, utc_datetimes.map(lambda d: d.replace(microsecond=0).isoformat())),
    ({"format": "%Y%m%d %H%M%S.%f"}, utc_datetimes.map(datetime.isoformat)),
]


@PROPERTY
@given(data=st.data(), case=st.sampled_from(range(len(DATE_FORMAT_CASES))))
def test_date_format_round_trips_canonical_dates_and_datetimes(data, case):
    args, canonical = DATE_FORMAT_CASES[case]
    value = data.draw(canonical)
    transform = {"name": "date_format", "args": args}
    assert to_local(transform, to_remote(transform, value)) == value


@PROPERTY
@given(moment=utc_datetimes, offset=offsets, fmt=st.sampled_from(["iso", "epoch_ms", "epoch_s"]))
def test_date_format_gives_one_canonical_value_per_instant_whatever_the_offset(moment, offset, fmt):
    transform = spec("date_format", format=fmt)
    shifted = to_remote(transform, moment.astimezone(offset).isoformat())
    assert to_local(transform, shifted) == to_local(transform, to_remote(transform, moment))


fifteen_digits = st.integers(min_value=-(10**15) + 1, max_value=10**15 - 1)


@PROPERTY
@given(digits=fifteen_digits, places=st.integers(min_value=0, max_value=8))
def test_number_round_trips_through_json_numbers_up_to_15_digits(digits, places):
    value = Decimal(digits).scaleb(-places)
    assert to_local(spec("number"), to_remote(spec("number"), value)) == value


@PROPERTY
@given(value=st.decimals(allow_nan=False, allow_infinity=False))
def test_number_round_trips_any_decimal_as_text(value):
    transform = spec("number", as_string=True)
    remote = to_remote(transform, value)
    assert "E" not in remote.upper()
    assert to_local(transform, remote) == value


@PROPERTY
@given(digits=fifteen_digits, decimals=st.integers(min_value=0, max_value=6), as_string=st.booleans())
def test_number_with_decimals_round_trips_its_canonical_values(digits, decimals, as_string):
    transform = spec("number", decimals=decimals, as_string=as_string)
    canonical = to_local(transform, Decimal(digits).scaleb(-decimals))
    back = to_local(transform, to_remote(transform, canonical))
    assert back == canonical and type(back) is type(canonical)
