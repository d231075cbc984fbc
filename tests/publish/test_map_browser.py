"""The wards' map in headless Chromium: every ward is drawn, inside the map, and named.

Screenshots go to ``<repo>/out/screenshots/`` for review.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dti.settings import PROJECT_ROOT
from publish.map import map_page_name
from tests.browser import headless_chromium
from tests.publish.test_map import build_2025_bundle

pytestmark = pytest.mark.e2e

SCREENSHOTS = PROJECT_ROOT / "out" / "screenshots"
POINTS_JS = """
const svg = document.querySelector('svg.map').getBoundingClientRect();
return [...document.querySelectorAll('svg.map circle')].map(c => {
  const r = c.getBoundingClientRect();
  return {
    code: c.closest('a').dataset.unitCode,
    title: c.querySelector('title').textContent,
    fill: getComputedStyle(c).fill,
    width: r.width,
    inside: r.left >= svg.left && r.right <= svg.right && r.top >= svg.top
      && r.bottom <= svg.bottom,
  };
});
"""
LIST_JS = """
return [...document.querySelectorAll('ol.map-list li')].map(li => ({
  code: li.dataset.unitCode, text: li.innerText.trim(),
  visible: li.getBoundingClientRect().height > 0}));
"""


def test_every_ward_is_drawn_inside_the_map_and_listed_beside_it(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    bundle: Path = build_2025_bundle(tmp_path_factory.mktemp("map-site"))
    units = {
        u["unit_code"]: u
        for u in json.loads((bundle / "results.json").read_text(encoding="utf-8"))["units"]
        if u["block"] == "phuong_xa"
    }
    with headless_chromium(tmp_path_factory.mktemp("chromium-profile"), "--lang=vi-VN") as driver:
        driver.get((bundle / "index.html").as_uri())
        driver.find_element(By.CSS_SELECTOR, f'a[href="{map_page_name("phuong_xa")}"]').click()
        assert driver.title.startswith("Bản đồ kết quả DTI năm 2025")

        points = driver.execute_script(POINTS_JS)
        assert sorted(p["code"] for p in points) == sorted(units), "every ward drawn once"
        for point in points:
            assert point["width"] > 4 and point["inside"], point
            assert point["title"].startswith(units[point["code"]]["unit_name"] + " — ")
        fills = {p["fill"] for p in points}
        assert len(fills) == 4  # three levels and not submitted

        listed = driver.execute_script(LIST_JS)
        assert sorted(item["code"] for item in listed) == sorted(units)
        assert all(item["visible"] for item in listed[:20])

        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        driver.set_window_size(1400, 1200)
        path = SCREENSHOTS / "2025-map-phuong_xa.png"
        driver.save_screenshot(str(path))
        assert path.stat().st_size > 20_000, f"{path} looks empty"

        # the point is a link to the ward's page
        first = next(u for u in units.values() if u["rank"] == 1)
        circle = driver.find_element(
            By.CSS_SELECTOR, f'svg.map a[data-unit-code="{first["unit_code"]}"] circle'
        )
        ActionChains(driver).move_to_element(circle).click().perform()
        assert driver.find_element(By.TAG_NAME, "h1").text == first["unit_name"]
