"""The payroll audit the onboarding flow runs on a file a client uploaded to their portal.

The flow calls ``audit_processor().process(filename=..., content=..., content_type=...)`` and
records the ``AuditReport``. The processor is pluggable (``settings.PAYROLL_AUDIT_PROCESSOR``, a
dotted path to a class or factory); the default, ``PayrollAudit``, is deterministic and never
raises on a bad file: it answers ``status="failed"`` with an ``error`` the operator can act on.

``PayrollAudit`` applies these rules, in this order:

1. Size: a file larger than ``settings.PAYROLL_AUDIT_MAX_BYTES`` (25 MB by default) fails
   ("file is larger than 25 MB") without being parsed.
2. Type: CSV (UTF-8, delimiter , ; or tab) or XLSX, by magic bytes, extension and content type
   (``payroll_formats`` says exactly how); anything else fails "unsupported file type: …", and a
   damaged workbook fails "could not read the XLSX file: …".
3. Header: the first non-blank row. Names match case-insensitively, "_" and "-" read as spaces:
   employee id (employee id, emp id, id), name (name, employee name), hours (hours, hours worked),
   rate (rate, hourly rate), gross (gross, gross pay), deductions (deductions, tax; optional),
   net (net, net pay). Without employee id, hours, rate, gross and net the file fails and the
   error names the missing ones; two columns meaning the same thing fail too. A header with no
   rows under it is a completed audit of 0 employees.
4. Per data row (numbered from 1 below the header; blank rows are skipped):
   a. ``duplicate_row``: a row identical in every column to an earlier one (surrounding spaces
      aside) is dropped; the correction names the earlier row.
   b. ``extra_cells``: values beyond the header's last column are dropped (they have no column).
   c. ``missing_employee_id``: an empty employee id is flagged; the row is kept.
   d. ``non_numeric``: hours, rate, gross or net (or deductions, when present and not blank)
      that is not a number is flagged and left as it is (unless rule e recomputes that net).
      Numbers may carry a currency sign, thousands separators ("1,234.50", "1.234,50") or a
      decimal comma ("12,5"); blank deductions count as 0.
   e. ``gross_mismatch``: when gross differs from hours × rate by more than 0.01, gross is set to
      hours × rate rounded to cents (half up), and with a deductions column net is set to
      gross − deductions.
   f. ``negative_net``: a negative net (after e) is flagged "negative net pay, check deductions";
      the row is kept.
5. Result: every kept row is written to a file of the input's format ("march.xlsx" →
   "march.corrected.xlsx") with a last column "Audit notes" holding that row's corrections (an
   "Audit notes" column already in the upload, from an earlier audit, is replaced).
   ``employees_processed`` counts the distinct non-empty employee ids of the kept rows, plus each
   kept row without one.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Protocol

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from sync.onboarding.payroll_formats import Cell, PayrollFile, PayrollFileError, file_stem, payroll_open

DEFAULT_PROCESSOR = "sync.onboarding.payroll_audit.PayrollAudit"
DEFAULT_MAX_BYTES = 25 * 1024 * 1024

NOTES_COLUMN = "Audit notes"
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "employee id": ("employee id", "emp id", "id"),
    "name": ("name", "employee name"),
    "hours": ("hours", "hours worked"),
    "rate": ("rate", "hourly rate"),
    "gross": ("gross", "gross pay"),
    "deductions": ("deductions", "tax"),
    "net": ("net", "net pay"),
}
REQUIRED_COLUMNS = ("employee id", "hours", "rate", "gross", "net")
AMOUNT_COLUMNS = ("hours", "rate", "gross", "net")
TOLERANCE = Decimal("0.01")
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Correction:
    row: int  # 1-based data row in the uploaded file (header excluded)
    rule: str  # "missing_employee_id" | "gross_mismatch" | "negative_net" | "duplicate_row" | ...
    message: str  # human sentence: what was wrong and what was done


@dataclass(frozen=True)
class AuditReport:
    status: str  # "completed" | "failed"
    employees_processed: int = 0  # distinct employees in the file after removing duplicates
    corrections_made: int = 0
    corrections: tuple[Correction, ...] = ()
    corrected_content: bytes = b""
    corrected_filename: str = ""  # e.g. "payroll-march.corrected.xlsx"
    corrected_content_type: str = ""
    error: str = ""  # why it failed (clear, for the operator), "" when completed


class AuditProcessor(Protocol):
    def process(self, *, filename: str, content: bytes, content_type: str = "") -> AuditReport: ...


def audit_processor() -> AuditProcessor:
    """A new processor from ``settings.PAYROLL_AUDIT_PROCESSOR`` (a class or a factory)."""
    path = getattr(settings, "PAYROLL_AUDIT_PROCESSOR", DEFAULT_PROCESSOR)
    try:
        factory = import_string(path)
    except ImportError as exc:
        raise ImproperlyConfigured(f"PAYROLL_AUDIT_PROCESSOR {path!r} cannot be imported: {exc}") from exc
    return factory()


def max_file_bytes() -> int:
    """The largest upload the audit reads (``settings.PAYROLL_AUDIT_MAX_BYTES``)."""
    return int(getattr(settings, "PAYROLL_AUDIT_MAX_BYTES", DEFAULT_MAX_BYTES))


def audit_failed(error: str) -> AuditReport:
    return AuditReport(status="failed", error=error)


def audit_too_large(limit: int) -> AuditReport:
    """The failed audit of a file over ``limit`` bytes (refused unread, here or before downloading)."""
    return audit_failed(f"file is larger than {size_label(limit)}")


class PayrollAudit:
    """The default processor: the rules of this module's docstring."""

    def process(self, *, filename: str, content: bytes, content_type: str = "") -> AuditReport:
        limit = max_file_bytes()
        if len(content) > limit:
            return audit_too_large(limit)
        try:
            payroll = payroll_open(filename=filename, content_type=content_type, content=content)
        except PayrollFileError as exc:
            return audit_failed(str(exc))
        try:
            return payroll_audit(payroll, filename=filename)
        except PayrollFileError as exc:
            return audit_failed(str(exc))
        finally:
            payroll.close()


def payroll_audit(payroll: PayrollFile, *, filename: str) -> AuditReport:
    """Audit the rows of an opened file and write the corrected copy; raises ``PayrollFileError``."""
    rows = payroll.rows()
    header = next((cells for cells in rows if not row_blank(cells)), None)
    if header is None:
        raise PayrollFileError(f"the file has no header row (expected {', '.join(REQUIRED_COLUMNS)})")
    columns = columns_find(header)
    writer = payroll.writer()
    writer.append([*header[: columns.width], NOTES_COLUMN])
    auditor = RowAuditor(columns)
    for number, cells in enumerate(rows, start=1):
        kept = auditor.audit(number, cells)
        if kept is not None:
            writer.append(kept)
    corrections = tuple(auditor.corrections)
    return AuditReport(
        status="completed",
        employees_processed=auditor.employees_processed,
        corrections_made=len(corrections),
        corrections=corrections,
        corrected_content=writer.finish(),
        corrected_filename=f"{file_stem(filename)}.corrected{payroll.extension}",
        corrected_content_type=payroll.content_type,
    )


@dataclass(frozen=True)
class Columns:
    """Where each recognised column sits; ``width`` is the number of header cells kept (trailing
    blanks and a previous audit's notes column excluded)."""

    index: dict[str, int]
    width: int
    had_notes: bool


def columns_find(header: Sequence[Cell]) -> Columns:
    """The header's known columns (rule 3); raises ``PayrollFileError`` naming what is missing."""
    names = [header_name(cell) for cell in header]
    while names and not names[-1]:
        names.pop()
    had_notes = bool(names) and names[-1] == header_name(NOTES_COLUMN)
    if had_notes:
        names.pop()
    alias_to_column = {alias: column for column, aliases in COLUMN_ALIASES.items() for alias in aliases}
    index: dict[str, int] = {}
    for position, name in enumerate(names):
        column = alias_to_column.get(name)
        if column is None:
            continue
        if column in index:
            raise PayrollFileError(
                f"columns {header[index[column]]!s} and {header[position]!s} both mean {column}; keep one"
            )
        index[column] = position
    missing = [column for column in REQUIRED_COLUMNS if column not in index]
    if missing:
        raise PayrollFileError(f"missing required columns: {', '.join(missing)}")
    return Columns(index=index, width=len(names), had_notes=had_notes)


def header_name(cell: Cell) -> str:
    """ "Employee_ID " → "employee id": how header cells are compared with the aliases."""
    text = "" if cell is None else str(cell)
    return " ".join(re.sub(r"[_\-]", " ", text).lower().split())


class RowAuditor:
    """Rule 4 over the data rows, one at a time; keeps the corrections and the employee count.

    Duplicates are found through a 16-byte digest per distinct row, so memory grows with the
    number of rows only by that much.
    """

    def __init__(self, columns: Columns):
        self.columns = columns
        self.first_seen: dict[bytes, int] = {}
        self.employee_ids: set[str] = set()
        self.rows_without_id = 0
        self.corrections: list[Correction] = []

    @property
    def employees_processed(self) -> int:
        return len(self.employee_ids) + self.rows_without_id

    def audit(self, row: int, cells: list[Cell]) -> list[Cell] | None:
        """The row to write (corrected, notes last), or None when it is dropped."""
        if row_blank(cells):
            return None
        cells, extra = self.fit(cells)
        first = self.first_seen.setdefault(row_digest([*cells, *extra]), row)
        if first != row:
            self.corrections.append(
                Correction(row, "duplicate_row", f"Identical to row {first} in every column; dropped.")
            )
            return None
        found: list[Correction] = []
        if extra:
            shown = ", ".join(cell_shown(cell) for cell in extra)
            found.append(Correction(row, "extra_cells", f"Values beyond the last column ({shown}); dropped."))
        found += self.employee_check(row, cells)
        found += amounts_check(row, cells, self.columns)
        self.corrections += found
        return [*cells, " ".join(correction.message for correction in found)]

    def fit(self, cells: list[Cell]) -> tuple[list[Cell], list[Cell]]:
        """The row cut or padded to the header's width, and the non-blank values beyond it (an
        earlier audit's notes column aside)."""
        width = self.columns.width
        beyond = cells[width + 1 :] if self.columns.had_notes else cells[width:]
        fitted = cells[:width] + [None] * (width - len(cells))
        return fitted, [cell for cell in beyond if not cell_blank(cell)]

    def employee_check(self, row: int, cells: list[Cell]) -> Iterator[Correction]:
        employee_id = id_text(cells[self.columns.index["employee id"]])
        if employee_id:
            self.employee_ids.add(employee_id)
            return
        self.rows_without_id += 1
        yield Correction(
            row, "missing_employee_id", "Employee id is missing; row kept, add it before paying."
        )


def amounts_check(row: int, cells: list[Cell], columns: Columns) -> list[Correction]:
    """Rules 4d–4f on one row; corrects gross and net in ``cells`` in place."""
    found: list[Correction] = []
    values: dict[str, Decimal | None] = {}
    for column in AMOUNT_COLUMNS:
        raw = cells[columns.index[column]]
        values[column] = amount(raw)
        if values[column] is None:
            found.append(Correction(row, "non_numeric", not_a_number(column, raw)))
    deductions: Decimal | None = None
    has_deductions = "deductions" in columns.index
    if has_deductions:
        raw = cells[columns.index["deductions"]]
        deductions = Decimal(0) if cell_blank(raw) else amount(raw)
        if deductions is None:
            found.append(Correction(row, "non_numeric", not_a_number("deductions", raw)))
    hours, rate, gross = values["hours"], values["rate"], values["gross"]
    if hours is not None and rate is not None and gross is not None and abs(gross - hours * rate) > TOLERANCE:
        new_gross = cents(hours * rate)
        cells[columns.index["gross"]] = new_gross
        message = f"Gross {gross:f} is not hours {hours:f} × rate {rate:f}; gross set to {new_gross}"
        if deductions is not None:
            new_net = cents(new_gross - deductions)
            cells[columns.index["net"]] = new_net
            values["net"] = new_net
            message += f" and net to {new_net} (gross − deductions {cents(deductions)})."
        elif has_deductions:
            message += ", net left as it is (deductions is not a number)."
        else:
            message += ", net left as it is (no deductions column)."
        found.append(Correction(row, "gross_mismatch", message))
    net = values["net"]
    if net is not None and net < 0:
        found.append(
            Correction(
                row, "negative_net", f"Net is {cents(net)}: negative net pay, check deductions. Row kept."
            )
        )
    return found


def not_a_number(column: str, raw: Cell) -> str:
    if cell_blank(raw):
        return f"{column.capitalize()} is empty; fill it in."
    return f"{column.capitalize()} {cell_shown(raw)} is not a number; check it."


_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")
_COMMA_THOUSANDS = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?")
_DOT_THOUSANDS = re.compile(r"[+-]?\d{1,3}(\.\d{3})+,\d+")
_DECIMAL_COMMA = re.compile(r"[+-]?\d+,\d{1,2}")
_CURRENCY = "$€£"


def amount(value: Cell) -> Decimal | None:
    """A cell as a finite number (rule 4d's forms), or None when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, Decimal | int):
        return Decimal(value)
    if isinstance(value, float):
        number = Decimal(repr(value))  # 12.3 → Decimal("12.3"), not its binary expansion
        return number if number.is_finite() else None
    if not isinstance(value, str):
        return None  # dates, empty cells
    text = "".join(value.split()).strip(_CURRENCY)  # split() also drops no-break spaces
    sign = ""
    if text.startswith(("+", "-")):  # "-$12.50" and "$-12.50" alike
        sign, text = text[0], text[1:].lstrip(_CURRENCY)
    if _COMMA_THOUSANDS.fullmatch(text):
        text = text.replace(",", "")
    elif _DOT_THOUSANDS.fullmatch(text):
        text = text.replace(".", "").replace(",", ".")
    elif _DECIMAL_COMMA.fullmatch(text):
        text = text.replace(",", ".")
    if not _PLAIN_NUMBER.fullmatch(text):
        return None
    try:
        return Decimal(sign + text)
    except InvalidOperation:
        return None


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def id_text(value: Cell) -> str:
    """An employee id as text: 1001.0 from a spreadsheet reads as "1001"."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def cell_blank(value: Cell) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def row_blank(cells: Sequence[Cell]) -> bool:
    return all(cell_blank(cell) for cell in cells)


def cell_shown(value: Cell) -> str:
    text = str(value)
    return repr(text if len(text) <= 40 else text[:37] + "...")


def row_digest(cells: Sequence[Cell]) -> bytes:
    """A row's identity for rule 4a: blanks equal, text stripped, 40.0 equal to 40."""
    normal = []
    for cell in cells:
        if cell_blank(cell):
            normal.append("")
        elif isinstance(cell, str):
            normal.append(cell.strip())
        elif isinstance(cell, float) and cell.is_integer():
            normal.append(int(cell))
        else:
            normal.append(cell)
    return hashlib.blake2b(repr(normal).encode(), digest_size=16).digest()


def size_label(size: int) -> str:
    """25 * 1024 * 1024 → "25 MB"; 1536 → "1.5 KB"."""
    for unit, scale in (("MB", 1024 * 1024), ("KB", 1024)):
        if size >= scale:
            return f"{round(size / scale, 1):g} {unit}"
    return f"{size} bytes"
