"""The payroll files clients upload, CSV or XLSX, read and written one row at a time.

The audit (``payroll_audit.py``) sees a file as a stream of rows of cell values and writes its
corrected copy through a writer of the same format, so a large workbook never sits in memory as a
whole: openpyxl ``read_only`` in, ``write_only`` out, no pandas.

Which format a file is (``payroll_open``):

1. A file name with an extension other than .csv / .tsv / .txt / .xlsx is unsupported.
2. Content that starts with the zip signature ``PK\\x03\\x04`` is read as XLSX, whatever the
   name says (an XLSX workbook is a zip; a workbook renamed .csv is still a workbook).
3. Otherwise the extension decides; with none, the content type does (the XLSX type, or
   text/csv, application/csv, text/plain, text/tab-separated-values).
4. Anything else is unsupported.

CSV is UTF-8 (a byte-order mark is allowed and kept in the copy); its delimiter is sniffed
among comma, semicolon and tab. XLSX is read from the first worksheet, formulas as their cached
values.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from pathlib import PurePosixPath
from typing import Any, Protocol

from openpyxl import Workbook, load_workbook

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
ZIP_MAGIC = b"PK\x03\x04"
CSV_EXTENSIONS = frozenset({".csv", ".tsv", ".txt"})
CSV_CONTENT_TYPES = frozenset(
    {"text/csv", "application/csv", "text/plain", "text/tab-separated-values", "text/x-csv"}
)
DELIMITERS = ",;\t"
SNIFF_CHARS = 64 * 1024

Cell = Any  # str from CSV; str, int, float, datetime or None from XLSX


class PayrollFileError(Exception):
    """The file cannot be read; the message tells the operator why."""


class RowWriter(Protocol):
    def append(self, cells: Sequence[Cell]) -> None: ...

    def finish(self) -> bytes: ...


class PayrollFile(Protocol):
    """An uploaded payroll file: its rows, and a writer for a copy in the same format."""

    kind: str  # "csv" | "xlsx"
    extension: str
    content_type: str

    def rows(self) -> Iterator[list[Cell]]: ...

    def writer(self) -> RowWriter: ...

    def close(self) -> None: ...


def payroll_open(*, filename: str, content_type: str, content: bytes) -> PayrollFile:
    """The reader for this upload (rules in the module docstring); raises ``PayrollFileError``
    "unsupported file type: …" for anything that is neither CSV nor XLSX."""
    extension = file_extension(filename)
    media_type = content_type.split(";", 1)[0].strip().lower()
    if extension and extension not in CSV_EXTENSIONS | {".xlsx"}:
        raise PayrollFileError(f"unsupported file type: {extension} (upload a .csv or .xlsx file)")
    if content.startswith(ZIP_MAGIC) or extension == ".xlsx":
        return XlsxFile(content)
    if not extension and media_type == XLSX_CONTENT_TYPE:
        return XlsxFile(content)
    if extension in CSV_EXTENSIONS or (not extension and media_type in CSV_CONTENT_TYPES):
        return CsvFile(content)
    shown = media_type or "no extension and no content type"
    raise PayrollFileError(f"unsupported file type: {shown} (upload a .csv or .xlsx file)")


def file_extension(filename: str) -> str:
    """The lower-case extension of the name's last path part (browsers may send a full path)."""
    return PurePosixPath(filename.replace("\\", "/")).suffix.lower()


def file_stem(filename: str) -> str:
    """The name without folders and extension: "C:\\fakepath\\march.csv" → "march"."""
    return PurePosixPath(filename.replace("\\", "/")).stem or "payroll"


class CsvFile:
    """A UTF-8 CSV whose copy keeps its delimiter and byte-order mark."""

    kind = "csv"
    extension = ".csv"
    content_type = CSV_CONTENT_TYPE

    def __init__(self, content: bytes):
        self.bom = content.startswith(b"\xef\xbb\xbf")
        try:
            self.text = content.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise PayrollFileError(
                f"could not read the CSV file: it is not UTF-8 text (byte {exc.start}); save it as CSV UTF-8"
            ) from exc
        self.delimiter = sniff_delimiter(self.text)

    def rows(self) -> Iterator[list[Cell]]:
        reader = csv.reader(io.StringIO(self.text, newline=""), delimiter=self.delimiter)
        try:
            yield from reader
        except csv.Error as exc:
            raise PayrollFileError(f"could not read the CSV file: line {reader.line_num}: {exc}") from exc

    def writer(self) -> RowWriter:
        return CsvWriter(delimiter=self.delimiter, bom=self.bom)

    def close(self) -> None:
        self.text = ""


def sniff_delimiter(text: str) -> str:
    """Comma, semicolon or tab: what ``csv.Sniffer`` finds in the first 64 KB, else the one of
    the three that the first line holds most of (comma on a tie)."""
    sample = text[:SNIFF_CHARS]
    if len(text) > SNIFF_CHARS and "\n" in sample:
        sample = sample[: sample.rindex("\n")]  # whole lines only
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        first_line = sample.split("\n", 1)[0]
        return max(DELIMITERS, key=first_line.count)


class CsvWriter:
    def __init__(self, *, delimiter: str, bom: bool):
        self.bom = bom
        self.buffer = io.StringIO()
        self.writer = csv.writer(self.buffer, delimiter=delimiter)

    def append(self, cells: Sequence[Cell]) -> None:
        self.writer.writerow(["" if cell is None else cell for cell in cells])

    def finish(self) -> bytes:
        return self.buffer.getvalue().encode("utf-8-sig" if self.bom else "utf-8")


class XlsxFile:
    """An XLSX workbook, streamed from its first worksheet.

    openpyxl parses lazily, so a damaged file can fail at open or at any row; every such failure
    becomes ``PayrollFileError("could not read the XLSX file: …")``.
    """

    kind = "xlsx"
    extension = ".xlsx"
    content_type = XLSX_CONTENT_TYPE

    def __init__(self, content: bytes):
        self.sheet_title = "Payroll"
        try:
            self.workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        # A third-party parser fed untrusted bytes fails in many ways (BadZipFile, KeyError for
        # a missing part, XML errors, ValueError...); all of them mean "this file is damaged".
        except Exception as exc:
            raise PayrollFileError(f"could not read the XLSX file: {describe(exc)}") from exc

    def rows(self) -> Iterator[list[Cell]]:
        if not self.workbook.worksheets:
            raise PayrollFileError("could not read the XLSX file: it has no worksheet")
        sheet = self.workbook.worksheets[0]
        self.sheet_title = sheet.title
        source = sheet.iter_rows(values_only=True)
        while True:
            try:
                row = next(source)
            except StopIteration:
                return
            except Exception as exc:  # as in __init__: a damaged sheet
                raise PayrollFileError(f"could not read the XLSX file: {describe(exc)}") from exc
            yield list(row)

    def writer(self) -> RowWriter:
        return XlsxWriter(sheet_title=self.sheet_title)

    def close(self) -> None:
        self.workbook.close()


class XlsxWriter:
    def __init__(self, *, sheet_title: str):
        self.workbook = Workbook(write_only=True)
        self.sheet = self.workbook.create_sheet(title=sheet_title)

    def append(self, cells: Sequence[Cell]) -> None:
        self.sheet.append(list(cells))

    def finish(self) -> bytes:
        out = io.BytesIO()
        self.workbook.save(out)
        return out.getvalue()


def describe(exc: Exception) -> str:
    """The exception as a short phrase for the operator: its message, or its type's name."""
    text = str(exc).strip().strip("'\"")
    return text or type(exc).__name__
