"""Rows of the emulated datasheets: how the API shows them, how it queries them, and the all-or-nothing
writes (providers.md §4 "Objects & endpoints", "Batch writes").

A row is a ``SandboxRecord`` whose ``object_type`` is its datasheet's ``dst…`` id and whose ``data``
maps field id → stored cell (see ``cells``). A write of up to 10 records either applies entirely or
fails with one message naming the record's index and the column, as AITable validates a whole request
before touching anything.

Settings: ``max_write_records`` (10), ``max_page_size`` (1000), ``select_unknown_option``
(``"add"``, or ``"error"`` to refuse options a column does not have).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from connectors.aitable.emulator.cells import CellError, cell_read, cell_text, cell_write, epoch_ms
from connectors.aitable.emulator.formula import FormulaError, formula_match, formula_parse
from connectors.aitable.emulator.limits import AITableLimits
from connectors.aitable.emulator.schema import (
    ACTIVITIES_ID,
    COMPANIES_ID,
    DEALS_ID,
    LEADS_ID,
    new_id,
)
from connectors.sandbox.emulator import now_ms, sample_phone
from connectors.sandbox.models import SandboxRecord

MAX_WRITE_RECORDS = 10
MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 100
_FIRST = ("Ava", "Liam", "Maya", "Noah", "Zoe", "Ethan", "Iris", "Omar", "Lena", "Hugo", "Nora", "Ravi")
_LAST = ("Patel", "Okafor", "Schmidt", "Moreau", "Tanaka", "Silva", "Novak", "Berg", "Walsh", "Costa")
_COMPANIES = ("Acme Payroll", "Northwind", "Globex", "Initech", "Umbrella HR", "Stark Staffing")
# Seeded leads are mostly fresh: New and Contacted, every fifth Qualified.
_STATUSES = ("New", "Contacted", "New", "Contacted", "Qualified")
SAMPLE_DAY_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z, the base of sample dates
DAY_MS = 86_400_000
# Entity → the datasheet the emulator's integration config (``connect``) gives it.
ENTITY_DATASHEETS = {
    "contact": LEADS_ID,
    "company": COMPANIES_ID,
    "deal": DEALS_ID,
    "activity": ACTIVITIES_ID,
}


class RequestError(ValueError):
    """A request AITable answers with an HTTP-200 error envelope: ``code`` and message."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code


@dataclass
class Query:
    """GET …/records parameters, already parsed."""

    page_size: int = DEFAULT_PAGE_SIZE
    page_num: int = 1
    max_records: int | None = None
    fields: list[str] | None = None
    record_ids: list[str] | None = None
    formula: str = ""
    sort: list[tuple[str, str]] | None = None
    as_string: bool = False
    field_key: str = "name"


class AITableRecords(AITableLimits):
    """Row reads and writes against one datasheet."""

    def max_write_records(self) -> int:
        return int(self.setting("max_write_records", MAX_WRITE_RECORDS))

    def max_page_size(self) -> int:
        return int(self.setting("max_page_size", MAX_PAGE_SIZE))

    def rows(self, sheet: SandboxRecord):
        return self.records(sheet.remote_id).order_by("id")

    # --- showing rows -------------------------------------------------------------------------

    def record_body(
        self,
        sheet: SandboxRecord,
        row: SandboxRecord,
        *,
        field_key: str = "name",
        as_string: bool = False,
        only: set[str] | None = None,
    ) -> dict[str, Any]:
        """A row as AITable shows it: empty cells omitted, times in epoch ms."""
        cells = {}
        for field in sheet.data["fields"]:
            if only is not None and field["id"] not in only:
                continue
            value = cell_read(field, row, as_string=as_string, titles=self.link_titles)
            if value is not None:
                cells[field["id"] if field_key == "id" else field["name"]] = value
        return {
            "recordId": row.remote_id,
            "fields": cells,
            "createdAt": epoch_ms(row.created_at),
            "updatedAt": epoch_ms(row.updated_at),
        }

    def link_titles(self, dst_id: str, ids: list[str]) -> list[str]:
        """Linked rows' primary cells, in the link's order (for ``cellFormat=string``)."""
        sheet = self.datasheet(dst_id)
        if sheet is None:
            return []
        primary = next(f for f in sheet.data["fields"] if f.get("isPrimary"))
        found = {r.remote_id: r for r in self.records(dst_id).filter(remote_id__in=ids)}
        return [cell_text(found[i].data.get(primary["id"])) for i in ids if i in found]

    def link_missing(self, dst_id: str, ids: list[str]) -> list[str]:
        present = set(self.records(dst_id).filter(remote_id__in=ids).values_list("remote_id", flat=True))
        return [i for i in ids if i not in present]

    # --- querying -------------------------------------------------------------------------------

    def query_run(self, sheet: SandboxRecord, query: Query) -> dict[str, Any]:
        """The ``data`` of GET …/records: one page of matching rows and the total."""
        only = None
        if query.fields is not None:
            only = set()
            for key in query.fields:
                field = self.field_by_key(sheet, key, query.field_key)
                if field is None:
                    raise RequestError(400, f"The field [{key}] in fields does not exist")
                only.add(field["id"])
        if query.record_ids is not None:
            found = {r.remote_id: r for r in self.rows(sheet).filter(remote_id__in=query.record_ids)}
            rows = [found[i] for i in dict.fromkeys(query.record_ids) if i in found]
            page = rows
        else:
            rows = self._filtered(sheet, query)
            if query.max_records is not None:
                rows = rows[: query.max_records]
            start = (query.page_num - 1) * query.page_size
            page = rows[start : start + query.page_size]
        return {
            "total": len(rows),
            "pageNum": query.page_num,
            "pageSize": len(page),
            "records": [
                self.record_body(sheet, r, field_key=query.field_key, as_string=query.as_string, only=only)
                for r in page
            ],
        }

    def _filtered(self, sheet: SandboxRecord, query: Query) -> list[SandboxRecord]:
        rows = list(self.rows(sheet))
        if query.formula:
            try:
                tree = formula_parse(query.formula, lambda ref: self.field_by_ref(sheet, ref) is not None)
            except FormulaError as exc:
                raise RequestError(400, f"The filterByFormula is invalid: {exc}") from exc
            rows = [r for r in rows if formula_match(tree, lambda ref, r=r: self._cell(sheet, r, ref))]
        for key, order in reversed(query.sort or []):
            field = self.field_by_key(sheet, key, query.field_key) or self.field_by_ref(sheet, key)
            if field is None:
                raise RequestError(400, f"The sort field [{key}] does not exist")
            present = [r for r in rows if self._cell(sheet, r, field["id"]) is not None]
            blank = [r for r in rows if self._cell(sheet, r, field["id"]) is None]
            present.sort(
                key=lambda r, f=field: _sort_key(self._cell(sheet, r, f["id"])), reverse=order == "desc"
            )
            rows = present + blank
        return rows

    def _cell(self, sheet: SandboxRecord, row: SandboxRecord, ref: str) -> Any:
        field = self.field_by_ref(sheet, ref)
        return cell_read(field, row, as_string=False, titles=self.link_titles) if field else None

    # --- writing --------------------------------------------------------------------------------

    def _check_batch(self, items: Any) -> list[Any]:
        if not isinstance(items, list) or not items:
            raise RequestError(400, "records is required and must be a non-empty array")
        if len(items) > self.max_write_records():
            raise RequestError(
                400, f"The number of records in one request cannot exceed {self.max_write_records()}"
            )
        return items

    def _cells(self, sheet: SandboxRecord, index: int, given: Any, field_key: str) -> dict[str, Any]:
        """One record's ``fields`` → {field id: stored value or None}; raises RequestError naming
        the record index and column."""
        if not isinstance(given, dict):
            raise RequestError(400, f"records[{index}].fields must be an object")
        add = self.setting("select_unknown_option", "add") == "add"
        out: dict[str, Any] = {}
        for key, value in given.items():
            field = self.field_by_key(sheet, key, field_key)
            if field is None:
                raise RequestError(400, f"records[{index}].fields: the field [{key}] does not exist")
            try:
                out[field["id"]] = cell_write(field, value, link_exists=self.link_missing, add_options=add)
            except CellError as exc:
                raise RequestError(400, f"records[{index}].fields[{key}]: {exc}") from exc
        return out

    def records_create(
        self, sheet: SandboxRecord, items: Any, field_key: str = "name"
    ) -> list[SandboxRecord]:
        """Create rows from ``[{"fields": {...}}]``, all or none."""
        batch = self._check_batch(items)
        cells = [
            self._cells(sheet, i, item.get("fields") if isinstance(item, dict) else None, field_key)
            for i, item in enumerate(batch)
        ]
        now = now_ms()
        with transaction.atomic():
            sheet.save(update_fields=["data"])  # options added on the way
            return [
                SandboxRecord.objects.create(
                    provider=self.provider,
                    object_type=sheet.remote_id,
                    remote_id=new_id("rec", 10),
                    data={k: v for k, v in c.items() if v is not None},
                    created_at=now,
                    updated_at=now,
                )
                for c in cells
            ]

    def records_update(
        self, sheet: SandboxRecord, items: Any, field_key: str = "name"
    ) -> list[SandboxRecord]:
        """Change only the given cells of ``[{"recordId", "fields"}]`` (None clears), all or none."""
        batch = self._check_batch(items)
        ids = [item.get("recordId") if isinstance(item, dict) else None for item in batch]
        found = {r.remote_id: r for r in self.rows(sheet).filter(remote_id__in=[i for i in ids if i])}
        changes = []
        for index, (record_id, item) in enumerate(zip(ids, batch, strict=True)):
            if record_id not in found:
                raise RequestError(400, f"records[{index}]: the record [{record_id}] does not exist")
            changes.append((found[record_id], self._cells(sheet, index, item.get("fields"), field_key)))
        now = now_ms()
        with transaction.atomic():
            sheet.save(update_fields=["data"])
            for row, cells in changes:
                merged = {**row.data, **cells}
                row.data = {k: v for k, v in merged.items() if v is not None}
                row.updated_at = now
                row.save(update_fields=["data", "updated_at"])
        return [row for row, _ in changes]

    def records_delete(self, sheet: SandboxRecord, ids: list[str]) -> list[str]:
        """Delete rows by id, all or none; links to them in other rows are dropped as AITable does."""
        self._check_batch(ids)
        rows = self.rows(sheet).filter(remote_id__in=ids)
        missing = set(ids) - set(rows.values_list("remote_id", flat=True))
        if missing:
            raise RequestError(400, f"The record(s) {', '.join(sorted(missing))} do not exist")
        with transaction.atomic():
            rows.delete()
            self._unlink(sheet.remote_id, set(ids))
        return list(dict.fromkeys(ids))

    def _unlink(self, dst_id: str, gone: set[str]) -> None:
        for other in self.datasheets():
            links = [
                f["id"]
                for f in other.data["fields"]
                if f.get("property") and (f["property"] or {}).get("foreignDatasheetId") == dst_id
            ]
            if not links:
                continue
            for row in self.rows(other):
                changed = False
                for link in links:
                    kept = [i for i in row.data.get(link, []) if i not in gone]
                    if kept != row.data.get(link, []):
                        changed = True
                        row.data = (
                            {**row.data, link: kept}
                            if kept
                            else {k: v for k, v in row.data.items() if k != link}
                        )
                if changed:
                    row.save(update_fields=["data"])

    # --- contract samples ------------------------------------------------------------------------

    def sample_record(self, entity: str, i: int) -> dict[str, Any]:
        """A create payload in the default datasheets' column names (what ``mappings.py`` maps)."""
        if entity == "contact":
            return {
                "Client Name": f"Sample{i} Person",
                "Email": f"sample{i}@example.com",
                "Phone": sample_phone(i),
                "Company": f"Sample Co {i}",
                "Status": "New",
            }
        if entity == "company":
            return {
                "Name": f"Sample Co {i}",
                "Website": f"https://sample{i}.example.com",
                "Phone": sample_phone(i),
                "Industry": "Software",
            }
        if entity == "deal":
            return {
                "Deal": f"Sample deal {i}",
                "Amount": 1000 + i,
                "Stage": "Qualified",
                "Close Date": SAMPLE_DAY_MS + (i % 365) * DAY_MS,
            }
        if entity == "activity":
            return {
                "Subject": f"Sample task {i}",
                "Notes": f"Follow up on sample {i}",
                "Status": "Open",
                "Due Date": SAMPLE_DAY_MS + (i % 365) * DAY_MS,
                "Kind": "task",
            }
        raise ValueError(f"aitable has no {entity!r} datasheet")

    def invalid_record(self, entity: str) -> dict[str, Any]:
        """A record AITable refuses with code 400: it writes a column its datasheet does not have."""
        return {**self.sample_record(entity, 999_999), "No Such Column": "x"}

    # --- seeding --------------------------------------------------------------------------------

    def seed(self, object_type: str, count: int, request: Any) -> int:
        """``count`` leads (distinct names, e-mails, valid phones; mixed statuses) in the Leads
        datasheet: ``object`` is ``leads`` or the Leads ``dst…`` id."""
        if object_type not in {"leads", "Leads", LEADS_ID, ""}:
            raise ValueError(f"aitable emulator seeds only leads, not {object_type!r}")
        sheet = self.datasheet(LEADS_ID)
        if sheet is None:
            raise ValueError("the Leads datasheet was deleted")
        start = self.records(LEADS_ID).count()
        rng = random.Random(start)  # noqa: S311 (sample data)
        now = now_ms()
        rows = []
        for n in range(start, start + count):
            first, last = _FIRST[n % len(_FIRST)], _LAST[(n // len(_FIRST)) % len(_LAST)]
            rows.append(
                SandboxRecord(
                    provider=self.provider,
                    object_type=LEADS_ID,
                    remote_id=new_id("rec", 10),
                    data={
                        "fldLeadName001": f"{first} {last} {n + 1}",
                        "fldLeadEmail01": f"{first.lower()}.{last.lower()}{n + 1}@example.com",
                        "fldLeadPhone01": sample_phone(n),
                        "fldLeadCompany": rng.choice(_COMPANIES),
                        "fldLeadStatus1": _STATUSES[n % len(_STATUSES)],
                    },
                    created_at=now,
                    updated_at=now,
                )
            )
        SandboxRecord.objects.bulk_create(rows, batch_size=1000)
        return len(rows)


def _sort_key(value: Any) -> Any:
    if isinstance(value, bool):
        return (0, int(value), "")
    if isinstance(value, int | float):
        return (0, value, "")
    return (1, 0, cell_text(value).lower())
