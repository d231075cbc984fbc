"""Wherever a rank is published, the rank group it is a rank in is named by its label
(rank_groups.csv through fct_unit_scores.rank_group_name), not only by its code."""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pytest

from dti.settings import Settings
from publish.bundle import write_bundle
from publish.summary import render_summary
from tests.publish.publish_marts_fixture import make_warehouse, passing_runs, small_units

PREFIX = {"so_nganh": "SO-", "quan_huyen": "QH-"}
SERVING = "Cơ quan có cung cấp dịch vụ công"
OTHERS = "Cơ quan không cung cấp dịch vụ công"


@pytest.fixture
def grouped(settings: Settings) -> Path:
    """The small 2023 fixture with its departments in the two HCMC groups of 2024: Sở Nội vụ
    (SO-A) and Sở Tài chính (SO-C) serve the public, the others do not; the districts rank
    as one block. Both groups have a unit at rank 1."""
    units = small_units()
    for unit in units:
        if unit.block == "so_nganh":
            unit.rank_group = (
                "cung_cap_dvc" if unit.code in ("SO-A", "SO-C") else ("khong_cung_cap_dvc")
            )
    make_warehouse(settings.warehouse, 2023, units)
    return write_bundle(settings, 2023, passing_runs(2023))


EXPECTED = {
    "SO-A": ("cung_cap_dvc", SERVING, 1),
    "SO-C": ("cung_cap_dvc", SERVING, 2),
    "SO-D": ("khong_cung_cap_dvc", OTHERS, 1),
    "SO-B": ("khong_cung_cap_dvc", OTHERS, 2),
    "SO-E": ("khong_cung_cap_dvc", OTHERS, None),
    "QH-PN": ("", "", 1),
    "QH-10": ("", "", 2),
    "QH-2": ("", "", 3),
}


def test_results_json_csv_and_xlsx_name_each_units_rank_group(grouped: Path) -> None:
    results = json.loads((grouped / "results.json").read_text(encoding="utf-8"))
    assert {
        u["unit_code"]: (u["rank_group"], u["rank_group_name"], u["rank"]) for u in results["units"]
    } == EXPECTED
    for block in ("so_nganh", "quan_huyen"):
        text = (grouped / f"results_{block}.csv").read_bytes().decode("utf-8-sig")
        rows = list(csv.DictReader(io.StringIO(text)))
        assert rows and {
            r["unit_code"]: (r["rank_group"], r["rank_group_name"], int(r["rank"] or 0) or None)
            for r in rows
        } == {code: v for code, v in EXPECTED.items() if code.startswith(PREFIX[block])}
        sheet = openpyxl.load_workbook(grouped / f"results_{block}.xlsx")["Kết quả"]
        head, names, *data = list(sheet.iter_rows(values_only=True))
        assert "Nhóm xếp hạng" in head
        cells = [dict(zip(names, row, strict=True)) for row in data]
        assert [
            (c["unit_code"], c["rank_group"] or "", c["rank_group_name"] or "") for c in cells
        ] == [(r["unit_code"], r["rank_group"], r["rank_group_name"]) for r in rows]


def test_the_site_heads_each_ranking_table_with_its_groups_label(grouped: Path) -> None:
    index = (grouped / "index.html").read_text(encoding="utf-8")
    captions = re.findall(r"<caption>(Xếp hạng [^<]*)</caption>", index)
    assert f"Xếp hạng Sở, ban, ngành năm 2023 — {SERVING}" in captions
    assert f"Xếp hạng Sở, ban, ngành năm 2023 — {OTHERS}" in captions
    assert not any("cung_cap_dvc" in caption for caption in captions)
    page = (grouped / "don-vi" / "SO-D.html").read_text(encoding="utf-8")
    assert f"<dt>Nhóm xếp hạng</dt><dd>{OTHERS}</dd>" in page
    assert f"trong nhóm {OTHERS} [khong_cung_cap_dvc]" in page  # Giải trình kết quả
    district = (grouped / "don-vi" / "QH-PN.html").read_text(encoding="utf-8")
    assert "<dt>Nhóm xếp hạng</dt>" not in district and "trong cả khối" in district
    methodology = (grouped / "phuong-phap.html").read_text(encoding="utf-8")
    assert f"{SERVING} [cung_cap_dvc]: 2 đơn vị" in methodology
    assert "<caption>NTS — Nhận thức số (tối đa" in methodology  # the pillars keep their names


@dataclass
class _Summary:
    period: int
    bundle_dir: Path


@pytest.mark.parametrize("show_ranking", [False, True])
def test_the_summary_ranks_each_group_under_its_label(grouped: Path, show_ranking) -> None:
    lines = render_summary(_Summary(2023, grouped), show_ranking=show_ranking).splitlines()
    serving = lines.index(f"  Nhóm xếp hạng {SERVING}: 2 đơn vị được chấm điểm")
    others = lines.index(f"  Nhóm xếp hạng {OTHERS}: 2 đơn vị được chấm điểm")
    assert serving < others
    first = [line.split() for line in lines[serving + 1 : others] if "Sở" in line]
    second = [line.split() for line in lines[others + 1 :] if "Sở" in line or "Ban" in line]
    # each group its own ranking from 1: Sở Nội vụ and Sở Y tế both lead theirs
    if show_ranking:
        assert [row[0] for row in first] == ["1", "2"]
        assert [row[0] for row in second] == ["1", "2", "—"]
    else:
        assert [row[:3] for row in first] == [["1.", "Sở", "Nội"], ["2.", "Sở", "Tài"]]
        assert [row[:3] for row in second] == [["1.", "Sở", "Y"], ["2.", "Ban", "Quản"]]
    # a block ranked as one group has no group line
    assert not any(line.startswith("  Nhóm xếp hạng  ") for line in lines)
    assert sum(line.startswith("  Nhóm xếp hạng") for line in lines) == 2
