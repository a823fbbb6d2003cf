"""Named field transforms for FieldMappings: remote value ↔ canonical value.

A mapping's transform is ``{"name": <name>, "args": {...}}`` (``args`` may be left out) or
``None`` for "copy the value as it is". Every transform is one entry in ``TRANSFORMS``: its
``to_local`` (remote → canonical) and ``to_remote`` (canonical → remote) functions and the
schema of its arguments. Adding a transform means writing two functions and one registry row.

Shared rules:

- ``None`` and ``""`` come out as ``None`` in both directions, except where a transform says
  otherwise (``default`` fills them; ``split_name`` and ``join`` build ``to_remote`` from the
  whole record).
- A value that cannot be transformed raises ``TransformError``; a malformed spec raises
  ``ValueError`` (``validate_transform`` says what is wrong with it).
- Canonical values are what the sync engine compares, so each transform returns one form per
  meaning: datetimes as ISO 8601 in UTC, dates as ``YYYY-MM-DD``, phones as E.164, numbers as
  ``Decimal``. For invertible transforms ``to_local(to_remote(x)) == x`` for such canonical
  values; ``lowercase`` and ``trim`` are idempotent instead.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, NamedTuple

import phonenumbers

__all__ = [
    "TRANSFORMS",
    "TRANSFORM_LABELS",
    "ArgSpec",
    "Transform",
    "TransformError",
    "to_local",
    "to_remote",
    "validate_transform",
]


class TransformError(ValueError):
    """A value could not be transformed. The message names the transform and the reason and
    quotes at most a short excerpt of the value (values are customer data)."""


@dataclass(frozen=True)
class Context:
    """What a transform may look at besides its value: the source side's whole record and the
    sub-account's default phone region."""

    record: Mapping[str, Any] | None
    region: str


TransformFn = Callable[[Any, Mapping[str, Any], Context], Any]


@dataclass(frozen=True)
class ArgSpec:
    """One argument of a transform: accepted JSON types, whether it is required, its default,
    and an optional ``check`` returning an error message (or None) for a well-typed value.
    ``label`` and ``help`` are what the admin's mapping editor shows next to the argument."""

    types: tuple[type, ...]
    type_name: str
    required: bool = False
    default: Any = None
    check: Callable[[Any], str | None] | None = None
    label: str = ""
    help: str = ""


class Transform(NamedTuple):
    """A registry row: ``(to_local_fn, to_remote_fn, arg_schema)``."""

    to_local: TransformFn
    to_remote: TransformFn
    args: Mapping[str, ArgSpec]


# --- helpers --------------------------------------------------------------------------------

_EXCERPT_CHARS = 20


def _excerpt(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _EXCERPT_CHARS + 2 else text[:_EXCERPT_CHARS] + "…"


def _error(name: str, why: str, value: Any) -> TransformError:
    return TransformError(f"{name}: {why} (got {_excerpt(value)})")


def _is_blank(value: Any) -> bool:
    return value is None or value == ""


def _blank_is_none(fn: TransformFn) -> TransformFn:
    """Wrap a transform function so that None and "" come out as None without calling it."""

    @functools.wraps(fn)
    def wrapper(value: Any, args: Mapping[str, Any], ctx: Context) -> Any:
        return None if _is_blank(value) else fn(value, args, ctx)

    return wrapper


def _text(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise _error(name, f"expects text, not {type(value).__name__}", value)
    return value


def _record(name: str, ctx: Context) -> Mapping[str, Any]:
    # Without the record we would push a half-built value and wipe the other part remotely.
    if ctx.record is None:
        raise TransformError(f"{name}: to_remote needs the record to combine fields, got record=None")
    return ctx.record


def _is_scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool)


# --- lowercase, trim, default -----------------------------------------------------------------


@_blank_is_none
def _lowercase(value: Any, args: Mapping[str, Any], ctx: Context) -> str:
    return _text("lowercase", value).lower()


@_blank_is_none
def _trim(value: Any, args: Mapping[str, Any], ctx: Context) -> str | None:
    return _text("trim", value).strip() or None  # all-whitespace is blank


def _default(value: Any, args: Mapping[str, Any], ctx: Context) -> Any:
    return args["value"] if _is_blank(value) else value


# --- e164 -----------------------------------------------------------------------------------


def _check_region(region: str) -> str | None:
    if region not in phonenumbers.SUPPORTED_REGIONS:
        return f"must be an ISO 3166 alpha-2 region code such as US or GB, got {region!r}"
    return None


@_blank_is_none
def _e164(value: Any, args: Mapping[str, Any], ctx: Context) -> str:
    """Any dialable form → E.164. The mapping's ``region`` wins over the sub-account's default,
    since it describes that one integration's data; either only matters without a leading +."""
    region = args["region"] or ctx.region
    try:
        number = phonenumbers.parse(_text("e164", value), region)
    except phonenumbers.NumberParseException as exc:
        raise _error("e164", f"cannot parse a phone number for region {region}: {exc}", value) from exc
    if not phonenumbers.is_valid_number(number):
        raise _error("e164", f"not a valid phone number for region {region}", value)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# --- split_name -----------------------------------------------------------------------------

_NAME_FIELDS = {"first": "first_name", "last": "last_name"}


def _check_part(part: str) -> str | None:
    return None if part in _NAME_FIELDS else f'must be "first" or "last", got {part!r}'


@_blank_is_none
def _split_name_to_local(value: Any, args: Mapping[str, Any], ctx: Context) -> str | None:
    """First name = the first whitespace-separated token; last name = the remaining tokens joined
    by single spaces ("Ana Maria Lee" → "Ana" / "Maria Lee"; "Cher" → "Cher" / None). Particles
    and double first names cannot be told apart from text alone, so the rule stays this simple."""
    tokens = _text("split_name", value).split()
    if not tokens:
        return None
    if args["part"] == "first":
        return tokens[0]
    return " ".join(tokens[1:]) or None


def _split_name_to_remote(value: Any, args: Mapping[str, Any], ctx: Context) -> str | None:
    """The full name: the mapping's own part is ``value``, the other part comes from the record
    (``first_name`` / ``last_name``); blank parts are skipped, nothing at all gives None."""
    record = _record("split_name", ctx)
    own = args["part"]
    first = value if own == "first" else record.get("first_name")
    last = value if own == "last" else record.get("last_name")
    parts = [_text("split_name", part).strip() for part in (first, last) if not _is_blank(part)]
    return " ".join(part for part in parts if part) or None


# --- join -----------------------------------------------------------------------------------


def _check_fields(fields: list[Any]) -> str | None:
    if not fields or not all(isinstance(f, str) and f for f in fields):
        return "must be a non-empty list of field names"
    if len(set(fields)) != len(fields):
        return "must not repeat a field"
    return None


def _check_sep(sep: str) -> str | None:
    return None if sep else "must not be empty"


@_blank_is_none
def _join_to_local(value: Any, args: Mapping[str, Any], ctx: Context) -> str | None:
    """The first ``sep``-separated part, for the mapping's own field, which must be ``fields[0]``.
    The other fields' parts are not recoverable once blanks were skipped, so they are left alone."""
    return _text("join", value).split(args["sep"], 1)[0] or None


def _join_to_remote(value: Any, args: Mapping[str, Any], ctx: Context) -> str | None:
    """``fields`` joined with ``sep``, skipping blank ones: ``fields[0]`` is the mapping's own
    field and comes from ``value``, the others from the record. All blank gives None."""
    record = _record("join", ctx)
    parts = [value, *(record.get(field) for field in args["fields"][1:])]
    texts = [part if isinstance(part, str) else str(part) for part in parts if not _is_blank(part)]
    return args["sep"].join(text for text in texts if text.strip()) or None


# --- value_map ------------------------------------------------------------------------------


def _check_map(mapping: dict[Any, Any]) -> str | None:
    if not mapping:
        return "must not be empty"
    if not all(isinstance(key, str) for key in mapping):
        return "must have text keys (the remote values)"
    if "" in mapping:
        # Blank remote values never reach the map (they come through as None), so "" would
        # be a key nothing matches, and a value to_remote would send but never read back.
        return "must not have an empty key: blank remote values come through as None"
    if not all(_is_scalar(local) for local in mapping.values()):
        return "must map to text, number or boolean values (the canonical values)"
    return None


def _map_key(value: Any) -> str:
    # Map keys are JSON object keys, hence text; remote values may be JSON numbers or booleans.
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


@_blank_is_none
def _value_map_to_local(value: Any, args: Mapping[str, Any], ctx: Context) -> Any:
    key = _map_key(value)
    if key in args["map"]:
        return args["map"][key]
    if args["default"] is not None:
        return args["default"]
    raise _error("value_map", f"no mapping for this remote value; known: {', '.join(args['map'])}", value)


@_blank_is_none
def _value_map_to_remote(value: Any, args: Mapping[str, Any], ctx: Context) -> Any:
    """The remote key whose canonical value this is; when several keys share it, the first in map
    order wins, so to_local(to_remote(x)) == x still holds."""
    for remote, local in args["map"].items():
        # bool == int in Python (True == 1), but a mapped true is not a mapped 1.
        if local == value and isinstance(local, bool) == isinstance(value, bool):
            return remote
    if args["remote_default"] is not None:
        return args["remote_default"]
    raise _error("value_map", "no remote value maps to this canonical value", value)


# --- date_format ----------------------------------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_UNITS = {"epoch_ms": Decimal(1000), "epoch_s": Decimal(1)}
_NAMED_FORMATS = ("epoch_ms", "epoch_s", "iso", "date")
_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}|\d{8}")
# strftime directives that carry a time of day: a pattern with none of them is a date.
_TIME_DIRECTIVES = frozenset("HIMSfpXcrTRzZ")
_PROBE = datetime(2001, 2, 3, 4, 5, 6, 789000, tzinfo=UTC)


@functools.cache
def _pattern_problem(pattern: str) -> str | None:
    """None when ``pattern`` formats and parses back (strptime rejects directives strftime
    echoes), otherwise why not. Cached: mappings are checked on every call."""
    if "%" not in pattern:
        return (
            f"must be one of {', '.join(_NAMED_FORMATS)} or a strftime pattern such as "
            f"'%Y-%m-%d', got {pattern!r}"
        )
    try:
        datetime.strptime(_PROBE.strftime(pattern), pattern)
    except ValueError as exc:
        return f"is not a usable strftime pattern ({exc}), got {pattern!r}"
    return None


def _check_format(fmt: str) -> str | None:
    return None if fmt in _NAMED_FORMATS else _pattern_problem(fmt)


def _pattern_has_time(pattern: str) -> bool:
    return bool(_TIME_DIRECTIVES & set(re.findall(r"%(.)", pattern)))


def _utc(moment: datetime) -> datetime:
    # Naive datetimes are taken as UTC: remote systems that omit the offset mostly mean UTC,
    # and one fixed reading keeps the canonical value stable between runs.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _canonical(moment: date, as_date: bool) -> str:
    if isinstance(moment, datetime):
        moment = _utc(moment)
        return moment.date().isoformat() if as_date else moment.isoformat()
    return moment.isoformat()


def _parse_iso(value: str) -> date:
    """A date for date-only ISO text, otherwise a datetime; raises ValueError when not ISO."""
    text = value.strip()
    if _DATE_ONLY.fullmatch(text):
        return date.fromisoformat(text)
    return datetime.fromisoformat(text)


def _is_iso_text(value: Any) -> bool:
    """ISO 8601 text where an epoch number was expected: a year, a dash, more."""
    return isinstance(value, str) and bool(re.match(r"\s*\d{4}-\d{2}", value))


def _parse_epoch(value: Any, unit: Decimal) -> datetime:
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise ValueError("expects a number or a string of digits")
    amount = Decimal(value.strip() if isinstance(value, str) else str(value))
    if not amount.is_finite():
        raise ValueError("expects a finite number")
    micros = int((amount * 1_000_000 / unit).to_integral_value())
    return _EPOCH + timedelta(microseconds=micros)


@_blank_is_none
def _date_format_to_local(value: Any, args: Mapping[str, Any], ctx: Context) -> str:
    """Remote date/time → ``YYYY-MM-DD`` for dates (and for everything when ``as_date``),
    otherwise an ISO 8601 datetime in UTC (``+00:00``), so equal instants compare equal."""
    fmt = args["format"]
    if not isinstance(value, date) and fmt not in _EPOCH_UNITS:
        value = _text("date_format", value).strip()
    try:
        if isinstance(value, date):  # a client already decoded it
            moment: date = value
        elif fmt in _EPOCH_UNITS and _is_iso_text(value):
            moment = _parse_iso(value)  # providers that answer either form (HubSpot's createdate)
        elif fmt in _EPOCH_UNITS:
            moment = _parse_epoch(value, _EPOCH_UNITS[fmt])
        elif fmt == "iso":
            moment = _parse_iso(value)
        elif fmt == "date":
            if not _DATE_ONLY.fullmatch(value):
                raise ValueError("expects a date YYYY-MM-DD")
            moment = date.fromisoformat(value)
        else:
            parsed = datetime.strptime(value, fmt)  # naive unless %z: _canonical() reads it as UTC
            moment = parsed if _pattern_has_time(fmt) else parsed.date()
    except (ValueError, ArithmeticError) as exc:
        raise _error("date_format", f"cannot read it as {fmt}: {exc}", value) from exc
    return _canonical(moment, args["as_date"])


def _temporal(value: Any) -> date:
    """A canonical value (date, datetime or ISO text) as a date or datetime."""
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        return _parse_iso(value)
    raise ValueError(f"expects a date, a datetime or ISO 8601 text, not {type(value).__name__}")


def _as_datetime(moment: date) -> datetime:
    return (
        _utc(moment) if isinstance(moment, datetime) else datetime.combine(moment, datetime.min.time(), UTC)
    )


def _as_date(moment: date) -> date:
    return _utc(moment).date() if isinstance(moment, datetime) else moment


@_blank_is_none
def _date_format_to_remote(value: Any, args: Mapping[str, Any], ctx: Context) -> Any:
    """Canonical date/time → the remote format. ``epoch_ms`` is a string of digits (HubSpot's
    wire form), ``epoch_s`` an int; a date is midnight UTC, a datetime pushed to a date-only
    format is its UTC date; sub-unit precision the format cannot hold is truncated."""
    fmt = args["format"]
    try:
        moment = _temporal(value)
    except ValueError as exc:
        raise _error("date_format", str(exc), value) from exc
    if args["as_date"]:
        moment = _as_date(moment)
    if fmt in _EPOCH_UNITS:
        micros = (_as_datetime(moment) - _EPOCH) // timedelta(microseconds=1)
        whole = micros * int(_EPOCH_UNITS[fmt]) // 1_000_000  # floor, also before 1970
        return str(whole) if fmt == "epoch_ms" else whole
    if fmt == "iso":
        return _canonical(moment, as_date=False)
    if fmt == "date" or not _pattern_has_time(fmt):
        moment = _as_date(moment)
        return moment.isoformat() if fmt == "date" else moment.strftime(fmt)
    return _as_datetime(moment).strftime(fmt)


# --- number ---------------------------------------------------------------------------------


def _check_decimals(decimals: int) -> str | None:
    return None if 0 <= decimals <= 12 else f"must be between 0 and 12, got {decimals}"


def _decimal(value: Any, decimals: int | None) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise _error("number", f"expects a number, not {type(value).__name__}", value)
    try:
        # str() first: Decimal(0.1) would carry the float's binary error into the canonical value.
        number = Decimal(value.strip() if isinstance(value, str) else str(value))
    except InvalidOperation as exc:
        raise _error("number", "not a number", value) from exc
    if not number.is_finite():
        raise _error("number", "expects a finite number", value)
    if decimals is None:
        return number
    try:
        return number.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    except InvalidOperation as exc:
        raise _error("number", f"too large to round to {decimals} decimals", value) from exc


@_blank_is_none
def _number_to_local(value: Any, args: Mapping[str, Any], ctx: Context) -> Decimal | int:
    """A Decimal, rounded half-up to ``decimals`` when given; an int when ``decimals`` is 0."""
    number = _decimal(value, args["decimals"])
    return int(number) if args["decimals"] == 0 else number


@_blank_is_none
def _number_to_remote(value: Any, args: Mapping[str, Any], ctx: Context) -> str | int | float:
    """A JSON number (int when whole, else float: exact up to 15 significant digits), or with
    ``as_string`` the plain decimal text, never in exponent notation."""
    number = _decimal(value, args["decimals"])
    if args["as_string"]:
        return format(number, "f")
    return int(number) if number == number.to_integral_value() else float(number)


# --- boolean --------------------------------------------------------------------------------

_TRUE = frozenset({"true", "1"})
_FALSE = frozenset({"false", "0"})


def _truth(name: str, value: Any) -> bool:
    """True or False for a boolean, 1 or 0, or the text "true"/"false"/"1"/"0" (any case)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE or text in _FALSE:
            return text in _TRUE
    raise _error(name, 'expects true or false (or "true"/"false", 1/0)', value)


@_blank_is_none
def _boolean_to_local(value: Any, args: Mapping[str, Any], ctx: Context) -> bool:
    return _truth("boolean", value)


@_blank_is_none
def _boolean_to_remote(value: Any, args: Mapping[str, Any], ctx: Context) -> bool | str:
    """A JSON boolean, or with ``as_string`` the text "true"/"false" (HubSpot's wire form, which
    it also accepts as a JSON boolean)."""
    truth = _truth("boolean", value)
    if args["as_string"]:
        return "true" if truth else "false"
    return truth


# --- options --------------------------------------------------------------------------------


def _check_options(mapping: dict[Any, Any]) -> str | None:
    if not mapping:
        return "must not be empty"
    if not all(isinstance(key, str) and key for key in mapping):
        return "must have non-empty text keys (the option values)"
    if not all(isinstance(label, str) for label in mapping.values()):
        return "must map to text (the option labels)"
    return None


def _option_parts(name: str, value: Any, sep: str) -> list[Any]:
    parts = value.split(sep) if isinstance(value, str) else value
    if not isinstance(parts, list | tuple):
        raise _error(name, f"expects {sep!r}-separated text or a list, not {type(value).__name__}", value)
    stripped = (part.strip() if isinstance(part, str) else part for part in parts)
    return [part for part in stripped if not _is_blank(part)]


def _label_of(value: Any, options: Mapping[str, str]) -> Any:
    return options.get(_map_key(value), value)


def _value_of(label: Any, options: Mapping[str, str]) -> Any:
    """The option value of a label: exact first, then ignoring case; an option value, or anything
    no option has, passes through unchanged (the provider says whether it takes it)."""
    if not isinstance(label, str) or label in options:
        return label
    folded = label.casefold()
    for exact in (True, False):
        for value, known in options.items():
            if (known == label) if exact else (known.casefold() == folded):
                return value
    return label


@_blank_is_none
def _options_to_local(value: Any, args: Mapping[str, Any], ctx: Context) -> Any:
    """An option value → its label; a multi-select's ``sep``-separated values → the list of their
    labels (None when empty). Values no option has pass through unchanged."""
    if not args["multiple"]:
        return _label_of(value, args["map"])
    labels = [_label_of(part, args["map"]) for part in _option_parts("options", value, args["sep"])]
    return labels or None


def _options_to_remote(value: Any, args: Mapping[str, Any], ctx: Context) -> Any:
    """A label → its option value; a list of labels (or ``sep``-separated labels) → the
    ``sep``-separated option values. Blank and empty come out as None."""
    if _is_blank(value) or value == []:
        return None
    if not args["multiple"]:
        return _value_of(value, args["map"])
    values = [_value_of(part, args["map"]) for part in _option_parts("options", value, args["sep"])]
    return args["sep"].join(str(v) for v in values) or None


# --- the registry ---------------------------------------------------------------------------

_TEXT = ((str,), "text")
_BOOL = ((bool,), "true or false")
_SCALAR = ((str, int, float, bool), "text, a number or a boolean")

TRANSFORMS: dict[str, Transform] = {
    "lowercase": Transform(_lowercase, _lowercase, {}),
    "trim": Transform(_trim, _trim, {}),
    "default": Transform(
        _default,
        _default,
        {"value": ArgSpec(*_SCALAR, required=True, label="Value", help="Used when the value is blank")},
    ),
    "e164": Transform(
        _e164,
        _e164,
        {
            "region": ArgSpec(
                *_TEXT,
                check=_check_region,
                label="Region",
                help="For numbers without +, e.g. US or GB (empty: the sub-account's region)",
            )
        },
    ),
    "split_name": Transform(
        _split_name_to_local,
        _split_name_to_remote,
        {"part": ArgSpec(*_TEXT, required=True, check=_check_part, label="Part", help="first or last")},
    ),
    "join": Transform(
        _join_to_local,
        _join_to_remote,
        {
            "fields": ArgSpec(
                (list,),
                "a list",
                required=True,
                check=_check_fields,
                label="Fields",
                help="Local fields to join, this mapping's own first",
            ),
            "sep": ArgSpec(*_TEXT, default=" ", check=_check_sep, label="Separator", help="Default: a space"),
        },
    ),
    "value_map": Transform(
        _value_map_to_local,
        _value_map_to_remote,
        {
            "map": ArgSpec(
                (dict,),
                "an object",
                required=True,
                check=_check_map,
                label="Values",
                help="remote value = local value",
            ),
            "default": ArgSpec(  # canonical value for an unmapped remote value
                *_SCALAR, label="Local default", help="For a remote value not listed"
            ),
            "remote_default": ArgSpec(  # remote value for an unmapped canonical value
                *_SCALAR, label="Remote default", help="For a local value not listed"
            ),
        },
    ),
    "date_format": Transform(
        _date_format_to_local,
        _date_format_to_remote,
        {
            "format": ArgSpec(
                *_TEXT,
                required=True,
                check=_check_format,
                label="Format",
                help="epoch_ms, epoch_s, iso, date or a strftime pattern such as %d/%m/%Y",
            ),
            "as_date": ArgSpec(*_BOOL, default=False, label="Date only", help="Drop the time of day"),
        },
    ),
    "number": Transform(
        _number_to_local,
        _number_to_remote,
        {
            "decimals": ArgSpec(
                (int,), "an integer", check=_check_decimals, label="Decimals", help="Round to 0–12 places"
            ),
            "as_string": ArgSpec(*_BOOL, default=False, label="Send as text", help="Send it as text"),
        },
    ),
    "boolean": Transform(
        _boolean_to_local,
        _boolean_to_remote,
        {"as_string": ArgSpec(*_BOOL, default=False, label="Send as text", help="Send it as text")},
    ),
    # Enumerations by label: ``map`` is option value → label (the provider's options), the
    # canonical side holds labels; ``multiple`` for multi-selects (a list of labels).
    "options": Transform(
        _options_to_local,
        _options_to_remote,
        {
            "map": ArgSpec(
                (dict,),
                "an object",
                required=True,
                check=_check_options,
                label="Options",
                help="option value = label",
            ),
            "multiple": ArgSpec(*_BOOL, default=False, label="Multi-select", help="A list of labels"),
            "sep": ArgSpec(*_TEXT, default=";", check=_check_sep, label="Separator", help="Between values"),
        },
    ),
}


# Name → (label, help): how the admin's mapping editor offers each transform.
TRANSFORM_LABELS: dict[str, tuple[str, str]] = {
    "lowercase": ("Lowercase", "Text in lower case"),
    "trim": ("Trim spaces", "Spaces removed at both ends; only spaces is blank"),
    "default": ("Default when blank", "A fixed value fills a blank"),
    "e164": ("Phone number (E.164)", "Any dialable form to +<country><number>"),
    "split_name": ("Part of a full name", "One remote full name ↔ first and last name"),
    "join": ("Join fields", "Several local fields ↔ one remote text"),
    "value_map": ("Map values", "Remote values ↔ local values, one per line"),
    "date_format": ("Date / time format", "Read and write dates in the provider's format"),
    "number": ("Number", "A decimal number, optionally rounded"),
    "boolean": ("Yes / no", "true/false, 1/0"),
    "options": ("Option labels", "A picklist's option values ↔ their labels"),
}

# --- public API -----------------------------------------------------------------------------

_SPEC_KEYS = ("name", "args")


def _has_type(value: Any, arg: ArgSpec) -> bool:
    # bool is an int subclass, but `"decimals": true` is a mistake, not 1.
    return isinstance(value, arg.types) and (bool in arg.types or not isinstance(value, bool))


def validate_transform(spec: Mapping[str, Any] | None) -> None:
    """Return if ``spec`` is None or a usable transform; otherwise raise ValueError saying what is
    wrong: unknown name (listing the known ones), unknown, missing or mistyped arguments."""
    if spec is None:
        return
    known = ", ".join(sorted(TRANSFORMS))
    if not isinstance(spec, Mapping):
        raise ValueError(
            f'a transform must be {{"name": ..., "args": {{...}}}} or null, not {type(spec).__name__}'
        )
    extra = sorted(map(str, set(spec) - set(_SPEC_KEYS)))
    if extra:
        raise ValueError(f"a transform has only the keys name and args; unknown: {', '.join(extra)}")
    name = spec.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError(f'a transform needs a "name", one of: {known}')
    if name not in TRANSFORMS:
        raise ValueError(f"unknown transform {name!r}; known transforms: {known}")
    schema = TRANSFORMS[name].args
    args = spec.get("args", {})
    if args is None:
        args = {}
    if not isinstance(args, Mapping):
        raise ValueError(f'transform {name!r}: "args" must be an object, not {type(args).__name__}')
    unknown = sorted(map(str, set(args) - set(schema)))
    if unknown:
        allowed = ", ".join(sorted(schema)) or "none"
        raise ValueError(
            f"transform {name!r}: unknown argument {', '.join(map(repr, unknown))}; allowed arguments: {allowed}"
        )
    for arg_name, arg in schema.items():
        if arg_name not in args:
            if arg.required:
                raise ValueError(f"transform {name!r}: missing required argument {arg_name!r}")
            continue
        value = args[arg_name]
        if not _has_type(value, arg):
            raise ValueError(
                f"transform {name!r}: argument {arg_name!r} must be {arg.type_name}, not {type(value).__name__}"
            )
        problem = arg.check(value) if arg.check else None
        if problem:
            raise ValueError(f"transform {name!r}: argument {arg_name!r} {problem}")


def resolve(spec: Mapping[str, Any]) -> tuple[Transform, dict[str, Any]]:
    """The registry row and the full arguments (defaults filled in) of a valid spec. Resolve once
    and call ``transform.to_local(value, args, Context(...))`` per value: validating a spec costs
    more than most transforms. Raises ValueError for a malformed spec."""
    validate_transform(spec)
    transform = TRANSFORMS[spec["name"]]
    given = spec.get("args") or {}
    return transform, {name: given.get(name, arg.default) for name, arg in transform.args.items()}


def to_local(
    spec: Mapping[str, Any] | None,
    value: Any,
    *,
    record: Mapping[str, Any] | None = None,
    region: str = "US",
) -> Any:
    """The canonical value for a remote ``value`` (``record``: the whole remote record; ``region``:
    the sub-account's default phone region). No spec returns ``value`` unchanged. Raises
    TransformError for a value the transform cannot take, ValueError for a malformed spec."""
    if spec is None:
        return value
    transform, args = resolve(spec)
    return transform.to_local(value, args, Context(record, region))


def to_remote(
    spec: Mapping[str, Any] | None,
    value: Any,
    *,
    record: Mapping[str, Any] | None = None,
    region: str = "US",
) -> Any:
    """The remote value for a canonical ``value`` (``record``: the whole canonical record, which
    ``split_name`` and ``join`` require). No spec returns ``value`` unchanged. Raises
    TransformError for a value the transform cannot take, ValueError for a malformed spec."""
    if spec is None:
        return value
    transform, args = resolve(spec)
    return transform.to_remote(value, args, Context(record, region))
