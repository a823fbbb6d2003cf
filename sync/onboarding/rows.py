"""Rows the flow writes into the user's tables, shaped by the columns the table really has.

Columns are the user's: a link column takes a list of row ids, a date column epoch milliseconds, a
number column a number. A configured column the table does not have is left out rather than sent
(the provider would refuse the whole row for it).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from connectors.base import RemoteField
from connectors.capabilities import TableStore


class TableColumns:
    """A table's columns by name, read once per table for the life of this object."""

    def __init__(self, store: TableStore):
        self.store = store
        self._tables: dict[str, dict[str, RemoteField]] = {}

    def of(self, table_id: str) -> dict[str, RemoteField]:
        if table_id not in self._tables:
            self._tables[table_id] = {f.name: f for f in self.store.table_fields(table_id)}
        return self._tables[table_id]


def row_cells(columns: Mapping[str, RemoteField], values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` (column name → value) as the table's cells; unknown and read-only columns dropped."""
    cells: dict[str, Any] = {}
    for name, value in values.items():
        column = columns.get(name)
        if not name or column is None or column.read_only or value is None or value == "":
            continue
        cells[name] = _cell(column, value)
    return cells


def _cell(column: RemoteField, value: Any) -> Any:
    if column.type == "reference":
        return [value] if isinstance(value, str) else list(value)
    if column.type in ("date", "datetime") and isinstance(value, datetime):
        return int(value.timestamp() * 1000) if column.format in ("", "epoch_ms") else value.isoformat()
    if column.type == "number":
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    return value if isinstance(value, int | float | bool) else str(value)
