"""Inbox files in every accepted shape load, byte for byte where it matters."""

from __future__ import annotations

import io
import json
import unicodedata

import openpyxl

from ingest import ingest_sources
from tests.ingest.conftest import csv_text


def test_csv_with_bom_crlf_free_column_order_and_extra_columns_loads(settings, drop, query):
    body = csv_text(
        "NTS.1,SO-SNV,có,2023,self,2023-05-02T08:30:00,Quyết định 12/QĐ-SNV,ghi chú",
        'NTS.4,SO-SNV,"87,5",2023,self,2023-05-02 08:30:00+07:00,,',
        header="indicator_code,unit_code,value,period,stage,submitted_at,evidence_ref,ghi_chu",
        newline="\r\n",
    )
    drop("Sở Nội vụ - tự đánh giá.csv", "\ufeff" + body)

    report = ingest_sources(settings)

    assert (report.loaded, report.rows_loaded, report.rows_refused) == (1, 2, 0)
    assert report.periods == [2023]
    rows = query(
        "select unit_code, indicator_code, value, evidence_ref, stage, "
        "strftime(submitted_at at time zone 'UTC', '%Y-%m-%d %H:%M'), source_row, "
        "submission_id = batch_sha256 || ':' || source_row "
        "from raw.submission_rows order by source_row"
    )
    assert rows == [
        ("SO-SNV", "NTS.1", "có", "Quyết định 12/QĐ-SNV", "self", "2023-05-02 01:30", 1, True),
        ("SO-SNV", "NTS.4", "87,5", None, "self", "2023-05-02 01:30", 2, True),
    ]
    (name,) = query("select source_file from raw.load_ledger")[0]
    assert name == "Sở Nội vụ - tự đánh giá.csv"
    processed = settings.inbox / "processed"
    assert (processed / "Sở Nội vụ - tự đánh giá.csv").exists()
    assert (processed / "Sở Nội vụ - tự đánh giá.csv.ready").exists()
    assert not list(settings.inbox.glob("*.csv*"))


def test_decomposed_vietnamese_is_stored_as_nfc(settings, drop, query):
    nfd = unicodedata.normalize("NFD", "không")
    evidence = unicodedata.normalize("NFD", "Kế hoạch số 5")
    drop("nfd.csv", csv_text(f"2023,SO-SNV,NTS.1,{nfd},{evidence},self,2023-05-02"))

    report = ingest_sources(settings)

    assert report.rows_loaded == 1
    assert query("select value, evidence_ref from raw.submission_rows") == [
        ("không", "Kế hoạch số 5")
    ]


def test_semicolon_csv_from_a_vietnamese_locale_excel_loads(settings, drop, query):
    header = "period;unit_code;indicator_code;value;stage;submitted_at"
    drop("excel.csv", f"{header}\n2023;SO-SNV;NTS.4;42,5;self;2023-05-02\n")

    assert ingest_sources(settings).rows_loaded == 1
    assert query("select value from raw.submission_rows") == [("42,5",)]


def test_file_without_ready_flag_is_not_read(settings, drop, query):
    drop("half-copied.csv", csv_text("2023,SO-SNV,NTS.1,1,,self,2023-05-02"), ready=False)

    report = ingest_sources(settings)

    assert report.files_seen == 0
    assert (settings.inbox / "half-copied.csv").exists()
    assert query("select count(*) from raw.load_ledger") == [(0,)]


def test_json_with_one_unit_and_json_with_many_units_load(settings, drop, query):
    one = {
        "period": 2023,
        "unit_code": "SO-SNV",
        "stage": "self",
        "submitted_at": "2023-05-02T09:00:00+07:00",
        "answers": [
            {"indicator_code": "NTS.1", "value": "có", "evidence_ref": "QĐ 1"},
            {"indicator_code": "NTS.4", "value": 66.25},
            {"indicator_code": "NTS.3", "value": None},
        ],
    }
    many = {
        "submissions": [
            {**one, "unit_code": "SO-STTTT", "answers": one["answers"][:1]},
            {
                **one,
                "unit_code": "QH-Q1",
                "stage": "appraisal",
                "answers": [{"indicator_code": "DTTM.1", "value": True}],
            },
        ]
    }
    drop("one.json", json.dumps(one, ensure_ascii=False))
    drop("many.json", json.dumps(many, ensure_ascii=False))

    report = ingest_sources(settings)

    assert (report.loaded, report.rows_loaded) == (2, 5), report.results
    assert sorted(
        query("select unit_code, indicator_code, value, stage from raw.submission_rows")
    ) == [
        ("QH-Q1", "DTTM.1", "true", "appraisal"),
        ("SO-SNV", "NTS.1", "có", "self"),
        ("SO-SNV", "NTS.3", None, "self"),
        ("SO-SNV", "NTS.4", "66.25", "self"),
        ("SO-STTTT", "NTS.1", "có", "self"),
    ]


def _xlsx(rows: list[list[object]]) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_xlsx_first_sheet_loads_with_numbers_as_sent(settings, drop, query):
    import datetime as dt

    data = _xlsx(
        [
            ["unit_code", "period", "indicator_code", "value", "stage", "submitted_at", "x"],
            ["SO-SNV", 2023, "NTS.4", 12.5, "self", dt.datetime(2023, 5, 2, 9, 0), "extra"],
            [None, None, None, None, None, None, None],
            ["SO-SNV", 2023, "NTS.3", 15, "Self", "2023-05-02T09:00:00+07:00", None],
        ]
    )
    drop("Bảng tự đánh giá.xlsx", data)

    report = ingest_sources(settings)

    assert (report.loaded, report.rows_loaded) == (1, 2), report.results
    assert query(
        "select indicator_code, value, stage, source_row, "
        "strftime(submitted_at at time zone 'UTC', '%H:%M') from raw.submission_rows "
        "order by source_row"
    ) == [("NTS.4", "12.5", "self", 1, "02:00"), ("NTS.3", "15", "self", 3, "02:00")]


def test_many_csv_files_read_together_keep_their_own_row_numbers(settings, drop, query):
    for n in range(12):
        rows = [f"2023,SO-SNV,NTS.4,{n},,self,2023-05-02" for _ in range(n + 1)]
        drop(f"unit-{n:02}.csv", csv_text(*rows))

    report = ingest_sources(settings)

    assert report.loaded == 12
    assert query(
        "select l.source_file, max(r.source_row), count(*) from raw.submission_rows r "
        "join raw.load_ledger l using (batch_sha256) group by all order by 1"
    ) == [(f"unit-{n:02}.csv", n + 1, n + 1) for n in range(12)]
    assert query(
        "select count(*) from raw.submission_rows where value <> "
        "cast(cast(regexp_extract((select source_file from raw.load_ledger l "
        "where l.batch_sha256 = submission_rows.batch_sha256), '[0-9]+') as int) as varchar)"
    ) == [(0,)]


def _drop_mixed_group(drop) -> dict[str, list[tuple[str, str | None]]]:
    """Four CSV files of one layout (read by one scan): (value, reason code or None) per row."""
    files = {
        "a-clean.csv": [("1", None), ("0", None)],
        "b-mixed.csv": [
            ("NaN", "not_finite"),
            ("25", None),
            ("50", None),
            ("-1", "value_out_of_range"),
        ],
        "c-refused.csv": [("x", "unreadable_value"), ("101", "value_out_of_range")],
        "d-clean.csv": [("75", None)],
    }
    for name, values in files.items():
        indicator = "NTS.1" if name == "a-clean.csv" else "NTS.4"
        drop(name, csv_text(*[f"2023,SO-SNV,{indicator},{v},,self,2023-05-02" for v, _ in values]))
    return files


def test_files_read_together_store_exactly_their_good_rows_and_quarantine_their_bad_ones(
    settings, drop, query
):
    files = _drop_mixed_group(drop)

    report = ingest_sources(settings)

    assert (report.loaded, report.partial, report.refused) == (2, 1, 1)
    assert query(
        "select l.source_file, r.source_row, r.value, r.submission_id = l.batch_sha256 || ':' "
        "|| r.source_row from raw.submission_rows r join raw.load_ledger l using (batch_sha256) "
        "order by 1, 2"
    ) == [
        (name, n, value, True)
        for name, values in files.items()
        for n, (value, code) in enumerate(values, start=1)
        if code is None
    ]
    assert query(
        "select source_file, source_row, value, reason_code from raw.quarantine_rows order by 1, 2"
    ) == [
        (name, n, value, code)
        for name, values in files.items()
        for n, (value, code) in enumerate(values, start=1)
        if code is not None
    ]
    assert query(
        "select source_file, outcome, rows_total, rows_loaded, rows_refused from raw.load_ledger "
        "order by 1"
    ) == [
        ("a-clean.csv", "loaded", 2, 2, 0),
        ("b-mixed.csv", "partial", 4, 2, 2),
        ("c-refused.csv", "refused", 2, 0, 2),
        ("d-clean.csv", "loaded", 1, 1, 0),
    ]


def test_files_whose_rows_a_scan_mixes_up_are_read_again_one_by_one(
    settings, drop, query, monkeypatch
):
    """If one scan of many files did not keep each file's rows together, each file is read
    alone, and every row still gets its own file's number."""
    from ingest import csv_files

    collect = csv_files.collect

    def mixing_up(con, layout, files, source):
        if len(files) > 1:
            raise csv_files.CsvInterleaved("rows of several files were interleaved by the scan")
        collect(con, layout, files, source)

    monkeypatch.setattr(csv_files, "collect", mixing_up)
    files = _drop_mixed_group(drop)

    report = ingest_sources(settings)

    assert (report.loaded, report.partial, report.refused) == (2, 1, 1)
    assert query(
        "select l.source_file, r.source_row, r.value from raw.submission_rows r "
        "join raw.load_ledger l using (batch_sha256) order by 1, 2"
    ) == [
        (name, n, value)
        for name, values in files.items()
        for n, (value, code) in enumerate(values, start=1)
        if code is None
    ]
    assert query(
        "select source_file, source_row, reason_code from raw.quarantine_rows order by 1, 2"
    ) == [
        (name, n, code)
        for name, values in files.items()
        for n, (_, code) in enumerate(values, start=1)
        if code is not None
    ]


def test_a_refused_file_sent_again_is_judged_again_and_counted_once(settings, drop, query):
    bad = csv_text(*[f"2023,SO-KHONG-CO,NTS.1,{n},,self,2023-05-02" for n in range(3)])
    drop("a.csv", bad)
    ingest_sources(settings)
    drop("a (gửi lại).csv", bad)

    report = ingest_sources(settings)

    assert (report.refused, report.rows_refused) == (1, 3)
    assert query(
        "select source_file, outcome, rows_total, rows_refused from raw.load_ledger order by 1"
    ) == [("a (gửi lại).csv", "refused", 3, 3), ("a.csv", "refused", 3, 3)]
    assert query("select source_file, count(*) from raw.quarantine_rows group by 1 order by 1") == [
        ("a (gửi lại).csv", 3),
        ("a.csv", 3),
    ]


def test_a_name_sent_twice_with_new_content_keeps_both_files(settings, drop, query):
    drop("Quận 1.csv", csv_text("2023,QH-Q1,NTS.2,1,,self,2023-05-02"))
    ingest_sources(settings)
    drop("Quận 1.csv", csv_text("2023,QH-Q1,NTS.2,0,,self,2023-05-03"))
    ingest_sources(settings)

    kept = sorted(p.name for p in (settings.inbox / "processed").glob("*.csv"))
    assert len(kept) == 2 and "Quận 1.csv" in kept
    assert query("select value from raw.submission_rows order by submitted_at") == [
        ("1",),
        ("0",),
    ]
    assert [r[0] for r in query("select source_file from raw.load_ledger")] == ["Quận 1.csv"] * 2


def test_a_copy_of_a_file_refused_in_the_same_drop_is_refused_not_a_duplicate(
    settings, drop, query
):
    bad = csv_text("2023,SO-KHONG-CO,NTS.1,1,,self,2023-05-02")
    drop("a.csv", bad)
    drop("a - copy.csv", bad)

    report = ingest_sources(settings)

    assert (report.refused, report.duplicate) == (2, 0)
    assert sorted(query("select source_file, outcome, reason_code from raw.load_ledger")) == [
        ("a - copy.csv", "refused", "all_rows_refused"),
        ("a.csv", "refused", "all_rows_refused"),
    ]
    assert query("select count(*) from raw.quarantine_rows") == [(1,)]
