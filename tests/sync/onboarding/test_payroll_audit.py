"""The payroll audit: each rule, both formats read back after correction, failures the operator
can act on, the pluggable processor and a 10,000-row workbook. No database needed."""

import csv
import io
import time
import zipfile
from decimal import Decimal

import pytest
from django.core.exceptions import ImproperlyConfigured
from openpyxl import Workbook, load_workbook

from sync.onboarding.payroll_audit import (
    AuditReport,
    Correction,
    PayrollAudit,
    amount,
    audit_processor,
    max_file_bytes,
)
from sync.onboarding.payroll_formats import XLSX_CONTENT_TYPE

HEADER = ["Employee ID", "Name", "Hours", "Rate", "Gross", "Deductions", "Net"]


def csv_bytes(rows, *, delimiter=",", bom=False):
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter).writerows(rows)
    return out.getvalue().encode("utf-8-sig" if bom else "utf-8")


def csv_rows(content):
    text = content.decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text, newline="")))


def xlsx_bytes(rows, *, title="March"):
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def xlsx_rows(content):
    workbook = load_workbook(io.BytesIO(content), read_only=True)
    try:
        sheet = workbook.worksheets[0]
        return sheet.title, [list(row) for row in sheet.iter_rows(values_only=True)]
    finally:
        workbook.close()


def audit_csv(rows, **kwargs):
    return PayrollAudit().process(filename="payroll-march.csv", content=csv_bytes(rows), **kwargs)


def rules(report):
    return [(c.row, c.rule) for c in report.corrections]


# --- rules -------------------------------------------------------------------------------------


def test_gross_mismatch_sets_gross_to_hours_times_rate_and_net_to_gross_minus_deductions():
    report = audit_csv([HEADER, ["E1", "Ana", "37.5", "12.34", "450", "60", "390"]])

    assert report.status == "completed"
    assert rules(report) == [(1, "gross_mismatch")]
    assert "462.75" in report.corrections[0].message and "402.75" in report.corrections[0].message
    header, row = csv_rows(report.corrected_content)
    assert header == [*HEADER, "Audit notes"]
    assert row[:7] == ["E1", "Ana", "37.5", "12.34", "462.75", "60", "402.75"]  # 462.75 = 37.5 × 12.34
    assert row[7] == report.corrections[0].message


def test_gross_mismatch_without_deductions_column_leaves_net_as_it_is():
    header = ["Employee ID", "Hours", "Rate", "Gross", "Net"]
    report = audit_csv([header, ["E1", "10", "10", "90", "80"]])

    assert rules(report) == [(1, "gross_mismatch")]
    assert csv_rows(report.corrected_content)[1][:5] == ["E1", "10", "10", "100.00", "80"]
    assert "net left as it is" in report.corrections[0].message


def test_gross_within_a_cent_of_hours_times_rate_is_left_alone():
    report = audit_csv([HEADER, ["E1", "Ana", "3", "3.333", "10.00", "0", "10.00"]])  # 9.999

    assert report.corrections == ()
    assert csv_rows(report.corrected_content)[1] == ["E1", "Ana", "3", "3.333", "10.00", "0", "10.00", ""]


def test_missing_employee_id_is_flagged_kept_and_counted_as_its_own_employee():
    report = audit_csv(
        [
            HEADER,
            ["", "Bob", "10", "10", "100", "0", "100"],
            ["  ", "Cy", "5", "10", "50", "0", "50"],
            ["E1", "Ana", "10", "10", "100", "0", "100"],
        ]
    )

    assert rules(report) == [(1, "missing_employee_id"), (2, "missing_employee_id")]
    assert report.employees_processed == 3
    rows = csv_rows(report.corrected_content)
    assert [row[1] for row in rows[1:]] == ["Bob", "Cy", "Ana"]
    assert "Employee id is missing" in rows[1][-1] and rows[3][-1] == ""


def test_negative_net_is_flagged_and_the_row_kept():
    report = audit_csv([HEADER, ["E1", "Ana", "10", "10", "100", "150", "-50"]])

    assert rules(report) == [(1, "negative_net")]
    assert "negative net pay, check deductions" in report.corrections[0].message
    assert csv_rows(report.corrected_content)[1][:7] == ["E1", "Ana", "10", "10", "100", "150", "-50"]


def test_net_made_negative_by_a_gross_correction_is_flagged_after_it():
    report = audit_csv([HEADER, ["E1", "Ana", "10", "10", "200", "150", "50"]])

    assert rules(report) == [(1, "gross_mismatch"), (1, "negative_net")]
    row = csv_rows(report.corrected_content)[1]
    assert row[4:7] == ["100.00", "150", "-50.00"]
    assert row[7] == " ".join(c.message for c in report.corrections)


def test_values_that_are_not_numbers_are_flagged_and_left_as_they_are():
    report = audit_csv(
        [
            HEADER,
            ["E1", "Ana", "forty", "10", "", "0", "100"],
            ["E2", "Bob", "10", "10", "120", "n/a", "100"],
        ]
    )

    assert rules(report) == [
        (1, "non_numeric"),
        (1, "non_numeric"),
        (2, "non_numeric"),
        (2, "gross_mismatch"),
    ]
    assert "Hours 'forty' is not a number" in report.corrections[0].message
    assert "Gross is empty" in report.corrections[1].message
    assert "Deductions 'n/a'" in report.corrections[2].message
    rows = csv_rows(report.corrected_content)
    assert rows[1][:7] == ["E1", "Ana", "forty", "10", "", "0", "100"]
    assert rows[2][:7] == ["E2", "Bob", "10", "10", "100.00", "n/a", "100"]  # net kept: no deductions


def test_a_net_that_is_not_a_number_is_replaced_when_gross_is_corrected():
    report = audit_csv([HEADER, ["E1", "Ana", "10", "10", "90", "10", "??"]])

    assert rules(report) == [(1, "non_numeric"), (1, "gross_mismatch")]
    assert csv_rows(report.corrected_content)[1][4:7] == ["100.00", "10", "90.00"]


def test_duplicate_rows_are_dropped_once_each_and_employees_counted_once():
    ana = ["E1", "Ana", "10", "10", "100", "0", "100"]
    ana_overtime = ["E1", "Ana", "2", "15", "30", "0", "30"]  # same employee, different row: kept
    report = audit_csv([HEADER, ana, ana_overtime, ana, [" E1 ", *ana[1:]], ana_overtime])

    assert rules(report) == [(3, "duplicate_row"), (4, "duplicate_row"), (5, "duplicate_row")]
    assert report.corrections[0].message == "Identical to row 1 in every column; dropped."
    assert report.corrections[2].message == "Identical to row 2 in every column; dropped."
    assert report.employees_processed == 1
    assert report.corrections_made == 3
    assert csv_rows(report.corrected_content)[1:] == [[*ana, ""], [*ana_overtime, ""]]


def test_values_beyond_the_last_column_are_dropped_with_a_note():
    report = audit_csv([HEADER, ["E1", "Ana", "10", "10", "100", "0", "100", "", "stray"]])

    assert rules(report) == [(1, "extra_cells")]
    assert csv_rows(report.corrected_content)[1][:8] == [
        "E1",
        "Ana",
        "10",
        "10",
        "100",
        "0",
        "100",
        "Values beyond the last column ('stray'); dropped.",
    ]


def test_blank_rows_are_skipped_and_keep_the_numbering_of_the_upload():
    report = audit_csv(
        [
            HEADER,
            ["E1", "Ana", "10", "10", "100", "0", "100"],
            [],
            ["", "", ""],
            ["", "Bob", "1", "1", "1", "0", "1"],
        ]
    )

    assert rules(report) == [(4, "missing_employee_id")]
    assert len(csv_rows(report.corrected_content)) == 3


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12.5", Decimal("12.5")),
        (" 1,234.50 ", Decimal("1234.50")),
        ("1.234,50", Decimal("1234.50")),
        ("12,5", Decimal("12.5")),
        ("$1,000", Decimal("1000")),
        ("-$20.00", Decimal("-20.00")),
        ("€-20", Decimal("-20")),
        (40, Decimal(40)),
        (12.3, Decimal("12.3")),
        ("forty", None),
        ("", None),
        ("1,2,3", None),
        ("--5", None),
        (float("nan"), None),
        (True, None),
    ],
)
def test_amount_reads_the_number_forms_payroll_files_use(text, expected):
    assert amount(text) == expected


# --- header ------------------------------------------------------------------------------------


def test_header_aliases_match_case_insensitively_and_tax_counts_as_deductions():
    header = ["emp_id", "EMPLOYEE NAME", "Hours Worked", "hourly-rate", "Gross Pay", "TAX", "net pay"]
    report = audit_csv([header, ["7", "Ana", "10", "10", "90", "10", "80"]])

    assert report.status == "completed"
    assert rules(report) == [(1, "gross_mismatch")]
    assert csv_rows(report.corrected_content)[1][4:7] == ["100.00", "10", "90.00"]


def test_missing_required_columns_fail_naming_each_of_them():
    report = audit_csv([["ID", "Name", "Hours", "Pay"], ["E1", "Ana", "10", "100"]])

    assert report == AuditReport(status="failed", error="missing required columns: rate, gross, net")


def test_two_columns_meaning_the_same_thing_fail():
    report = audit_csv([[*HEADER, "Tax"], ["E1", "Ana", "10", "10", "100", "0", "100", "0"]])

    assert report.status == "failed"
    assert report.error == "columns Deductions and Tax both mean deductions; keep one"


def test_header_only_file_completes_with_no_employees():
    report = audit_csv([HEADER])

    assert (report.status, report.employees_processed, report.corrections_made) == ("completed", 0, 0)
    assert csv_rows(report.corrected_content) == [[*HEADER, "Audit notes"]]


def test_file_without_any_row_fails():
    report = PayrollAudit().process(filename="empty.csv", content=b"\n\n")

    assert report.status == "failed"
    assert report.error.startswith("the file has no header row")


# --- formats -----------------------------------------------------------------------------------


def test_csv_round_trip_keeps_semicolons_byte_order_mark_and_reads_decimal_commas():
    content = csv_bytes(
        [HEADER, ["E1", "Ana", "10", "12,5", "100", "10", "90"], ["E2", "Bob", "1", "1", "1", "0", "1"]],
        delimiter=";",
        bom=True,
    )
    report = PayrollAudit().process(
        filename="C:\\fakepath\\Payroll March.csv", content=content, content_type="text/csv"
    )

    assert report.corrected_filename == "Payroll March.corrected.csv"
    assert report.corrected_content_type == "text/csv; charset=utf-8"
    assert report.corrected_content.startswith(b"\xef\xbb\xbfEmployee ID;Name;")
    rows = list(csv.reader(io.StringIO(report.corrected_content.decode("utf-8-sig")), delimiter=";"))
    assert rows[1][:7] == ["E1", "Ana", "10", "12,5", "125.00", "10", "115.00"]
    assert rows[1][7].startswith("Gross 100 is not hours 10 × rate 12.5")
    assert rows[2] == ["E2", "Bob", "1", "1", "1", "0", "1", ""]


def test_csv_with_tabs_is_read():
    content = csv_bytes([HEADER, ["E1", "Ana", "10", "10", "100", "0", "100"]], delimiter="\t")
    report = PayrollAudit().process(filename="march.tsv", content=content)

    assert (report.status, report.employees_processed, report.corrections) == ("completed", 1, ())
    assert report.corrected_content.split(b"\r\n")[0] == b"\t".join(
        h.encode() for h in [*HEADER, "Audit notes"]
    )


def test_xlsx_round_trip_corrects_values_and_writes_notes_in_a_last_column():
    rows = [
        HEADER,
        [1001, "Ana", 40, 12.5, 450, 60, 390],
        [None, "Bob", 10, 10, 100, 0, 100],
        [1003, "Cy", 10, 10, 100, 150, -50],
        [1001, "Ana", 40, 12.5, 450, 60, 390],
        [1004, "Di", "40", "10.00", "400", None, "400"],
    ]
    report = PayrollAudit().process(
        filename="payroll-march.xlsx", content=xlsx_bytes(rows), content_type=XLSX_CONTENT_TYPE
    )

    assert report.status == "completed", report.error
    assert rules(report) == [
        (1, "gross_mismatch"),
        (2, "missing_employee_id"),
        (3, "negative_net"),
        (4, "duplicate_row"),
    ]
    assert (report.employees_processed, report.corrections_made) == (4, 4)
    assert report.corrected_filename == "payroll-march.corrected.xlsx"
    assert report.corrected_content_type == XLSX_CONTENT_TYPE
    title, written = xlsx_rows(report.corrected_content)
    assert title == "March"
    assert written[0] == [*HEADER, "Audit notes"]
    assert written[1][:7] == [1001, "Ana", 40, 12.5, 500, 60, 440]
    assert written[1][7] == report.corrections[0].message
    assert written[2][0] is None and "Employee id is missing" in written[2][7]
    assert "negative net pay, check deductions" in written[3][7]
    assert written[4] == [1004, "Di", "40", "10.00", "400", None, "400", None]  # blank deductions = 0
    assert len(written) == 5


def test_a_workbook_named_csv_is_read_as_a_workbook():
    content = xlsx_bytes([HEADER, [1, "Ana", 1, 1, 1, 0, 1]])
    report = PayrollAudit().process(filename="payroll.csv", content=content, content_type="text/csv")

    assert (report.status, report.employees_processed) == ("completed", 1)
    assert report.corrected_filename == "payroll.corrected.xlsx"


def test_a_corrected_file_audited_again_has_nothing_to_correct_and_one_notes_column():
    first = audit_csv([HEADER, ["E1", "Ana", "10", "10", "90", "0", "90"]])
    again = PayrollAudit().process(filename=first.corrected_filename, content=first.corrected_content)

    assert again.corrections == ()
    assert csv_rows(again.corrected_content) == [
        [*HEADER, "Audit notes"],
        ["E1", "Ana", "10", "10", "100.00", "0", "100.00", ""],
    ]


def test_xlsx_content_type_decides_when_the_name_has_no_extension():
    content = xlsx_bytes([HEADER, [1, "Ana", 1, 1, 1, 0, 1]])
    report = PayrollAudit().process(filename="upload", content=content, content_type=XLSX_CONTENT_TYPE)

    assert (report.status, report.corrected_filename) == ("completed", "upload.corrected.xlsx")


@pytest.mark.parametrize(
    ("filename", "content_type", "content", "error"),
    [
        (
            "march.pdf",
            "application/pdf",
            b"%PDF-1.7",
            "unsupported file type: .pdf (upload a .csv or .xlsx file)",
        ),
        ("march.docx", "", b"PK\x03\x04rest", "unsupported file type: .docx (upload a .csv or .xlsx file)"),
        (
            "march.xls",
            "application/vnd.ms-excel",
            b"\xd0\xcf\x11\xe0",
            "unsupported file type: .xls (upload a .csv or .xlsx file)",
        ),
        (
            "upload",
            "application/octet-stream",
            b"a,b\n",
            "unsupported file type: application/octet-stream (upload a .csv or .xlsx file)",
        ),
        (
            "upload",
            "",
            b"a,b\n",
            "unsupported file type: no extension and no content type (upload a .csv or .xlsx file)",
        ),
    ],
)
def test_unsupported_file_types_fail(filename, content_type, content, error):
    report = PayrollAudit().process(filename=filename, content=content, content_type=content_type)

    assert report == AuditReport(status="failed", error=error)


def test_csv_that_is_not_utf8_fails_saying_how_to_save_it():
    content = "Employee ID,Name,Hours,Rate,Gross,Net\nE1,Zoë,1,1,1,1\n".encode("latin-1")
    report = PayrollAudit().process(filename="march.csv", content=content)

    assert report.status == "failed"
    assert report.error.startswith("could not read the CSV file: it is not UTF-8 text")


def workbook_without_its_sheet():
    source = zipfile.ZipFile(io.BytesIO(xlsx_bytes([HEADER])))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            if "worksheets/" not in item.filename:
                target.writestr(item, source.read(item))
    return out.getvalue()


def workbook_with_broken_sheet_xml():
    source = zipfile.ZipFile(io.BytesIO(xlsx_bytes([HEADER, [1, "Ana", 1, 1, 1, 0, 1]])))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename.startswith("xl/worksheets/"):
                data = data[: len(data) // 2]  # the XML stops mid-row
            target.writestr(item, data)
    return out.getvalue()


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(xlsx_bytes([HEADER])[:300], id="truncated"),
        pytest.param(b"PK\x03\x04" + b"\x00" * 200, id="zip-signature-only"),
        pytest.param(b"Employee ID,Hours\n", id="text-named-xlsx"),
        pytest.param(b"", id="empty"),
        pytest.param(workbook_without_its_sheet(), id="sheet-missing"),
        pytest.param(workbook_with_broken_sheet_xml(), id="sheet-xml-broken"),
    ],
)
def test_a_damaged_xlsx_fails_with_a_reason_and_never_raises(content):
    report = PayrollAudit().process(filename="march.xlsx", content=content)

    assert report.status == "failed"
    assert report.error.startswith("could not read the XLSX file: ")
    assert len(report.error) > len("could not read the XLSX file: ")
    assert report.corrected_content == b""


# --- settings ----------------------------------------------------------------------------------


def test_a_file_over_the_default_limit_fails_without_being_read():
    assert max_file_bytes() == 25 * 1024 * 1024
    report = PayrollAudit().process(filename="march.pdf", content=b"\x00" * (25 * 1024 * 1024 + 1))

    assert report == AuditReport(status="failed", error="file is larger than 25 MB")


def test_the_size_limit_comes_from_settings(settings):
    settings.PAYROLL_AUDIT_MAX_BYTES = 1536
    row = ["E1", "Ana", "10", "10", "100", "0", "100"]
    small, large = csv_bytes([HEADER, row]), csv_bytes([HEADER] + [row] * 70)
    assert len(large) > 1536

    assert PayrollAudit().process(filename="march.csv", content=large) == AuditReport(
        status="failed", error="file is larger than 1.5 KB"
    )
    assert PayrollAudit().process(filename="march.csv", content=small).status == "completed"


class FlatFeeAudit:
    """A stand-in processor a deployment could name in PAYROLL_AUDIT_PROCESSOR."""

    def __init__(self, fee_employees=0):
        self.fee_employees = fee_employees

    def process(self, *, filename, content, content_type=""):
        return AuditReport(
            status="completed",
            employees_processed=self.fee_employees or content.count(b"\n"),
            corrections=(Correction(row=1, rule="custom", message=f"seen {filename}"),),
            corrections_made=1,
        )


def flat_fee_audit_of_seven():
    return FlatFeeAudit(fee_employees=7)


def test_the_default_processor_is_payroll_audit():
    assert isinstance(audit_processor(), PayrollAudit)


def test_the_processor_named_by_the_setting_is_used(settings):
    settings.PAYROLL_AUDIT_PROCESSOR = f"{__name__}.FlatFeeAudit"
    report = audit_processor().process(filename="x.csv", content=b"a\nb\n")

    assert report.employees_processed == 2
    assert report.corrections == (Correction(row=1, rule="custom", message="seen x.csv"),)


def test_the_setting_may_name_a_factory(settings):
    settings.PAYROLL_AUDIT_PROCESSOR = f"{__name__}.flat_fee_audit_of_seven"

    assert audit_processor().process(filename="x.csv", content=b"").employees_processed == 7


def test_a_processor_that_cannot_be_imported_is_a_configuration_error(settings):
    settings.PAYROLL_AUDIT_PROCESSOR = "sync.onboarding.payroll_audit.NoSuchAudit"

    with pytest.raises(ImproperlyConfigured, match="PAYROLL_AUDIT_PROCESSOR"):
        audit_processor()


# --- scale -------------------------------------------------------------------------------------


def test_ten_thousand_row_xlsx_is_audited_in_seconds():
    unique = [
        [f"E{i:05d}", f"Employee {i}", 40, 12.5, 499 if i % 100 == 0 else 500, 50, 450] for i in range(9950)
    ]
    content = xlsx_bytes([HEADER, *unique, *unique[:50]])

    started = time.monotonic()
    report = PayrollAudit().process(filename="big.xlsx", content=content)
    elapsed = time.monotonic() - started

    assert report.status == "completed", report.error
    assert report.employees_processed == 9950
    assert [c.rule for c in report.corrections].count("gross_mismatch") == 100
    assert [c.row for c in report.corrections if c.rule == "duplicate_row"] == list(range(9951, 10001))
    assert report.corrections_made == 150
    assert elapsed < 10, elapsed
    _, written = xlsx_rows(report.corrected_content)
    assert len(written) == 9951
    assert written[1][4:7] == [500, 50, 450] and written[1][7].startswith("Gross 499 is not")
    assert written[2][4:8] == [500, 50, 450, None]
