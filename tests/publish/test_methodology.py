"""The methodology page (phương pháp đánh giá) lists the registry the scores were computed with."""

from __future__ import annotations

import html
import re

import duckdb

from publish.bundle import write_bundle
from tests.publish.publish_marts_fixture import passing_runs


def _page(bundle) -> str:
    return html.unescape((bundle / "phuong-phap.html").read_text(encoding="utf-8"))


def test_the_methodology_lists_every_indicator_of_the_registry(small_warehouse):
    con = duckdb.connect(str(small_warehouse.warehouse))
    con.execute(
        "update marts.dim_indicators set method = 'tiers', tiers = '5:2|10:3.5' "
        "where indicator_code = 'NTS.10'"
    )
    con.execute("update marts.dim_indicators set target = 80 where indicator_code = 'HTS.1'")
    con.execute("update marts.dim_indicators set method = 'ratio' where indicator_code = 'HTS.1'")
    con.execute("update marts.dim_indicators set method = 'ratio' where indicator_code = 'NTS.2'")
    registry = con.execute(
        "select block, pillar_code, indicator_code, indicator_name, max_points "
        "from marts.dim_indicators"
    ).fetchall()
    con.close()
    page = _page(write_bundle(small_warehouse, 2023, passing_runs(2023)))

    listed = re.findall(r'data-indicator="([^"]+)"', page)
    assert sorted(listed) == sorted(code for _, _, code, _, _ in registry)
    for _block, _pillar, code, name, _max in registry:
        assert f'<th scope="row">{code}</th><td>{name}</td>' in page, code
    assert "từ 5: 2 điểm; từ 10: 3,5 điểm" in page
    assert "chỉ tiêu 80" in page
    assert "chỉ tiêu 100" in page  # a ratio without a target: 100 (results.md §3)
    # the pillars with their maximum, the thresholds on the block's scale, the rank groups
    assert re.search(r"NTS — Nhận thức số \(tối đa [\d,]+ điểm\)", page)
    assert "Khung đánh giá <strong>hcm-2023</strong>" in page
    assert "một bảng xếp hạng chung cho cả khối" in page
    assert "Nâng cao</th><td>80 %</td>" in page


def test_every_page_links_the_methodology(small_warehouse):
    bundle = write_bundle(small_warehouse, 2023, passing_runs(2023))
    for page in [bundle / "index.html", *(bundle / "don-vi").iterdir()]:
        text = page.read_text(encoding="utf-8")
        root = "../" if page.parent.name == "don-vi" else ""
        assert f'href="{root}phuong-phap.html"' in text, page
    index = (bundle / "index.html").read_text(encoding="utf-8")
    assert 'href="results_so_nganh.xlsx"' in index
