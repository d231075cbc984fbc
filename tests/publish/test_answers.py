"""answers_<block>.csv and .xlsx: one row per unit and indicator, with the counted answer's
evidence, note, appraiser and reason, in results.json's unit order."""

from __future__ import annotations

import csv
import io
import json
import os
from decimal import Decimal

import duckdb
import openpyxl

from publish.bundle import write_bundle
from tests.publish.publish_marts_fixture import passing_runs


def _csv_rows(path) -> list[dict[str, str]]:
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and b"\r\n" in data
    return list(csv.DictReader(io.StringIO(data[3:].decode("utf-8"), newline="")))


def test_every_answer_row_of_the_marts_is_in_its_block_csv(small_warehouse) -> None:
    bundle = write_bundle(small_warehouse, 2023, passing_runs(2023))
    results = json.loads((bundle / "results.json").read_text(encoding="utf-8"))
    con = duckdb.connect(str(small_warehouse.warehouse), read_only=True)
    try:
        marts = con.execute(
            "select block, unit_code, indicator_code, scored_stage, cast(final_points as varchar),"
            " scored_evidence_ref, appraiser, appraisal_reason "
            "from marts.fct_indicator_points where period = 2023"
        ).fetchall()
    finally:
        con.close()
    for block in ("so_nganh", "quan_huyen"):
        rows = _csv_rows(bundle / f"answers_{block}.csv")
        in_marts = {
            (u, i): (stage or "", Decimal(points), evidence or "", who or "", why or "")
            for b, u, i, stage, points, evidence, who, why in marts
            if b == block
        }
        assert {
            (r["unit_code"], r["indicator_code"]): (
                r["counted_stage"],
                Decimal(r["final_points"]),
                r["evidence_ref"],
                r["appraiser"],
                r["reason"],
            )
            for r in rows
        } == in_marts
        assert len(rows) == len(in_marts)
        # units in results.json's order, each unit's rows together
        order = [u["unit_code"] for u in results["units"] if u["block"] == block]
        seen = list(dict.fromkeys(r["unit_code"] for r in rows))
        assert seen == [code for code in order if code in seen]


def test_an_appraisal_row_shows_its_appraiser_and_reason_in_the_csv_and_workbook(
    small_warehouse,
) -> None:
    bundle = write_bundle(small_warehouse, 2023, passing_runs(2023))
    (row,) = [
        r
        for r in _csv_rows(bundle / "answers_so_nganh.csv")
        if (r["unit_code"], r["indicator_code"]) == ("SO-A", "NTS.2")
    ]
    assert row["counted_stage"] == "appraisal"
    assert (row["self_value"], row["appraisal_value"], row["final_points"]) == ("10", "8", "8")
    assert row["evidence_ref"] == "Biên bản HĐ NTS.2"
    assert (row["appraiser"], row["reason"]) == ("Nguyễn Thị Thẩm", "Điều chỉnh NTS.2 theo hồ sơ")

    book = openpyxl.load_workbook(bundle / "answers_so_nganh.xlsx")
    sheet = book["Trả lời"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:2] == ("Mã đơn vị", "Tên đơn vị") and "Lý do thẩm định" in rows[0]
    names = rows[1]
    cells = [dict(zip(names, r, strict=True)) for r in rows[2:]]
    (cell,) = [c for c in cells if (c["unit_code"], c["indicator_code"]) == ("SO-A", "NTS.2")]
    assert (cell["appraiser"], cell["reason"]) == ("Nguyễn Thị Thẩm", "Điều chỉnh NTS.2 theo hồ sơ")
    assert cell["final_points"] == 8 and sheet["L3"].number_format == "0.00"
    assert sheet.freeze_panes == "C3"
    # the workbook holds the CSV's rows, in its order, value for value
    csv_rows = _csv_rows(bundle / "answers_so_nganh.csv")
    assert len(cells) == len(csv_rows)
    for c, r in zip(cells, csv_rows, strict=True):
        for name, value in r.items():
            got = c[name]
            if got is None:
                assert value == "", (name, r)
            elif isinstance(got, int | float):
                assert Decimal(str(got)) == Decimal(value), (name, r)
            else:
                assert got == value, (name, r)


def test_only_the_answers_files_of_a_changed_block_are_written_again(small_warehouse) -> None:
    first = write_bundle(small_warehouse, 2023, passing_runs(2023)).resolve()
    kept = first / "answers_so_nganh.csv"
    before = kept.read_bytes()
    con = duckdb.connect(str(small_warehouse.warehouse))
    try:  # a district's evidence is corrected; no department changes
        con.execute(
            "update marts.fct_indicator_points set scored_evidence_ref = 'Báo cáo bổ sung 7/BC' "
            "where unit_code = 'QH-PN' and indicator_code = 'CQS.1'"
        )
    finally:
        con.close()
    second = write_bundle(small_warehouse, 2023, passing_runs(2023)).resolve()
    assert second != first
    assert (second / "answers_so_nganh.csv").read_bytes() == before
    assert os.stat(second / "answers_so_nganh.csv").st_ino == os.stat(kept).st_ino
    assert (
        os.stat(second / "answers_so_nganh.xlsx").st_ino
        == os.stat(kept.with_suffix(".xlsx")).st_ino
    )
    (row,) = [
        r
        for r in _csv_rows(second / "answers_quan_huyen.csv")
        if (r["unit_code"], r["indicator_code"]) == ("QH-PN", "CQS.1")
    ]
    assert row["evidence_ref"] == "Báo cáo bổ sung 7/BC"
