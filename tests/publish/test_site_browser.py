"""The published site in headless Chromium: what a reader sees matches results.json.

Screenshots go to ``<repo>/out/screenshots/`` for review.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from dti.settings import PROJECT_ROOT
from publish.bundle import write_bundle
from tests.browser import headless_chromium
from tests.publish.publish_marts_fixture import (
    make_warehouse,
    passing_runs,
    seed_frameworks,
    seed_units,
)

pytestmark = pytest.mark.e2e

SCREENSHOTS = PROJECT_ROOT / "out" / "screenshots"
ROWS_JS = """
return [...document.querySelectorAll('table.ranking tbody tr')].map(tr => ({
  block: tr.closest('table').dataset.block,
  code: tr.dataset.unitCode,
  rank: tr.cells[0].innerText.trim(),
  name: tr.querySelector('.unit-name').innerText.trim(),
  total: tr.cells[2].innerText.trim(),
  badge: tr.querySelector('.badge').innerText.trim(),
  level: tr.querySelector('.badge').dataset.level,
  visible: tr.getBoundingClientRect().height > 0,
}));
"""
COUNTS_JS = """
const out = {};
for (const section of document.querySelectorAll('section.block')) {
  const counts = {};
  for (const el of section.querySelectorAll('[data-count-level]')) {
    counts[el.dataset.countLevel] = el.innerText.trim();
  }
  out[section.querySelector('table.ranking').dataset.block] = {
    counts: counts,
    chart_height: section.querySelector('svg.chart').getBoundingClientRect().height,
  };
}
return out;
"""
LEVEL_LABELS = {"khoi_dong": "Khởi động", "hinh_thanh": "Hình thành", "nang_cao": "Nâng cao"}


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with headless_chromium(tmp_path_factory.mktemp("chromium-profile"), "--lang=vi-VN") as driver:
        yield driver


@pytest.fixture(scope="module")
def seeded_site(tmp_path_factory):
    """The whole HCMC registry, 2022 and 2023, built into a bundle like the demo's."""
    from dti.settings import Settings

    root = tmp_path_factory.mktemp("site")
    settings = Settings(
        inbox=root / "inbox", warehouse=root / "w.duckdb", out=root / "out", archive=root / "a"
    )
    frameworks = seed_frameworks()
    make_warehouse(settings.warehouse, 2022, seed_units(2022, seed=2022), frameworks)
    make_warehouse(settings.warehouse, 2023, seed_units(2023, seed=2023), frameworks, ledger=[])
    write_bundle(settings, 2022, passing_runs(2022))
    return write_bundle(settings, 2023, passing_runs(2023))


def vn_decimal(text: str) -> Decimal:
    """A number as the site shows it (1.234,5) read back exactly."""
    return Decimal(text.replace(".", "").replace(",", "."))


def _screenshot(driver, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1400, min(max(height, 800), 16000))
    path = SCREENSHOTS / name
    driver.save_screenshot(str(path))
    driver.set_window_size(1400, 1000)
    assert path.stat().st_size > 10_000, f"{path} looks empty"
    return path


def check_site(driver, bundle_dir: Path, label: str) -> None:
    from selenium.webdriver.common.by import By

    results = json.loads((bundle_dir / "results.json").read_text(encoding="utf-8"))
    units = {u["unit_code"]: u for u in results["units"]}
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    driver.get((bundle_dir / "index.html").as_uri())
    assert "Chỉ số chuyển đổi số" in driver.title

    # What the reader sees (rendered text, not the HTML source), read in one round trip.
    rows = driver.execute_script(ROWS_JS)
    assert {r["code"] for r in rows} == set(units), "every unit of results.json is listed"
    last_rank: dict[str, int] = {}
    for r in rows:
        unit = units[r["code"]]
        assert r["visible"] and unit["block"] == r["block"]
        assert r["name"] == unit["unit_name"]
        if unit["status"] == "scored":
            assert r["rank"] == str(unit["rank"])
            assert int(r["rank"]) >= last_rank.get(r["block"], 0)  # shown in rank order
            last_rank[r["block"]] = int(r["rank"])
            assert r["badge"] == LEVEL_LABELS[unit["level"]] and r["level"] == unit["level"]
            assert re.fullmatch(r"\d{1,3}(\.\d{3})*(,\d{1,2})?", r["total"]), r["total"]
            assert vn_decimal(r["total"]) == Decimal(str(unit["total_score"]))
        else:
            assert r["rank"] == "—" and r["badge"] == "Chưa nộp"

    counts = driver.execute_script(COUNTS_JS)
    for block, shown in counts.items():
        expected: dict[str, int] = {}
        for u in results["units"]:
            if u["block"] == block:
                expected[u["level"] or ""] = expected.get(u["level"] or "", 0) + 1
        assert {k: int(v) for k, v in shown["counts"].items()} == expected, block
        assert shown["chart_height"] > 100
    assert set(counts) == {u["block"] for u in results["units"]}
    driver.save_screenshot(str(SCREENSHOTS / f"{label}-index-top.png"))
    _screenshot(driver, f"{label}-index.png")

    first = next(u for u in results["units"] if u["block"] == "so_nganh" and u["rank"] == 1)
    driver.find_element(By.CSS_SELECTOR, f'tr[data-unit-code="{first["unit_code"]}"] th a').click()
    assert driver.find_element(By.TAG_NAME, "h1").text == first["unit_name"]
    assert driver.find_element(By.CSS_SELECTOR, "dl.facts .rank").text == "1"
    total = driver.find_element(By.CSS_SELECTOR, "dl.facts .total").text
    assert vn_decimal(total) == Decimal(str(first["total_score"]))
    chart = driver.find_element(By.CSS_SELECTOR, "#h-pillars + figure svg")
    assert len(chart.find_elements(By.CSS_SELECTOR, "rect[height='18']")) == 2 * len(
        first["pillars"]
    )
    pillar_rows = driver.find_elements(By.CSS_SELECTOR, "table.pillars tbody tr")
    assert [r.get_attribute("data-pillar-code") for r in pillar_rows] == [
        p["pillar_code"] for p in first["pillars"]
    ]
    unanswered = [
        li.get_attribute("data-indicator-code")
        for li in driver.find_elements(By.CSS_SELECTOR, "ul.unanswered li")
    ]
    assert unanswered == first["unanswered"]
    _screenshot(driver, f"{label}-unit-{first['unit_code']}.png")


def test_seeded_site_shows_what_results_json_says(browser, seeded_site):
    check_site(browser, seeded_site, "seeded-2023")
    # Year over year: the 2022 bundle exists, so unit pages compare with it.
    from selenium.webdriver.common.by import By

    assert browser.find_element(By.CSS_SELECTOR, "table.yoy caption").text == (
        "So sánh năm 2023 với năm 2022"
    )
    # Back to the ranking, then print preview: the print stylesheet hides the navigation.
    browser.find_element(By.CSS_SELECTOR, "nav.blocks a").click()
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    try:
        assert not browser.find_element(By.CSS_SELECTOR, "nav.blocks").is_displayed()
        _screenshot(browser, "seeded-2023-index-print.png")
    finally:
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})


def test_demo_site_shows_what_results_json_says(browser, tmp_path):
    """The site `make demo` wrote into <repo>/out/2023 (run `make demo` first)."""
    demo = Path(os.environ.get("DTI_DEMO_BUNDLE") or PROJECT_ROOT / "out" / "2023")
    if not (demo / "index.html").is_file():
        pytest.skip("no demo bundle in out/2023: run `make demo` first")
    copy = tmp_path / "2023"
    shutil.copytree(demo, copy, ignore=shutil.ignore_patterns("releases"))
    check_site(browser, copy, "demo-2023")


YEARS_SCREENSHOTS = PROJECT_ROOT / "scratch" / "screenshots"
UNIT_TREND_JS = """
return [...document.querySelectorAll('#xu-huong-title')].length ? [
  ...document.querySelector('figure.trend svg').querySelectorAll('circle.point')].map(c => ({
    period: c.dataset.period, percent: c.dataset.percent, method: c.dataset.method,
    level: c.dataset.level, fill: getComputedStyle(c).fill,
    title: c.querySelector('title').textContent})) : null;
"""
BLOCK_TREND_JS = """
const section = document.querySelector(`section.block table.ranking[data-block="${arguments[0]}"]`)
  .closest('section.block');
const svg = section.querySelector('figure.trend svg');
return {
  periods: [...svg.querySelectorAll('g.period')].map(g => ({
    period: g.dataset.period, scored: g.dataset.scored, low: g.dataset.low,
    median: g.dataset.median, high: g.dataset.high})),
  counts: [...svg.querySelectorAll('tspan.count')].map(t => ({
    period: t.dataset.period, level: t.dataset.level, count: t.dataset.count})),
  height: svg.getBoundingClientRect().height,
  rows: [...section.querySelectorAll('table.block-trend tbody tr')].map(tr => tr.dataset.period),
};
"""


def _shot(driver, name: str) -> Path:
    YEARS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    # the top of a long page is enough to look at; a 16000-pixel capture of the 2025 index
    # can outlast the renderer's 10 s on a loaded machine
    driver.set_window_size(1400, min(max(height, 800), 5000))
    path = YEARS_SCREENSHOTS / name
    driver.save_screenshot(str(path))
    driver.set_window_size(1400, 1000)
    assert path.stat().st_size > 10_000, f"{path} looks empty"
    return path


def _median(values: list[Decimal]) -> Decimal:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def test_demo_years_side_by_side(browser, tmp_path):
    """`make demo`'s out/ (run it first): the index of the periods, a 2025 ward against its
    2024 districts with the method, the departments' trend over the three periods, the map.

    Screenshots go to <repo>/scratch/screenshots/.
    """
    from selenium.webdriver.common.by import By

    demo_out = Path(os.environ.get("DTI_DEMO_OUT") or PROJECT_ROOT / "out")
    if not all((demo_out / str(p) / "results.json").is_file() for p in (2023, 2024, 2025)):
        pytest.skip("no three-period demo in out/: run `make demo` first")
    out = tmp_path / "out"
    shutil.copytree(demo_out, out, symlinks=True, ignore=shutil.ignore_patterns("screenshots"))
    results = {
        p: json.loads((out / str(p) / "results.json").read_text(encoding="utf-8"))
        for p in (2023, 2024, 2025)
    }

    # The index of every period: newest first, each a link to its site.
    browser.get((out / "index.html").as_uri())
    rows = browser.find_elements(By.CSS_SELECTOR, "table.periods tbody tr")
    assert [r.get_attribute("data-period") for r in rows] == ["2025", "2024", "2023"]
    assert all(r.get_attribute("data-status") == "approved" for r in rows)
    assert all("Đã công bố" in r.text for r in rows)
    _shot(browser, "demo-periods-index.png")
    browser.find_element(By.LINK_TEXT, "Năm 2025").click()
    assert browser.title == "Chỉ số chuyển đổi số (DTI) năm 2025"

    # The departments' trend covers the three periods, each as its results.json says.
    trend = browser.execute_script(BLOCK_TREND_JS, "so_nganh")
    assert trend["rows"] == ["2023", "2024", "2025"] and trend["height"] > 100
    for shown in trend["periods"]:
        units = [
            u
            for u in results[int(shown["period"])]["units"]
            if u["block"] == "so_nganh" and u["status"] == "scored"
        ]
        percents = [Decimal(str(u["percent"])) for u in units]
        assert int(shown["scored"]) == len(units)
        assert Decimal(shown["low"]) == min(percents)
        assert Decimal(shown["high"]) == max(percents)
        assert Decimal(shown["median"]) == _median(percents)
    assert [p["period"] for p in trend["periods"]] == ["2023", "2024", "2025"]
    assert len(trend["counts"]) == 3 * 3  # three periods, three levels each
    for count in trend["counts"]:
        expected = sum(
            1
            for u in results[int(count["period"])]["units"]
            if u["block"] == "so_nganh" and u["level"] == count["level"]
        )
        assert int(count["count"]) == expected, count
    _shot(browser, "demo-2025-index.png")
    browser.find_element(By.CSS_SELECTOR, "section#khoi-so_nganh figure.trend").screenshot(
        str(YEARS_SCREENSHOTS / "demo-2025-so_nganh-trend.png")
    )

    # A 2025 ward formed from several 2024 districts: their results and the method.
    ward = next(
        u
        for u in results[2025]["units"]
        if u["block"] == "phuong_xa" and u.get("previous", {}).get("method") == "weighted_mean"
    )
    browser.find_element(By.CSS_SELECTOR, f'tr[data-unit-code="{ward["unit_code"]}"] th a').click()
    assert browser.find_element(By.TAG_NAME, "h1").text == ward["unit_name"]
    method = browser.find_element(By.CSS_SELECTOR, "p.yoy-method")
    assert method.get_attribute("data-method") == "weighted_mean"
    assert "bình quân" in method.text and "2024" in method.text
    compared = browser.find_elements(By.CSS_SELECTOR, "table.yoy-lineage tbody tr")
    assert [r.get_attribute("data-compared-code") for r in compared] == [
        c["unit_code"] for c in ward["previous"]["compared"]
    ]
    districts_2024 = {u["unit_code"]: u for u in results[2024]["units"]}
    for row, c in zip(compared, ward["previous"]["compared"], strict=True):
        district = districts_2024[c["unit_code"]]
        assert district["unit_name"] in row.text
        assert vn_decimal(row.find_elements(By.CSS_SELECTOR, "td")[1].text) == Decimal(
            str(district["percent"])
        )
    points = browser.execute_script(UNIT_TREND_JS)
    assert [(p["period"], p["method"]) for p in points] == [
        (str(t["period"]), t["method"]) for t in ward["trend"]
    ]
    assert [p["period"] for p in points] == ["2023", "2024", "2025"]
    for point, t in zip(points, ward["trend"], strict=True):
        assert Decimal(point["percent"]) == Decimal(str(t["percent"]))
        assert point["level"] == t["level"]
    assert points[1]["method"] == "weighted_mean"
    assert Decimal(points[1]["percent"]) == Decimal(str(ward["previous"]["percent"]))
    # predecessors' points are hollow (white), the ward's own is filled
    assert points[0]["fill"] == points[1]["fill"] == "rgb(255, 255, 255)" != points[2]["fill"]
    assert "bình quân gia quyền" in points[1]["title"]
    _shot(browser, f"demo-2025-ward-{ward['unit_code']}.png")
    browser.find_element(By.CSS_SELECTOR, "figure.trend").screenshot(
        str(YEARS_SCREENSHOTS / f"demo-2025-ward-{ward['unit_code']}-trend.png")
    )
    browser.find_element(By.CSS_SELECTOR, "table.yoy-lineage").screenshot(
        str(YEARS_SCREENSHOTS / f"demo-2025-ward-{ward['unit_code']}-predecessors.png")
    )

    # The map draws every ward.
    browser.get((out / "2025" / "ban-do-phuong_xa.html").as_uri())
    wards = {u["unit_code"] for u in results[2025]["units"] if u["block"] == "phuong_xa"}
    drawn = browser.execute_script(
        "return [...document.querySelectorAll('svg.map a[data-unit-code]')]"
        ".map(a => a.dataset.unitCode);"
    )
    assert sorted(drawn) == sorted(wards) and len(wards) == 168
    _shot(browser, "demo-2025-map-phuong_xa.png")
