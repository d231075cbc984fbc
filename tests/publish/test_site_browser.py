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
