"""CSV files are collected by one scan per layout, each file's rows numbered from 1."""

from __future__ import annotations

import duckdb
import pytest

from dti.settings import Settings
from ingest import csv_files, rows
from tests.ingest.conftest import csv_text


def _collected(tmp_path, contents: list[str]) -> tuple[duckdb.DuckDBPyConnection, list]:
    con = duckdb.connect()
    rows.create_incoming(con)
    files = []
    for n, text in enumerate(contents):
        path = tmp_path / f"{n:064x}"
        path.write_text(text, encoding="utf-8")
        files.append(csv_files.CsvFile(path.name, f"unit-{n}.csv", path))
    return con, files


def test_each_file_of_a_scan_gets_consecutive_rows_from_its_first_row(tmp_path):
    contents = [csv_text(*[f"2023,SO-SNV,NTS.4,{n},,self,2023-05-02"] * (n + 1)) for n in range(5)]
    con, files = _collected(tmp_path, contents)
    layout = csv_files.inspect(contents[0].encode(), Settings())

    csv_files.collect(con, layout, files, "inbox")

    assert con.execute(
        """select b.batch_sha256, min(r.rowid - b.first_rowid + 1), max(r.rowid - b.first_rowid
                  + 1), count(*), any_value(b.rows_collected), min(r.value), max(r.value)
           from csv_rows r join csv_batches b using (file_no) group by all order by 1"""
    ).fetchall() == [
        (f.sha256, 1, n + 1, n + 1, n + 1, str(n), str(n)) for n, f in enumerate(files)
    ]


def test_a_scan_that_mixes_files_up_is_refused_and_leaves_nothing_collected(tmp_path):
    contents = [csv_text("2023,SO-SNV,NTS.4,1,,self,2023-05-02")] * 2
    con, files = _collected(tmp_path, contents)
    layout = csv_files.inspect(contents[0].encode(), Settings())
    # a row of the second file ahead of the first file's rows, as a scan out of order would
    con.execute("insert into csv_rows (file_no, value) values (1, 'early')")

    with pytest.raises(csv_files.CsvInterleaved):
        csv_files.collect(con, layout, files, "inbox")

    assert con.execute("select count(*) from csv_rows").fetchone() == (0,)
    assert con.execute("select count(*) from csv_batches").fetchone() == (0,)
