"""Trend charts and the index of the periods, on fixtures: what is drawn is what results.json
of each period says, and OUT/index.html lists every published period."""

from __future__ import annotations

import json
import os
import re
from decimal import Decimal as D
from pathlib import Path

import duckdb

from dti.settings import Settings
from publish import releases
from publish.bundle import write_bundle
from publish.marts import Level, TrendPoint
from publish.site import unit_page_name
from publish.site_index import PeriodEntry, render_site_index
from publish.trend_charts import BlockColumn, block_trend_chart, unit_trend_chart
from tests.publish.publish_marts_fixture import make_warehouse, passing_runs, small_units

LEVELS = (
    Level("khoi_dong", "Khởi động", 1, D(0), D(60), "#b45309", "#fef3c7"),
    Level("hinh_thanh", "Hình thành", 2, D(60), D(80), "#1d4ed8", "#dbeafe"),
    Level("nang_cao", "Nâng cao", 3, D(80), None, "#15803d", "#dcfce7"),
)
# another framework's bands (a registry of its own with 55 % / 75 %)
OTHER_LEVELS = (
    Level("khoi_dong", "Khởi động", 1, D(0), D(55), "#b45309", "#fef3c7"),
    Level("hinh_thanh", "Hình thành", 2, D(55), D(75), "#1d4ed8", "#dbeafe"),
    Level("nang_cao", "Nâng cao", 3, D(75), None, "#15803d", "#dcfce7"),
)
POINT = re.compile(
    r'<circle class="point" data-period="(\d+)" data-percent="([\d.]+)" '
    r'data-method="(\w+)" data-level="(\w*)"[^>]*fill="([^"]+)"'
)


def test_unit_trend_draws_each_period_on_its_own_bands_and_marks_predecessors():
    points = [
        TrendPoint(2023, "weighted_mean", "old", "quan_huyen", D("72.35"), "hinh_thanh",
                   "Hình thành", None),
        TrendPoint(2024, "predecessor", "old", "quan_huyen", D("81"), "nang_cao", "Nâng cao", 3),
        TrendPoint(2025, "same_unit", "new", "phuong_xa", D("74.5"), "hinh_thanh",
                   "Hình thành", 12),
    ]  # fmt: skip
    svg = unit_trend_chart(
        points,
        {("old", "quan_huyen"): LEVELS, ("new", "phuong_xa"): OTHER_LEVELS},
        chart_id="t",
        title="Xu hướng <phường>",
    )
    assert svg.startswith("<svg") and 'aria-labelledby="t-title t-desc"' in svg
    assert "Xu hướng &lt;phường&gt;" in svg
    drawn = POINT.findall(svg)
    assert [(int(p), D(pct), m, lv) for p, pct, m, lv, _ in drawn] == [
        (2023, D("72.35"), "weighted_mean", "hinh_thanh"),
        (2024, D("81"), "predecessor", "nang_cao"),
        (2025, D("74.5"), "same_unit", "hinh_thanh"),
    ]
    fills = [fill for *_, fill in drawn]
    assert fills[:2] == ["#ffffff", "#ffffff"] and fills[2] != "#ffffff"  # hollow = predecessors
    assert svg.count('stroke-dasharray="6 4"') == 2  # the two segments leaving them
    # three bands per column, each column with its framework's thresholds
    bands = re.findall(r'<rect class="band" data-level="(\w+)"[^>]*><title>([^<]+)</title>', svg)
    assert len(bands) == 9
    assert ("nang_cao", "Nâng cao: 80–100 %") in bands[:6]
    assert ("nang_cao", "Nâng cao: 75–100 %") in bands[6:]
    assert ">2023*</text>" in svg and ">2024*</text>" in svg and ">2025</text>" in svg
    desc = re.search(r'<desc id="t-desc">([^<]+)</desc>', svg).group(1)
    assert desc.startswith("2023: 72,35 %, Hình thành (bình quân gia quyền")


def test_block_trend_draws_range_median_and_counts_per_period():
    columns = [
        BlockColumn(2023, LEVELS, D("52.3"), D("75"), D("93.5"), 31,
                    {"nang_cao": 11, "hinh_thanh": 18, "khoi_dong": 2}),
        BlockColumn(2024, LEVELS, None, None, None, 0, {}),
    ]  # fmt: skip
    svg = block_trend_chart(columns, chart_id="b", title="Sở, ban, ngành")
    assert re.findall(
        r'<g class="period" data-period="(\d+)" data-scored="(\d+)" data-low="([\d.]+)" '
        r'data-median="([\d.]+)" data-high="([\d.]+)"',
        svg,
    ) == [("2023", "31", "52.3", "75", "93.5")]
    counts = re.findall(
        r'<tspan class="count" data-period="(\d+)" data-level="(\w+)" data-count="(\d+)"', svg
    )
    assert counts == [
        ("2023", "nang_cao", "11"),
        ("2023", "hinh_thanh", "18"),
        ("2023", "khoi_dong", "2"),
        ("2024", "nang_cao", "0"),
        ("2024", "hinh_thanh", "0"),
        ("2024", "khoi_dong", "0"),
    ]
    assert "trung vị 75 %" in svg


def _add_trend(warehouse: Path, period: int, unit: str, rows: list[tuple]) -> None:
    """What dbt's marts.fct_unit_trend holds for one unit (the fixture warehouse has no dbt)."""
    con = duckdb.connect(str(warehouse))
    try:
        con.execute(
            "create table if not exists marts.fct_unit_trend (period integer, unit_code varchar,"
            " trend_period integer, method varchar, compared_units integer,"
            " framework_version varchar, block varchar, percent decimal(7,2), level varchar,"
            " level_name varchar, rank integer, rank_group varchar)"
        )
        for trend_period, method, percent, level, name, rank in rows:
            con.execute(
                "insert into marts.fct_unit_trend values (?, ?, ?, ?, 1, 'hcm-2023', "
                "'so_nganh', ?, ?, ?, ?, '')",
                [period, unit, trend_period, method, percent, level, name, rank],
            )
    finally:
        con.close()


def _median(values: list[D]) -> D:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def test_two_periods_trends_and_the_index_of_periods_match_results_json(settings: Settings):
    # 2022: SO-D sent less (a different distribution); 2023: the small fixture
    earlier = small_units()
    earlier[3] = earlier[3].__class__(
        "SO-D", "Sở Y tế", "so_nganh", {"NTS.1": (D(5), None), "HTS.1": (D(10), None)}
    )
    make_warehouse(settings.warehouse, 2022, earlier)
    make_warehouse(settings.warehouse, 2023, small_units(), ledger=[])
    write_bundle(settings, 2022, passing_runs(2022))
    first_index = (settings.out / "index.html").read_text(encoding="utf-8")
    assert re.findall(r'<tr data-period="(\d+)"', first_index) == ["2022"]

    con = duckdb.connect(str(settings.warehouse), read_only=True)
    ((own,),) = con.execute(
        "select percent from marts.fct_unit_scores where period = 2023 and unit_code = 'SO-A'"
    ).fetchall()
    con.close()
    _add_trend(settings.warehouse, 2023, "SO-A", [
        (2022, "weighted_mean", D("61.5"), "hinh_thanh", "Hình thành", None),
        (2023, "same_unit", own, "nang_cao", "Nâng cao", 1),
    ])  # fmt: skip
    bundle = write_bundle(settings, 2023, passing_runs(2023))
    results = {
        p: json.loads((settings.out / str(p) / "results.json").read_text(encoding="utf-8"))
        for p in (2022, 2023)
    }

    # the block's trend on the 2023 index: both periods, as each results.json says
    index = (bundle / "index.html").read_text(encoding="utf-8")
    for block in ("so_nganh", "quan_huyen"):
        section = index[index.index(f'id="khoi-{block}"') :]
        section = section[: section.index("</section>")]
        drawn = re.findall(
            r'<g class="period" data-period="(\d+)" data-scored="(\d+)" data-low="([\d.]+)" '
            r'data-median="([\d.]+)" data-high="([\d.]+)"',
            section,
        )
        assert [d[0] for d in drawn] == ["2022", "2023"]
        for period, scored, low, mid, high in drawn:
            percents = [
                D(str(u["percent"]))
                for u in results[int(period)]["units"]
                if u["block"] == block and u["status"] == "scored"
            ]
            assert int(scored) == len(percents)
            assert (D(low), D(mid), D(high)) == (min(percents), _median(percents), max(percents))
        counts = re.findall(
            r'<tspan class="count" data-period="(\d+)" data-level="(\w+)" data-count="(\d+)"',
            section,
        )
        assert len(counts) == 2 * 3  # two periods, three levels each
        for period, level, count in counts:
            assert int(count) == sum(
                1
                for u in results[int(period)]["units"]
                if u["block"] == block and u["level"] == level
            )
        assert f'<table class="trend block-trend" data-block="{block}">' in section
    so_2022 = [u for u in results[2022]["units"] if u["block"] == "so_nganh" and u["percent"]]
    so_2023 = [u for u in results[2023]["units"] if u["block"] == "so_nganh" and u["percent"]]
    assert sorted(u["percent"] for u in so_2022) != sorted(u["percent"] for u in so_2023)

    # the unit's trend: results.json carries the mart's rows, the page draws them
    unit = next(u for u in results[2023]["units"] if u["unit_code"] == "SO-A")
    assert unit["trend"][0] == {
        "period": 2022, "method": "weighted_mean", "percent": 61.5, "level": "hinh_thanh",
        "rank": None,
    }  # fmt: skip
    page = (bundle / "don-vi" / unit_page_name("SO-A")).read_text(encoding="utf-8")
    drawn = POINT.findall(page)
    assert [(int(p), D(pct), m) for p, pct, m, _, _ in drawn] == [
        (t["period"], D(str(t["percent"])), t["method"]) for t in unit["trend"]
    ]
    assert len(drawn) == 2 and drawn[0][4] == "#ffffff" != drawn[1][4]
    assert 'data-method="weighted_mean"' in page and "Qua các kỳ đánh giá" in page
    other = (bundle / "don-vi" / unit_page_name("SO-B")).read_text(encoding="utf-8")
    assert "trend" not in next(u for u in results[2023]["units"] if u["unit_code"] == "SO-B")
    assert 'class="trend-none"' in other

    # OUT/index.html: both periods, newest first, each linking to its site; written by rename
    index_page = (settings.out / "index.html").read_text(encoding="utf-8")
    rows = re.findall(
        r'<tr data-period="(\d+)" data-status="(\w+)" data-publication="(\w+)">'
        r'<th scope="row"><a href="(\d+/index.html)">',
        index_page,
    )
    assert rows == [
        ("2023", "approved", "final", "2023/index.html"),
        ("2022", "approved", "final", "2022/index.html"),
    ]
    for _, _, _, link in rows:
        assert (settings.out / link).is_file()
    assert not [p for p in os.listdir(settings.out) if p.endswith(".tmp")]
    assert (settings.out / "index.html").stat().st_mode & 0o777 == 0o644


def test_a_draft_is_not_listed_until_it_is_approved(settings: Settings):
    make_warehouse(settings.warehouse, 2023, small_units())
    draft = write_bundle(settings, 2023, passing_runs(2023), approval_required=True)
    assert not (settings.out / "index.html").exists()  # nothing is published yet
    store = releases.ReleaseStore(settings.out, 2023)
    checksum = releases.read_manifest(draft)["bundle_sha256"]
    store.approve(1, by="Nguyễn Văn A", reviewed_sha256=checksum)
    page = (settings.out / "index.html").read_text(encoding="utf-8")
    assert re.findall(r'<tr data-period="(\d+)" data-status="(\w+)"', page) == [
        ("2023", "approved")
    ]


def test_index_of_periods_lists_blocks_in_vietnamese_order_and_dates_in_vietnam():
    page = render_site_index(
        [
            PeriodEntry(2025, 2, "approved", "preliminary", "2026-03-01T18:30:00Z",
                        ("so_nganh", "phuong_xa"), "hcm-2025", True),
            PeriodEntry(2023, 1, "approved", "final", "2024-03-07T02:00:00Z",
                        ("quan_huyen", "so_nganh"), "hcm-2023", False),
        ]
    )  # fmt: skip
    assert page.index("Năm 2025") < page.index("Năm 2023")
    assert "Phường, xã, đặc khu; Sở, ban, ngành" in page  # Ph… before S…
    assert '<time datetime="2026-03-01T18:30:00Z">02/03/2026</time>' in page  # 01:30 in Hà Nội
    assert "Đã công bố (sơ bộ)" in page and "KHÔNG đạt" in page
    assert 'href="2025/assets/site.css"' in page
    assert "Chưa có kỳ đánh giá nào" in render_site_index([])
