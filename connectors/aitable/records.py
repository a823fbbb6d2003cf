"""AITable records ↔ ``RemoteRecord``, formulas, and the pull cursor's state (providers.md §4).

Records come as ``{"recordId", "fields": {column name: value}, "createdAt", "updatedAt"}`` with times
in epoch milliseconds and empty cells left out. AITable has no modified-since filter and lists no
deletions, so a pull reads every page: the cursor keeps the newest ``updatedAt`` seen (the
watermark) and the ids that were live, so the next pull yields what changed since (minus an overlap)
and tombstones for the ids that are gone.
"""

from __future__ import annotations

import base64
import zlib
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from connectors.base import RELATIONS_KEY, RemoteRecord


def from_ms(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value) / 1000, tz=UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def to_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def to_record(raw: Mapping[str, Any]) -> RemoteRecord:
    """A record as the engine sees it: fields keyed by column name, ``modified_at`` from ``updatedAt``."""
    return RemoteRecord(
        id=str(raw.get("recordId") or ""),
        modified_at=from_ms(raw.get("updatedAt")),
        fields=dict(raw.get("fields") or {}),
    )


def tombstone(record_id: str) -> RemoteRecord:
    return RemoteRecord(id=record_id, modified_at=None, fields={}, deleted=True)


def cells(fields: Mapping[str, Any], *, creating: bool) -> dict[str, Any]:
    """The cells a write sends: synthetic keys (``_relations``, ``_kind``) left out; on a create
    empty values too (AITable leaves missing cells empty; an update sends None to clear one)."""
    sent = {
        name: value for name, value in fields.items() if name != RELATIONS_KEY and not name.startswith("_")
    }
    if creating:
        sent = {name: value for name, value in sent.items() if value not in (None, "")}
    return sent


# --- formulas -------------------------------------------------------------------------------------


def formula_string(value: str) -> str:
    """``value`` as a double-quoted formula string: backslashes and double quotes escaped."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def formula_column(column: str) -> str:
    """``{Column}``, with a closing brace or backslash in the name escaped."""
    return "{" + column.replace("\\", "\\\\").replace("}", "\\}") + "}"


def equals_formula(column: str, value: str) -> str:
    """``{Column}="value"``: the rows whose cell equals ``value`` exactly."""
    return f"{formula_column(column)}={formula_string(value)}"


# --- pull cursor ----------------------------------------------------------------------------------


def pack_ids(ids: Iterable[str]) -> str:
    """The live ids as one compact string (deflated, base64): 10,000 ids take some 100 kB."""
    return base64.b64encode(zlib.compress(" ".join(sorted(ids)).encode(), 9)).decode()


def unpack_ids(packed: Any) -> set[str] | None:
    """The ids ``pack_ids`` wrote; None when there are none or they cannot be read (then no
    deletions are inferred: the id diff simply starts over)."""
    if not isinstance(packed, str) or not packed:
        return None
    try:
        text = zlib.decompress(base64.b64decode(packed, validate=True)).decode()
    except (ValueError, zlib.error):
        return None
    return set(text.split())
