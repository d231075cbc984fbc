"""The Giải trình kết quả section of the unit pages (publish.explanation), on the small
fixture: neighbours by brute force over results.json, thresholds in points, and a page
rendered again when only a neighbour changed."""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal

from publish import incremental
from publish.bundle import write_bundle
from publish.explanation import explanations, least_total
from publish.marts import read_period
from publish.site import unit_pages
from tests.publish.publish_marts_fixture import passing_runs


def test_neighbours_are_the_next_distinct_ranks_of_the_rank_group(small_warehouse) -> None:
    bundle = write_bundle(small_warehouse, 2023, passing_runs(2023))
    units = json.loads((bundle / "results.json").read_text(encoding="utf-8"))["units"]
    marts, _ = read_period(small_warehouse.warehouse, 2023)
    found = explanations(marts)
    group_of = {u.unit_code: (u.block, u.rank_group) for u in marts.units}
    for unit in units:
        got = found[unit["unit_code"]]
        peers = [
            u
            for u in units
            if group_of[u["unit_code"]] == group_of[unit["unit_code"]] and u["rank"] is not None
        ]
        assert got.ranked_units == len(peers)
        if unit["rank"] is None:
            assert (got.just_above, got.tied_with, got.just_below) == ((), (), ())
            continue
        better = [u["rank"] for u in peers if u["rank"] < unit["rank"]]
        worse = [u["rank"] for u in peers if u["rank"] > unit["rank"]]

        def codes(rank: int, peers: list[dict] = peers) -> list[str]:
            return sorted(u["unit_code"] for u in peers if u["rank"] == rank)

        assert [n.unit_code for n in got.just_above] == (codes(max(better)) if better else [])
        assert [n.unit_code for n in got.just_below] == (codes(min(worse)) if worse else [])
        assert [n.unit_code for n in got.tied_with] == [
            c for c in codes(unit["rank"]) if c != unit["unit_code"]
        ]
        for t in got.thresholds:  # the least total in hundredths reaching the threshold
            applicable_max = Decimal(str(unit["applicable_max"]))
            assert t.from_total * 100 >= t.from_pct * applicable_max
            assert (t.from_total - Decimal("0.01")) * 100 < t.from_pct * applicable_max
    assert found["SO-C"].tied_with and found["SO-C"].tied_with[0].unit_code == "SO-D"


def test_the_section_is_on_the_page_and_says_what_a_unit_not_submitted_lacks(
    small_warehouse,
) -> None:
    bundle = write_bundle(small_warehouse, 2023, passing_runs(2023))
    page = (bundle / "don-vi" / "SO-C.html").read_text(encoding="utf-8")
    assert '<a href="#giai-trinh">Giải trình kết quả</a>' in page
    assert '<section id="giai-trinh"' in page and 'href="../answers_so_nganh.csv"' in page
    assert "dti explain --period 2023 --unit SO-C" in page
    assert 'data-explain="tied_with">Đồng hạng: <span data-unit-code="SO-D">' in page
    absent = (bundle / "don-vi" / "SO-E.html").read_text(encoding="utf-8")
    assert "Xếp hạng [rank] không xếp hạng" in absent
    assert '<li data-margin="points_to_next_rank">— [points_to_next_rank]</li>' in absent
    index = (bundle / "index.html").read_text(encoding="utf-8")
    assert 'href="answers_so_nganh.csv"' in index and 'href="answers_quan_huyen.xlsx"' in index


def test_a_page_is_rendered_again_when_only_a_neighbour_changed(small_warehouse) -> None:
    marts, _ = read_period(small_warehouse.warehouse, 2023)
    before = {p: incremental.fingerprint(page) for p, page in unit_pages(marts).items()}
    below = explanations(marts)["QH-PN"].just_below
    assert below, "the fixture's Quận Phú Nhuận has a unit ranked below it"
    neighbour = below[0].unit_code
    # the neighbour's total moves by a hundredth, its rank does not
    changed = dataclasses.replace(
        marts,
        units=tuple(
            dataclasses.replace(u, total_score=u.total_score + Decimal("0.01"))
            if u.unit_code == neighbour
            else u
            for u in marts.units
        ),
    )
    after = {p: incremental.fingerprint(page) for p, page in unit_pages(changed).items()}
    moved = {p for p in before if before[p] != after[p]}
    assert {"don-vi/QH-PN.html", f"don-vi/{neighbour}.html"} <= moved
    assert "don-vi/SO-A.html" not in moved  # another block: untouched
    assert least_total(Decimal(80), Decimal(330)) == Decimal("264.00")
