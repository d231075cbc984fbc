"""results_<block>.xlsx: the results of results.json, value for value, byte-identical."""

from __future__ import annotations

import io
import json
import time
import zipfile
from datetime import UTC, datetime
from decimal import Decimal

import openpyxl

from publish.bundle import write_bundle
from tests.publish.publish_marts_fixture import passing_runs


def _sheet(path):
    return openpyxl.load_workbook(path, data_only=True)["Kết quả"]


def test_the_workbook_matches_results_json_value_for_value(small_warehouse):
    bundle = write_bundle(small_warehouse, 2023, passing_runs(2023))
    results = json.loads((bundle / "results.json").read_text(encoding="utf-8"), parse_float=Decimal)
    for block in ("so_nganh", "quan_huyen"):
        sheet = _sheet(bundle / f"results_{block}.xlsx")
        rows = list(sheet.iter_rows(values_only=True))
        header, names, data = rows[0], rows[1], rows[2:]
        assert header[:3] == ("Mã đơn vị", "Tên đơn vị", "Khối")
        units = [u for u in results["units"] if u["block"] == block]
        assert [r[0] for r in data] == [u["unit_code"] for u in units]  # same order
        for row, unit in zip(data, units, strict=True):
            cells = dict(zip(names, row, strict=True))
            assert cells["unit_name"] == unit["unit_name"]  # Vietnamese, NFC
            assert cells["status"] == unit["status"]
            for field in ("total_score", "self_score", "applicable_max", "percent", "rank"):
                expected = unit[field]
                actual = cells[field]
                assert (actual is None and expected is None) or Decimal(str(actual)) == Decimal(
                    str(expected)
                ), (unit["unit_code"], field, actual, expected)
            assert (cells["level"] or None) == unit["level"]
            assert cells["late"] == ("true" if unit["late"] else "false")
            assert (cells["unanswered"] or "") == ";".join(unit["unanswered"])
            for pillar in unit["pillars"]:
                code = pillar["pillar_code"]
                assert Decimal(str(cells[f"{code}_score"])) == Decimal(str(pillar["score"]))
                assert Decimal(str(cells[f"{code}_max"])) == Decimal(str(pillar["max_points"]))


def test_the_workbook_has_a_frozen_header_number_formats_and_widths(small_warehouse):
    bundle = write_bundle(small_warehouse, 2023, passing_runs(2023))
    sheet = openpyxl.load_workbook(bundle / "results_so_nganh.xlsx")["Kết quả"]
    assert sheet.freeze_panes == "C3"
    assert sheet["E3"].number_format == "0.00" and isinstance(sheet["E3"].value, float | int)
    assert sheet.column_dimensions["B"].width > sheet.column_dimensions["J"].width


def test_same_inputs_give_a_byte_identical_workbook(small_warehouse, tmp_path):
    first = write_bundle(small_warehouse, 2023, passing_runs(2023))
    time.sleep(1.1)  # zip entries and docProps keep whole seconds: make the clock move
    again = write_bundle(
        small_warehouse.with_paths(out=tmp_path / "later"),
        2023,
        passing_runs(2023),
        built_at=datetime(2031, 5, 6, tzinfo=UTC),
    )
    data = (first / "results_so_nganh.xlsx").read_bytes()
    assert data == (again / "results_so_nganh.xlsx").read_bytes()
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert {i.date_time for i in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    assert b"1980-01-01T00:00:00Z" in archive.read("docProps/core.xml")


def test_the_writer_keeps_any_text_and_number_as_sent(tmp_path):
    """Cells are remembered by value with a placeholder for their row number: text holding
    braces, markup, a NUL or a formula start still reads back as sent, on every row."""
    from publish.spreadsheet import workbook

    columns = [("code", "Mã", None), ("note", "Ghi chú", None), ("points", "Điểm", "0.00")]
    rows = [
        ("A", "{0} {r} & <b>", Decimal("1.50")),
        ("B", "=SUM(A1)", None),
        ("C", "a\x00b\x0bc", Decimal("10")),
        ("A", "{0} {r} & <b>", Decimal("1.50")),
    ]
    data = workbook("Sheet", columns, rows)
    assert data == workbook("Sheet", columns, rows)
    path = tmp_path / "w.xlsx"
    path.write_bytes(data)
    sheet = openpyxl.load_workbook(path)["Sheet"]
    assert list(sheet.iter_rows(values_only=True)) == [
        ("Mã", "Ghi chú", "Điểm"),
        ("code", "note", "points"),
        ("A", "{0} {r} & <b>", 1.5),
        ("B", "'=SUM(A1)", None),
        ("C", "abc", 10),
        ("A", "{0} {r} & <b>", 1.5),
    ]
    assert sheet["C3"].number_format == "0.00"
    assert sheet.freeze_panes == "C3"
