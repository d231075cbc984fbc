"""A corpus of bad and odd inbox files: every refusal the ingest knows, with what must happen.

Each entry: file name, bytes, expected ledger outcome and reason code. Row-level refusals are
in ``MIXED_ROWS`` (one CSV holding every row reason next to good rows).
"""

from __future__ import annotations

import io
import json
import unicodedata
import zipfile

import openpyxl

from tests.ingest.conftest import HEADER, csv_text

GOOD_ROW = "2023,SO-SNV,NTS.1,1,,self,2023-05-02T09:00:00+07:00"

# (row as sent, reason code or None when it must load)
MIXED_ROWS: list[tuple[str, str | None]] = [
    ("2023,SO-SNV,NTS.1,1,,self,2023-05-02", None),
    ("2023,SO-SNV,NTS.1,0,,self,2023-05-02", None),
    ("2023,SO-SNV,NTS.1,TRUE,,self,2023-05-02", None),
    ("2023,SO-SNV,NTS.1,false,,self,2023-05-02", None),
    ("2023,SO-SNV,NTS.1,Có,,self,2023-05-02", None),
    ("2023,SO-SNV,NTS.1,KHÔNG,,self,2023-05-02", None),
    ("2023,SO-SNV,NTS.1,Yes,,appraisal,2023-05-02", None),
    ("2023,SO-SNV,NTS.1,no,,Appraisal,2023-05-02", None),
    ("2023,SO-SNV,NTS.4,0,,self,2023-05-02", None),
    ("2023,SO-SNV,NTS.4,100,,self,2023-05-02", None),
    ('2023,SO-SNV,NTS.4,"99,5",,self,2023-05-02', None),
    ("2023,SO-SNV,NTS.4, 42.25 ,,self,2023-05-02", None),
    ("2023,SO-SNV,NTS.4,,,self,2023-05-02", None),  # not answered: kept
    ("2023,SO-SNV,NTS.3,25,,self,2023-05-02", None),
    ('2023,SO-SNV,NTS.3,"3,5",,self,2023-05-02', None),
    ("2023,SO-SNV,ATTT.5,10,,appraisal,2023-05-02", None),
    ("2023,SO-SNV,ATTT.5,7.5,,appraisal,2023-05-02", None),
    ("2023,SO-SNV,NTS.1,1,,self,2023-05-02T09:00:00Z", None),
    ("2023a,SO-SNV,NTS.1,1,,self,2023-05-02", "bad_period"),
    (",SO-SNV,NTS.1,1,,self,2023-05-02", "bad_period"),
    ("2023,SO-KHONG-CO,NTS.1,1,,self,2023-05-02", "unknown_unit"),
    ("2025,SO-SNV,NTS.1,1,,self,2025-05-02", "unit_inactive"),
    ("2023,SO-SNV,NTS.99,1,,self,2023-05-02", "unknown_indicator"),
    ("2023,SO-SNV,CQS.1,50,,self,2023-05-02", "unknown_indicator"),  # a district indicator
    ("2023,SO-SNV,NTS.1,1,,draft,2023-05-02", "bad_stage"),
    ("2023,SO-SNV,NTS.1,1,,self,02/05/2023", "bad_submitted_at"),
    ("2023,SO-SNV,NTS.1,1,,self,", "bad_submitted_at"),
    ("2023,SO-SNV,NTS.4,NaN,,self,2023-05-02", "not_finite"),
    ("2023,SO-SNV,NTS.4,Infinity,,self,2023-05-02", "not_finite"),
    ("2023,SO-SNV,NTS.3,-inf,,self,2023-05-02", "not_finite"),
    ("2023,SO-SNV,NTS.1,có lẽ,,self,2023-05-02", "unreadable_value"),
    ("2023,SO-SNV,NTS.4,12abc,,self,2023-05-02", "unreadable_value"),
    ("2023,SO-SNV,NTS.4,1e5,,self,2023-05-02", "unreadable_value"),
    ('2023,SO-SNV,NTS.4,"1.234,5",,self,2023-05-02', "unreadable_value"),
    ('2023,SO-SNV,NTS.4,"100,01",,self,2023-05-02', "value_out_of_range"),
    ("2023,SO-SNV,NTS.4,-1,,self,2023-05-02", "value_out_of_range"),
    ("2023,SO-SNV,ATTT.5,10.5,,appraisal,2023-05-02", "value_out_of_range"),
    ("2023,SO-SNV,NTS.3,123456789012345678901234567890,,self,2023-05-02", "value_out_of_range"),
    # timestamps DuckDB reads but the contract does not (§4), and ranges checked as sent (§3)
    ("2023,SO-SNV,NTS.1,1,,self,infinity", "bad_submitted_at"),
    ("2023,SO-SNV,NTS.1,1,,self,-infinity", "bad_submitted_at"),
    ("2023,SO-SNV,NTS.1,1,,self,epoch", "bad_submitted_at"),
    ("2023,SO-SNV,NTS.1,1,,self,294247-01-10T04:00:54Z", "bad_submitted_at"),
    ("2023,SO-SNV,NTS.1,1,,self,2023-05-02T24:00:00", "bad_submitted_at"),
    ("2023,SO-SNV,NTS.1,1,,self,9999-12-31T23:59:59Z", "submitted_at_out_of_range"),
    ("2023,SO-SNV,NTS.1,1,,self,2022-12-31T23:59:59+07:00", "submitted_at_out_of_range"),
    ("2023,SO-SNV,NTS.1,1,,appraisal,2025-02-01", "submitted_at_out_of_range"),
    ("2023,SO-SNV,NTS.1,1,,appraisal,2025-01-31T23:59:59+07:00", None),
    ("2023,SO-SNV,NTS.4,100.00001,,self,2023-05-02", "value_out_of_range"),
    ("2023,SO-SNV,NTS.4,100.0000000000000000000001,,self,2023-05-02", "value_out_of_range"),
    ("2023,SO-SNV,NTS.4,-0.00000000000000000000001,,self,2023-05-02", "value_out_of_range"),
    ("2023,SO-SNV,NTS.4,100.000000000000000000000,,self,2023-05-02", None),
    ("2023,SO-SNV,ATTT.5,10.00001,,appraisal,2023-05-02", "value_out_of_range"),
    # a count (tiers) written the way Vietnamese users write one thousand: refused, not read as 1
    ("2023,SO-SNV,NTS.3,1.000,,self,2023-05-02", "thousands_separator"),
    ('2023,SO-SNV,NTS.3,"1,000",,self,2023-05-02', "thousands_separator"),
    ("2023,SO-SNV,NTS.3,12.500.000,,self,2023-05-02", "thousands_separator"),
    ("2023,SO-SNV,NTS.3,1000,,self,2023-05-02", None),
    ('2023,SO-SNV,NTS.4,"1,000",,self,2023-05-02', None),  # a ratio: 1,000 is one (decimal comma)
]


def xlsx_bytes(rows: list[list[object]]) -> bytes:
    workbook = openpyxl.Workbook()
    for row in rows:
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def zip_bomb(uncompressed_bytes: int) -> bytes:
    """A tiny .xlsx whose sheet inflates to ``uncompressed_bytes`` of XML."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            block = b" " * (1024 * 1024)
            for _ in range(uncompressed_bytes // len(block)):
                sheet.write(block)
    return buffer.getvalue()


def corpus(max_file_bytes: int) -> list[tuple[str, bytes, str, str]]:
    """(file name, bytes, outcome, reason_code) of every odd file."""
    good = csv_text(GOOD_ROW).encode()
    # Windows-1258 spells tones as combining marks: the NFD form of these words encodes.
    legacy_text = csv_text("2023,SO-SNV,NTS.1,có,Củ Chi,self,2023-05-02")
    legacy = unicodedata.normalize("NFD", legacy_text).encode("cp1258")
    big_row = "2023,SO-SNV,NTS.4,50,x,self,2023-05-02\n"
    big = (HEADER + "\n" + big_row * (max_file_bytes // len(big_row) + 10)).encode()
    mixed = csv_text(*(row for row, _ in MIXED_ROWS)).encode()
    nan_json = (
        b'{"period": 2023, "unit_code": "SO-SNV", "stage": "self", "submitted_at": '
        b'"2023-05-02", "answers": [{"indicator_code": "NTS.4", "value": NaN}, '
        b'{"indicator_code": "NTS.3", "value": Infinity}, {"indicator_code": "NTS.1", '
        b'"value": 1}, {"indicator_code": "NTS.4", "value": 1e400}]}'
    )
    good_xlsx = xlsx_bytes(
        [
            ["period", "unit_code", "indicator_code", "value", "stage", "submitted_at"],
            [2023, "SO-STTTT", "NTS.4", 75.5, "self", "2023-05-02"],
            [2023, "SO-STTTT", "NTS.4", "NaN", "self", "2023-05-02"],
            [2023, "SO-STTTT", "NTS.4", "#DIV/0!", "self", "2023-05-02"],
        ]
    )
    return [
        ("good.csv", good, "loaded", "ok"),
        ("good - bản sao.csv", good, "duplicate", "duplicate_file"),
        ("mixed.csv", mixed, "partial", "rows_refused"),
        ("nan.json", nan_json, "partial", "rows_refused"),
        ("with-nan.xlsx", good_xlsx, "partial", "rows_refused"),
        (
            "all-bad.csv",
            csv_text("2023,SO-XX,NTS.1,1,,self,2023-05-02").encode(),
            "refused",
            "all_rows_refused",
        ),
        ("empty.csv", b"", "refused", "empty_file"),
        ("header-only.csv", (HEADER + "\r\n").encode(), "refused", "empty_file"),
        ("empty.json", b"  \n", "refused", "empty_file"),
        ("no-answers.json", b'{"period": 2023, "answers": []}', "refused", "empty_file"),
        ("windows-1258.csv", legacy, "refused", "not_utf8"),
        ("utf16.csv", csv_text(GOOD_ROW).encode("utf-16"), "refused", "not_utf8"),
        ("garbage.csv", bytes(range(256)) * 40, "refused", "not_utf8"),
        ("nul.csv", good + b"\x00\x00\x00", "refused", "bad_csv"),
        ("ragged.csv", csv_text(GOOD_ROW, GOOD_ROW + ",extra").encode(), "refused", "bad_csv"),
        ("truncated.csv", good + b'2023,SO-SNV,NTS.4,"4', "refused", "bad_csv"),
        (
            "no-stage.csv",
            b"period,unit_code,indicator_code,value,submitted_at\n2023,a,b,1,x\n",
            "refused",
            "missing_columns",
        ),
        (
            "two-values.csv",
            (HEADER + ",value\n" + GOOD_ROW + ",2\n").encode(),
            "refused",
            "duplicate_columns",
        ),
        (
            "truncated.json",
            b'{"period": 2023, "unit_code": "SO-SNV", "answers": [{"ind',
            "refused",
            "bad_json",
        ),
        ("list-of-numbers.json", json.dumps([1, 2]).encode(), "refused", "bad_json"),
        ("corrupt.xlsx", good_xlsx[: len(good_xlsx) // 2], "refused", "bad_xlsx"),
        ("not-a-zip.xlsx", b"PK\x03\x04 this is not really a zip", "refused", "bad_xlsx"),
        ("bomb.xlsx", zip_bomb(max_file_bytes * 20), "refused", "too_large"),
        ("huge.csv", big, "refused", "too_large"),
        ("notes.txt", "Gửi kèm bảng tự đánh giá".encode(), "refused", "unsupported_type"),
    ]
