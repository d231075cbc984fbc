"""The map of the wards: every ward a point at its place, coloured by level, named on hover.

The warehouse is the publish fixture's (tests/publish/publish_marts_fixture.py) for the 2025
framework with the registry's real 168 wards and their coordinates (unit_locations.csv).
"""

from __future__ import annotations

import csv
import re
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from dti.settings import SEEDS_DIR, Settings
from publish.bundle import write_bundle
from publish.charts import NEUTRAL
from publish.collation import vietnamese_key
from publish.map import map_page_name
from tests.publish.publish_marts_fixture import (
    HCMC_LEVELS,
    make_warehouse,
    passing_runs,
    seed_frameworks,
    seed_units,
)

PERIOD = 2025
CIRCLE = re.compile(
    r'<a href="don-vi/(?P<page>[^"]+)" data-unit-code="(?P<code>[^"]+)" data-level="(?P<level>[^"]*)">'
    r'<circle cx="(?P<x>[\d.]+)" cy="(?P<y>[\d.]+)" r="5" fill="(?P<fill>#[0-9a-f]+)">'
    r"<title>(?P<title>[^<]+)</title></circle></a>"
)


def add_locations(warehouse: Path) -> None:
    """marts.dim_unit_locations from the registry seed, as dbt builds it."""
    con = duckdb.connect(str(warehouse))
    try:
        con.execute(
            "create or replace table marts.dim_unit_locations as "
            "select unit_code, official_code, division_type, "
            "cast(latitude as decimal(9, 6)) as latitude, "
            "cast(longitude as decimal(9, 6)) as longitude "
            "from read_csv(?, all_varchar = true)",
            [str(SEEDS_DIR / "unit_locations.csv")],
        )
    finally:
        con.close()


def build_2025_bundle(root: Path) -> Path:
    settings = Settings(
        inbox=root / "inbox", warehouse=root / "w.duckdb", out=root / "out", archive=root / "a"
    )
    units = seed_units(PERIOD, seed=PERIOD, version="hcm-2025")
    units = [u if u.code != "PX-27475" else type(u)(u.code, u.name, u.block) for u in units]
    make_warehouse(settings.warehouse, PERIOD, units, seed_frameworks("hcm-2025"), ledger=[])
    add_locations(settings.warehouse)
    return write_bundle(settings, PERIOD, passing_runs(PERIOD))


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_2025_bundle(tmp_path_factory.mktemp("map"))


def _wards() -> dict[str, dict[str, str]]:
    with (SEEDS_DIR / "units.csv").open(encoding="utf-8", newline="") as handle:
        return {r["unit_code"]: r for r in csv.DictReader(handle) if r["block"] == "phuong_xa"}


def test_every_ward_is_a_point_coloured_by_its_level(bundle: Path) -> None:
    import json

    units = {
        u["unit_code"]: u
        for u in json.loads((bundle / "results.json").read_text(encoding="utf-8"))["units"]
    }
    html = (bundle / map_page_name("phuong_xa")).read_text(encoding="utf-8")
    points = {m["code"]: m for m in CIRCLE.finditer(html)}
    assert set(points) == set(_wards())
    assert 'data-points="168"' in html
    colours = {code: colour for code, _, _, colour, _ in HCMC_LEVELS}  # the registry's
    levels = set()
    for code, point in points.items():
        unit = units[code]
        assert point["level"] == (unit["level"] or "")
        assert point["fill"] == (colours[unit["level"]] if unit["level"] else NEUTRAL)
        assert point["title"].startswith(unit["unit_name"] + " — ")
        assert (bundle / "don-vi" / point["page"]).is_file()
        levels.add(unit["level"])
    assert levels == {"khoi_dong", "hinh_thanh", "nang_cao", None}
    assert points["PX-27475"]["title"] == "Phường Tân Hưng — chưa nộp"


def test_hover_text_gives_the_percent_level_and_rank(bundle: Path) -> None:
    import json

    units = json.loads((bundle / "results.json").read_text(encoding="utf-8"))["units"]
    first = next(u for u in units if u["block"] == "phuong_xa" and u["rank"] == 1)
    html = (bundle / map_page_name("phuong_xa")).read_text(encoding="utf-8")
    point = next(m for m in CIRCLE.finditer(html) if m["code"] == first["unit_code"])
    percent = format(Decimal(str(first["percent"])), "f").replace(".", ",")
    assert point["title"] == f"{first['unit_name']} — {percent} % (Nâng cao), hạng 1"


def test_the_list_beside_the_map_is_in_vietnamese_name_order(bundle: Path) -> None:
    html = (bundle / map_page_name("phuong_xa")).read_text(encoding="utf-8")
    listed = re.findall(r'<li data-unit-code="([^"]+)">', html)
    wards = _wards()
    assert sorted(listed) == sorted(wards)
    names = [wards[code]["unit_name"] for code in listed]
    assert names == sorted(names, key=vietnamese_key)


def test_con_dao_goes_into_the_inset_and_the_city_keeps_its_shape(bundle: Path) -> None:
    html = (bundle / map_page_name("phuong_xa")).read_text(encoding="utf-8")
    points = {m["code"]: m for m in CIRCLE.finditer(html)}
    assert ">Đặc khu Côn Đảo (khung phụ)<" in html
    inset = re.search(r'<rect class="inset" x="16" y="([\d.]+)" width="120" height="120"', html)
    assert inset
    top = Decimal(inset[1])
    con_dao = points["PX-26732"]
    assert 16 < Decimal(con_dao["x"]) < 136 and top < Decimal(con_dao["y"]) < top + 120
    saigon, thu_dau_mot = points["PX-26740"], points["PX-25747"]  # Thủ Dầu Một lies north
    assert Decimal(thu_dau_mot["y"]) < Decimal(saigon["y"])


def test_index_links_the_map_and_blocks_without_places_get_none(bundle: Path) -> None:
    index = (bundle / "index.html").read_text(encoding="utf-8")
    assert f'href="{map_page_name("phuong_xa")}"' in index
    assert not (bundle / map_page_name("so_nganh")).exists()
    manifest = (bundle / "manifest.json").read_text(encoding="utf-8")
    assert map_page_name("phuong_xa") in manifest
