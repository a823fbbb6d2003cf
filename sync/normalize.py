"""Turn incoming field values into the canonical stored form, or say precisely why not.

Every write path (API, bulk upsert, sync engine, admin) goes through ``normalise_record``, so a value
is compared and stored in one form only: emails lower-case, phones E.164, domains bare, amounts
Decimal with two places, dates and date-times parsed (naive date-times are read as UTC), strings
trimmed. Each ``normalise_<kind>`` raises ``ValueError`` with a message fit for an API client.
"""

import json
import re
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import phonenumbers
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from email_validator import EmailNotValidError, validate_email

from sync.entities import EntityDef

CUSTOM_FIELD_KEY_MAX = 255
PG_MAX_OFFSET = timedelta(hours=16)


class RecordInvalid(ValueError):
    """A record that cannot be stored; ``errors`` maps each offending field to its reason."""

    def __init__(self, errors: Mapping[str, str]):
        self.errors = dict(errors)
        super().__init__("; ".join(f"{name}: {reason}" for name, reason in self.errors.items()))


# --- single values ----------------------------------------------------------------------------


def normalise_email(value: Any) -> str:
    """Trimmed, lower-case, syntactically valid address ("" stays ""). No DNS lookups."""
    text = _text(value)
    if not text:
        return ""
    try:
        result = validate_email(text, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(f"Not a valid email address: {exc}") from None
    return result.normalized.lower()


def normalise_phone(value: Any, *, region: str) -> str:
    """E.164 (``+14155552671``); numbers without "+" are read in ``region`` (ISO country)."""
    text = _text(value)
    if not text:
        return ""
    try:
        number = phonenumbers.parse(text, None if text.startswith("+") else (region or "US").upper())
    except phonenumbers.NumberParseException:
        raise ValueError("Not a phone number.") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError(f"Not a valid phone number for region {region or 'US'} (write +<country code> ...).")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


_DOMAIN = re.compile(r"^(?=.{1,253}$)([^\s./:@]{1,63}\.)+[^\s./:@\d][^\s./:@]{0,62}$")


def normalise_domain(value: Any) -> str:
    """A bare lower-case host: "https://www.Acme.com/about" becomes "acme.com"."""
    text = _text(value).lower()
    if not text:
        return ""
    text = re.sub(r"^[a-z][a-z0-9+.-]*://", "", text)  # scheme
    text = re.split(r"[/?#]", text, maxsplit=1)[0].rstrip(".")
    text = text.rsplit("@", 1)[-1].split(":", 1)[0]  # user info, port
    text = text.removeprefix("www.")
    if not _DOMAIN.match(text):
        raise ValueError("Not a domain name (expected e.g. example.com).")
    return text


def normalise_currency(value: Any) -> str:
    """An ISO 4217 code, upper-case ("" stays "")."""
    text = _text(value).upper()
    if text and not re.fullmatch(r"[A-Z]{3}", text):
        raise ValueError("Expected a three-letter ISO 4217 currency code, e.g. USD.")
    return text


def normalise_decimal(value: Any, *, max_digits: int = 14, decimal_places: int = 2) -> Decimal | None:
    """A finite Decimal rounded half-up to ``decimal_places``; None or "" is None."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        raise ValueError("Expected a number or a numeric string.")
    try:
        # str(float) is the shortest repr, so 19.99 stays 19.99 instead of 19.989999...
        number = Decimal(value.strip() if isinstance(value, str) else str(value))
    except InvalidOperation:
        raise ValueError("Expected a number or a numeric string.") from None
    if not number.is_finite():
        raise ValueError("Expected a finite number.")
    whole_digits = max_digits - decimal_places
    too_large = f"Too large: at most {whole_digits} digits before the decimal point."
    if number and number.adjusted() >= whole_digits:
        raise ValueError(too_large)
    number = number.quantize(Decimal(1).scaleb(-decimal_places), rounding=ROUND_HALF_UP)
    if number and number.adjusted() >= whole_digits:  # 999999999999.999 rounds up to 13 digits
        raise ValueError(too_large)
    return number


def normalise_date(value: Any) -> date | None:
    """A date from a date, a datetime or an ISO 8601 string; None or "" is None."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            parsed = parse_date(value.strip()) or parse_datetime(value.strip())
        except ValueError:
            parsed = None
        if parsed is not None:
            return parsed.date() if isinstance(parsed, datetime) else parsed
    raise ValueError("Expected an ISO 8601 date, e.g. 2025-03-31.")


def normalise_datetime(value: Any) -> datetime | None:
    """An aware datetime from a datetime, a date or an ISO 8601 string (naive means UTC)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    parsed: datetime | None = None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime.combine(value, time.min)
    elif isinstance(value, str):
        try:
            parsed = parse_datetime(value.strip())
        except ValueError:
            parsed = None
    if parsed is None:
        raise ValueError("Expected an ISO 8601 date-time, e.g. 2025-03-31T14:00:00Z.")
    parsed = parsed if timezone.is_aware(parsed) else parsed.replace(tzinfo=UTC)
    if abs(parsed.utcoffset()) < PG_MAX_OFFSET:
        return parsed
    # Python takes offsets up to ±23:59, PostgreSQL only below ±16:00 (a 500 otherwise): in UTC.
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise ValueError("Expected a date-time within the supported range.") from None


def normalise_string(value: Any, *, max_length: int | None) -> str:
    """Trimmed text; numbers become their text (CRMs send numeric ids); None is ""."""
    text = _text(value)
    if max_length is not None and len(text) > max_length:
        raise ValueError(f"At most {max_length} characters (got {len(text)}).")
    return text


def normalise_choice(value: Any, *, choices: list[str]) -> str:
    """One of ``choices``, compared trimmed and lower-case."""
    text = _text(value).lower()
    if text not in choices:
        shown = ", ".join(repr(c) if c == "" else c for c in choices)
        raise ValueError(f"Must be one of: {shown}.")
    return text


MAX_ID = 2**63 - 1  # ids are 64-bit integers


def normalise_reference(value: Any) -> int | None:
    """The id of another record (its existence in the sub-account is checked by the services)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError("Expected the id (an integer) of a record in this sub-account.")
    text = str(value).strip()
    if not text.isdigit() or not 1 <= int(text) <= MAX_ID:  # beyond a 64-bit id: SQLite overflows
        raise ValueError("Expected the id (an integer) of a record in this sub-account.")
    return int(text)


MAX_RELATED = 500  # ids in one to-many relation (a deal's contacts)


def normalise_references(value: Any) -> list[int]:
    """Ids of other records, ascending and without repeats; None or [] is none."""
    if value is None or value == "":
        return []
    if not isinstance(value, list | tuple):
        raise ValueError("Expected a list of record ids.")
    if len(value) > MAX_RELATED:
        raise ValueError(f"At most {MAX_RELATED} ids.")
    ids = set()
    for item in value:
        pk = normalise_reference(item)
        if pk is None:
            raise ValueError("Expected a list of record ids (integers), without nulls.")
        ids.add(pk)
    return sorted(ids)


def normalise_custom_fields(value: Any) -> dict[str, Any]:
    """An object of custom values in plain JSON form; a value of null means "remove this key"."""
    if not isinstance(value, Mapping):
        raise ValueError("Expected an object of custom field names and values.")
    bad = [
        key for key in value if not isinstance(key, str) or not key.strip() or len(key) > CUSTOM_FIELD_KEY_MAX
    ]
    if bad:
        raise ValueError(
            f"Custom field names must be non-empty strings of at most {CUSTOM_FIELD_KEY_MAX} characters."
        )
    return {key.strip(): _plain_json(item) for key, item in value.items()}


def normalise_attachments(value: Any) -> list[dict[str, Any]]:
    """A list of attachment metadata objects (name, url, size, content type...); None is []."""
    if value is None:
        return []
    if not isinstance(value, list | tuple) or not all(isinstance(item, Mapping) for item in value):
        raise ValueError("Expected a list of attachment objects (metadata such as name, url, size).")
    return [_plain_json(dict(item)) for item in value]


# --- whole records ------------------------------------------------------------------------------

SEMANTIC: dict[str, Callable[..., Any]] = {
    "email": normalise_email,
    "domain": normalise_domain,
    "currency": normalise_currency,
}
PHONE_FIELDS = frozenset({"phone", "mobile_phone"})


def normalise_record(definition: EntityDef, data: Any, *, region: str) -> dict[str, Any]:
    """The canonical form of every field in ``data``, or RecordInvalid listing each bad field.

    Only the fields present are returned (a partial update stays partial). Unknown names are
    errors naming them, so a typo never disappears silently.
    """
    if not isinstance(data, Mapping):
        raise RecordInvalid({"record": "Expected an object of field names and values."})
    allowed = set(definition.fields)
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    for name, value in data.items():
        if name not in allowed:
            errors[str(name)] = f"Unknown {definition.name} field."
            continue
        try:
            clean[name] = normalise_value(definition, name, value, region=region)
        except ValueError as exc:
            errors[name] = str(exc)
    if errors:
        raise RecordInvalid(errors)
    return clean


def normalise_value(definition: EntityDef, name: str, value: Any, *, region: str) -> Any:
    """One field's canonical value, by what the field means first and its column type second."""
    if name in SEMANTIC:
        return SEMANTIC[name](value)
    if name in PHONE_FIELDS:
        return normalise_phone(value, region=region)
    if name == "custom_fields":
        return normalise_custom_fields(value)
    if name in definition.many:
        return normalise_references(value)
    if name in definition.relations:
        return normalise_reference(value)
    field = definition.model._meta.get_field(name)
    if isinstance(field, models.JSONField):
        return normalise_attachments(value)
    if isinstance(field, models.DecimalField):
        return normalise_decimal(value, max_digits=field.max_digits, decimal_places=field.decimal_places)
    if isinstance(field, models.DateTimeField):  # before DateField: it is a subclass
        return normalise_datetime(value)
    if isinstance(field, models.DateField):
        return normalise_date(value)
    if field.choices:
        return normalise_choice(value, choices=[str(choice) for choice, _ in field.flatchoices])
    return normalise_string(value, max_length=field.max_length)


# --- helpers ------------------------------------------------------------------------------------


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise ValueError("Expected a string.")
    return str(value).strip()


def _plain_json(value: Any) -> Any:
    """The value as it reads back from a JSON column, so stored and incoming values compare equal."""
    try:
        return json.loads(json.dumps(value, cls=DjangoJSONEncoder, allow_nan=False))
    except (TypeError, ValueError):
        raise ValueError("Contains a value that cannot be stored as JSON.") from None
