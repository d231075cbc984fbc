import json
import re
from decimal import Decimal as D
from html.parser import HTMLParser

import pytest

from dti.codes import CodeError
from publish.bundle import write_bundle
from tests.publish.publish_marts_fixture import UnitSpec, make_warehouse, passing_runs, small_units


class _Tables(HTMLParser):
    """Rows of the ranking tables: (unit code, rank text, name text, level attribute)."""

    def __init__(self):
        super().__init__()
        self.rows, self._row, self._cell, self._in = [], None, [], None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "tr" and "data-unit-code" in a:
            self._row = {"code": a["data-unit-code"], "cells": [], "level": None}
        elif self._row is not None and tag in ("td", "th"):
            self._in, self._cell = tag, []
        elif self._row is not None and tag == "span" and "data-level" in a:
            self._row["level"] = a["data-level"]

    def handle_endtag(self, tag):
        if self._row is not None and tag == self._in:
            self._row["cells"].append("".join(self._cell).strip())
            self._in = None
        elif tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._in:
            self._cell.append(data)


def _bundle(settings, units=None, period=2023):
    make_warehouse(settings.warehouse, period, units or small_units())
    return write_bundle(settings, period, passing_runs(period))


def test_index_ranks_every_unit_with_level_and_vietnamese_numbers(small_warehouse):
    bundle = write_bundle(small_warehouse, 2023, passing_runs(2023))
    html = (bundle / "index.html").read_text(encoding="utf-8")
    parser = _Tables()
    parser.feed(html)
    results = json.loads((bundle / "results.json").read_text(encoding="utf-8"))["units"]
    assert {r["code"] for r in parser.rows} == {u["unit_code"] for u in results}
    by_code = {r["code"]: r for r in parser.rows}
    for unit in results:
        row = by_code[unit["unit_code"]]
        assert row["cells"][0] == (str(unit["rank"]) if unit["rank"] else "—")
        assert row["cells"][1].startswith(unit["unit_name"])
        assert row["level"] == (unit["level"] or "")
    assert by_code["QH-PN"]["cells"][2] == "96,95"  # decimal comma
    assert by_code["SO-A"]["cells"][6:] == ["23,00", "23,50"]  # pillar columns, 2 decimals
    assert by_code["SO-E"]["cells"][5] == "Chưa nộp"
    assert 'lang="vi"' in html and "<caption>" in html and 'scope="col"' in html


def test_ties_share_a_rank_and_sort_by_vietnamese_name(small_warehouse):
    html = (write_bundle(small_warehouse, 2023, passing_runs(2023)) / "index.html").read_text()
    parser = _Tables()
    parser.feed(html)
    so = [r["code"] for r in parser.rows if r["code"].startswith("SO-")]
    assert so == ["SO-A", "SO-C", "SO-D", "SO-B", "SO-E"]  # Sở Tài chính before Sở Y tế, rank 2


def test_unit_directory_follows_vietnamese_alphabetical_order(small_warehouse):
    html = (write_bundle(small_warehouse, 2023, passing_runs(2023)) / "index.html").read_text()
    directory = html[html.index('<ol class="directory">') :]
    names = re.findall(r'<li><a href="don-vi/[^"]+">([^<]+)</a>', directory)
    assert names == [
        "Ban Quản lý Khu Nam",
        "Quận 2",
        "Quận 10",
        "Quận Phú Nhuận",
        "Sở Nội vụ",
        "Sở Tài chính",
        "Sở Xây dựng",
        "Sở Y tế",
    ]


def test_counts_per_level_and_distribution_chart(small_warehouse):
    html = (write_bundle(small_warehouse, 2023, passing_runs(2023)) / "index.html").read_text()
    so = html[html.index('id="khoi-so_nganh"') :]
    counts = dict(re.findall(r'data-count-level="([a-z_]*)">(\d+)<', so))
    assert counts == {"nang_cao": "3", "khoi_dong": "1", "": "1"}
    assert "<svg" in so and "Phân bố tỷ lệ điểm" in so
    assert "80–90 %: 2 đơn vị" in so and "90–100 %: 1 đơn vị" in so


def test_the_site_works_offline(small_warehouse):
    bundle = write_bundle(small_warehouse, 2023, passing_runs(2023))
    for page in bundle.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert "<script" not in text.lower(), page
        urls = re.findall(r'(?:href|src)="([^"]+)"', text)
        assert all(not re.match(r"[a-z]+:|//", u) for u in urls), (page, urls)
        for url in urls:  # every relative link resolves inside the bundle
            assert (page.parent / url.split("#")[0]).resolve().exists() or url.startswith("#"), url
    css = (bundle / "assets" / "site.css").read_text()
    assert "@media print" in css and "@import" not in css and "url(" not in css


def test_text_from_data_is_escaped_everywhere(settings):
    evil = '<script>alert("x")</script> & <b>Sở</b>'
    bundle = _bundle(
        settings,
        [
            UnitSpec("SO-EVIL", evil, "so_nganh", {"NTS.1": (D(10), None)}),
        ],
    )
    escaped = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;Sở&lt;/b&gt;"
    for page in ["index.html", "don-vi/SO-EVIL.html"]:
        text = (bundle / page).read_text(encoding="utf-8")
        assert "<script" not in text and "<b>Sở" not in text
        assert escaped in text


def test_a_code_outside_the_grammar_names_no_file(settings):
    """A unit code that is markup (kept out by `dti registry check` and the framework
    checkpoint) is refused where it would become a file name, never rewritten into one."""
    with pytest.raises(CodeError, match="cannot name a file"):
        _bundle(
            settings,
            [UnitSpec("<img src=x>", "Sở Tư pháp", "so_nganh", {"NTS.1": (D(5), None)})],
        )
    assert not list(settings.out.rglob("*.html"))


def test_unit_page_shows_pillars_against_median_self_vs_appraised_and_unanswered(small_warehouse):
    bundle = write_bundle(small_warehouse, 2023, passing_runs(2023))
    page = (bundle / "don-vi" / "SO-A.html").read_text(encoding="utf-8")
    assert "<h1>Sở Nội vụ</h1>" in page
    assert '<span class="rank">1</span> / 4' in page
    assert '<td class="num self-total">48,50</td>' in page
    assert '<td class="num final-total">46,50</td>' in page
    assert 'class="difference"><span class="down">-2,00</span>' in page
    # Block median of the NTS percent over the four scored departments: 92, 80, 80, 20 → 80.
    nts = re.search(r'<tr data-pillar-code="NTS">(.*?)</tr>', page).group(1)
    assert re.findall(r'<td class="num">([^<]*)</td>', nts)[-1] == "80,00"
    assert "Trung vị của khối" in page and "<svg" in page
    assert "Đơn vị đã trả lời tất cả chỉ số thành phần." in page
    # the evidence the counted answer cites: the council's on NTS.2, the unit's elsewhere
    assert (
        '<td class="evidence">Biên bản HĐ NTS.2<br><small class="appraisal">Thẩm định '
        "(Nguyễn Thị Thẩm): Điều chỉnh NTS.2 theo hồ sơ</small></td>" in page
    )
    assert '<td class="evidence">BC HTS.1/SO-A</td>' in page

    khu_nam = (bundle / "don-vi" / "SO-B.html").read_text(encoding="utf-8")
    unanswered = re.findall(r'<li data-indicator-code="([^"]+)">', khu_nam)
    assert unanswered == ["NTS.2", "NTS.10"]
    assert "2 chỉ số thành phần chưa có câu trả lời, mất 15 điểm." in khu_nam


def test_unit_page_of_a_unit_that_did_not_submit(small_warehouse):
    page = write_bundle(small_warehouse, 2023, passing_runs(2023)) / "don-vi" / "SO-E.html"
    text = page.read_text(encoding="utf-8")
    assert "Chưa nộp kết quả tự đánh giá" in text and '<span class="rank">' not in text


def test_year_over_year_change_when_the_previous_period_exists(settings):
    make_warehouse(settings.warehouse, 2022, small_units())
    write_bundle(settings, 2022, passing_runs(2022))
    units = small_units()
    units[1].answers["NTS.2"] = (D(10), None)  # Ban Quản lý Khu Nam improves by 10 points
    con_units = units  # the same registry, one year later
    make_warehouse(settings.warehouse, 2023, con_units, ledger=[])
    bundle = write_bundle(settings, 2023, passing_runs(2023))
    page = (bundle / "don-vi" / "SO-B.html").read_text(encoding="utf-8")
    assert "So sánh năm 2023 với năm 2022" in page
    total_row = re.search(r"<th scope=\"row\">Tổng điểm</th>(.*?)</tr>", page).group(1)
    assert re.findall(r'<td class="num">(.*?)</td>', total_row) == [
        "17,25",
        "27,25",
        '<span class="up">+10,00</span>',
    ]
    first_year = (settings.out / "2022" / "don-vi" / "SO-B.html").read_text(encoding="utf-8")
    assert "Chưa có kết quả năm 2021 của đơn vị để so sánh." in first_year


def test_a_unit_assessed_without_a_rank_shows_its_level_and_reason_and_takes_no_place(settings):
    reason = "Cơ quan Trung ương đóng trên địa bàn: đánh giá, không xếp hạng"
    bundle = _bundle(
        settings,
        [
            UnitSpec("SO-TW", "Kho bạc Nhà nước khu vực", "so_nganh", {"NTS.1": (D(10), None)},
                     not_ranked_reason=reason),
            UnitSpec("SO-A", "Sở Tư pháp", "so_nganh", {"NTS.1": (D(5), None)}),
            UnitSpec("SO-B", "Sở Y tế", "so_nganh", {"NTS.1": (D(2), None)}),
        ],
    )  # fmt: skip
    results = json.loads((bundle / "results.json").read_text(encoding="utf-8"))
    units = {u["unit_code"]: u for u in results["units"]}
    assert (units["SO-TW"]["rank"], units["SO-TW"]["not_ranked_reason"]) == (None, reason)
    assert units["SO-TW"]["level"] is not None
    assert (units["SO-A"]["rank"], units["SO-B"]["rank"]) == (1, 2), "the best total took no place"
    assert units["SO-A"]["not_ranked_reason"] is None
    index = (bundle / "index.html").read_text(encoding="utf-8")
    row = re.search(r'<tr data-unit-code="SO-TW"[^>]*>(.*?)</tr>', index).group(1)
    assert "Không xếp hạng" in row and 'class="badge ' in row
    assert index.index('data-unit-code="SO-B"') < index.index('<tr data-unit-code="SO-TW"')
    assert f'<li data-unit-code="SO-TW">Kho bạc Nhà nước khu vực: {reason}</li>' in index
    page = (bundle / "don-vi" / "SO-TW.html").read_text(encoding="utf-8")
    assert f"Không xếp hạng</span>: {reason}" in page


def test_an_indicator_not_scored_shows_the_value_instead_of_points():
    from publish.marts import IndicatorPoints
    from publish.site import _information_row

    row = _information_row(
        IndicatorPoints(
            "TT", "TT.1", "Số cán bộ chuyên trách", "tiers", D(0), "12", "14", "appraisal",
            True, False, D(0), D(0),
        )
    )  # fmt: skip
    assert 'colspan="4"' in row and "không tính điểm" in row
    assert '<span class="value">14</span>' in row, "the council's value when it corrected it"
