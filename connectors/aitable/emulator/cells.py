"""Cell values per column type: what a write may put in a cell, and how a read shows it.

A row stores its cells by field id in AITable's JSON form: strings for the text types, numbers,
the option *name* for selects, epoch ms for dates, ``true`` for a ticked checkbox, a list of ``rec…``
ids for links. Reads omit empty cells (providers.md §4); ``cellFormat=string`` turns every value into
the text the grid shows. Created/last-edited time columns come from the row's own timestamps.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.utils.dateparse import parse_date, parse_datetime

from connectors.aitable.emulator.schema import LINK_TYPES, READ_ONLY_TYPES, select_option
from connectors.sandbox.models import SandboxRecord

TEXT_TYPES = frozenset({"SingleText", "Text", "Email", "Phone", "URL"})
NUMBER_TYPES = frozenset({"Number", "Currency", "Percent", "Rating"})


class CellError(ValueError):
    """A value a column cannot take; the message says why (the caller adds where)."""


def is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value is False


def cell_write(field: dict[str, Any], value: Any, *, link_exists: Any, add_options: bool) -> Any:
    """The value to store for ``value`` written to ``field`` (None: clear the cell).

    ``link_exists(dst_id, ids)`` answers which linked ids are missing; with ``add_options`` an
    unknown select option is added to the column (AITable stopped checking options, see
    ``single.select.field.ts``), else it is refused. Raises CellError."""
    kind = field["type"]
    if kind in READ_ONLY_TYPES:
        raise CellError("the field is computed and cannot be written")
    if value is None:
        return None
    if kind in TEXT_TYPES:
        if kind == "URL" and isinstance(value, dict) and isinstance(value.get("text"), str):
            value = value["text"]
        if not isinstance(value, str):
            raise CellError(f"a {kind} field takes a string, not {type(value).__name__}")
        return value or None
    if kind in NUMBER_TYPES:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise CellError(f"a {kind} field takes a number, not {type(value).__name__}")
        return value
    if kind == "Checkbox":
        if not isinstance(value, bool):
            raise CellError("a Checkbox field takes true or false")
        return value or None
    if kind == "DateTime":
        return _timestamp(value)
    if kind == "SingleSelect":
        if not isinstance(value, str):
            raise CellError("a SingleSelect field takes the option's name as a string")
        return _option(field, value, add_options) if value else None
    if kind == "MultiSelect":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise CellError("a MultiSelect field takes a list of option names")
        return [_option(field, v, add_options) for v in value] or None
    if kind in LINK_TYPES:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise CellError("a link field takes a list of record ids")
        missing = link_exists(field["property"]["foreignDatasheetId"], value)
        if missing:
            raise CellError(f"linked record(s) {', '.join(missing)} do not exist")
        return list(dict.fromkeys(value)) or None
    raise CellError(f"the {kind} field type is not supported by the API")


def _timestamp(value: Any) -> int:
    if isinstance(value, bool):
        raise CellError("a DateTime field takes a timestamp in milliseconds or a date string")
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, str):
        parsed = parse_datetime(value)
        if parsed is None and parse_date(value) is not None:
            parsed = datetime.combine(parse_date(value), datetime.min.time())
        if parsed is not None:
            parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
            return int(parsed.timestamp() * 1000)
    raise CellError("a DateTime field takes a timestamp in milliseconds or a date string")


def _option(field: dict[str, Any], name: str, add_options: bool) -> str:
    options = field["property"]["options"]
    if any(o["name"] == name for o in options):
        return name
    if not add_options:
        raise CellError(f"option [{name}] does not exist")
    options.append(select_option(name, len(options)))  # the caller saves the datasheet
    return name


def cell_read(field: dict[str, Any], row: SandboxRecord, *, as_string: bool, titles: Any) -> Any:
    """The cell as the API shows it, or None when empty (then omitted). ``titles(dst_id, ids)``
    gives linked rows' primary values for ``cellFormat=string``."""
    kind = field["type"]
    if kind == "CreatedTime":
        value: Any = epoch_ms(row.created_at)
    elif kind == "LastModifiedTime":
        value = epoch_ms(row.updated_at)
    else:
        value = row.data.get(field["id"])
    if is_empty(value):
        return None
    if not as_string:
        return value
    if kind in {"DateTime", "CreatedTime", "LastModifiedTime"}:
        moment = datetime.fromtimestamp(value / 1000, tz=UTC)
        return moment.strftime("%Y/%m/%d %H:%M" if field["property"].get("includeTime") else "%Y/%m/%d")
    if kind in LINK_TYPES:
        return ", ".join(titles(field["property"]["foreignDatasheetId"], value))
    if kind == "Checkbox":
        return "1"
    if kind == "Percent":
        return f"{value * 100:g}%"
    if kind == "Currency":
        return f"{field['property'].get('symbol', '')}{value:g}"
    return cell_text(value)


def cell_text(value: Any) -> str:
    """A stored value as plain text (how formulas compare cells with strings)."""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, bool):
        return "1" if value else ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value)


def epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)
