"""The 2025 sample: the hcm-2025 framework, the merged departments and the 168 wards.

Scored by the reference scorer (testkit/reference_scoring.py), then by `dti run` end to end:
both must agree on every unit.
"""

from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from dti.settings import SEEDS_DIR
from pipeline.sample import NOT_SUBMITTED, write_sample
from testkit.reference_scoring import assert_units_match, load_registry, read_inbox, score_period
from tests.pipeline.test_steps import dti_run

PERIOD = 2025


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("sample2025")
    write_sample(tmp / "inbox", period=PERIOD)
    rows = read_inbox(tmp / "inbox")
    return {"tmp": tmp, "rows": rows, "expected": score_period(rows, PERIOD, SEEDS_DIR)}


def _group(results: list[dict[str, Any]], block: str, codes: set[str] | None = None) -> list[str]:
    return [
        r["unit_code"]
        for r in results
        if r["block"] == block
        and r["rank"] is not None
        and (codes is None or r["unit_code"] in codes)
    ]


def test_every_2025_unit_answers_the_2025_framework(run: dict[str, Any]) -> None:
    registry = load_registry(SEEDS_DIR)
    active = {u.code: u for u in registry.units if u.active(PERIOD)}
    assert Counter(u.block for u in active.values()) == {"phuong_xa": 168, "so_nganh": 18}
    assert {r["unit_code"] for r in run["rows"]} == set(active) - NOT_SUBMITTED
    for block, count in (("so_nganh", 32), ("phuong_xa", 42)):
        codes = {i.code for i in registry.indicators[("hcm-2025", block)]}
        assert len(codes) == count
        answered = {
            r["indicator_code"] for r in run["rows"] if active[r["unit_code"]].block == block
        }
        assert answered == codes
    expected = run["expected"]
    assert {r["applicable_max"] for r in expected if r["block"] == "phuong_xa"} == {Decimal(100)}
    (missing,) = [r for r in expected if r["status"] == "not_submitted"]
    assert missing["unit_code"] == "PX-27475" and missing["rank"] is None


def test_departments_rank_in_the_2024_groups(run: dict[str, Any]) -> None:
    registry = load_registry(SEEDS_DIR)
    group = {u.code: registry.rank_group_for(u, PERIOD) for u in registry.units if u.active(PERIOD)}
    public = {c for c, g in group.items() if g == "cung_cap_dvc"}
    others = {c for c, g in group.items() if g == "khong_cung_cap_dvc"}
    ranked = _group(run["expected"], "so_nganh", public)
    assert ranked[:3] == ["SO25-HEPZA", "SO25-SKHCN", "SO25-SNV"]
    assert ranked[-1] == "SO25-SATTP"
    by_code = {r["unit_code"]: r for r in run["expected"]}
    assert [by_code[c]["rank"] for c in ("SO25-VPUB", "SO25-TTTP")] == [1, 2]
    assert _group(run["expected"], "so_nganh", others) == ["SO25-VPUB", "SO25-TTTP"]
    assert by_code["SO25-BQLSHTP"]["percent"] == Decimal("80.00")
    assert by_code["SO25-BQLSHTP"]["level"] == "nang_cao"


def test_wards_spread_over_the_three_levels(run: dict[str, Any]) -> None:
    levels = Counter(r["level"] for r in run["expected"] if r["block"] == "phuong_xa")
    assert set(levels) == {"khoi_dong", "hinh_thanh", "nang_cao", None}
    assert all(n >= 20 for level, n in levels.items() if level is not None)


def test_dti_run_scores_2025_exactly_as_the_reference_scorer(run: dict[str, Any]) -> None:
    tmp: Path = run["tmp"]
    done = dti_run(tmp, period=PERIOD)
    assert done.returncode == 0, done.stderr[-2000:]
    published = json.loads(
        (tmp / "out" / str(PERIOD) / "results.json").read_text(encoding="utf-8"),
        parse_float=Decimal,
    )
    assert published["framework_version"] == "hcm-2025"
    assert_units_match(published, run["expected"])


# --- the reference scorer's late answers (docs/spec/results.md §2, §7) ------------------------


def _with_period(tmp_path: Path, counts: str) -> Path:
    from tests.pipeline.test_sample import _write_registry

    seeds = _write_registry(tmp_path / "seeds")
    (seeds / "periods.csv").write_text(
        f"period,deadline,late_self_answers_count\n2023,2024-01-31T23:59:59+07:00,{counts}\n",
        encoding="utf-8",
    )
    return seeds


def test_a_self_answer_after_the_deadline_flags_the_unit_late(tmp_path: Path) -> None:
    from tests.pipeline.test_sample import _row, _unit

    seeds = _with_period(tmp_path, "true")
    rows = [
        _row("U-A", "B", "có", at="2024-01-10T09:00:00+07:00"),
        _row("U-A", "R", "40", at="2024-02-01T00:00:00+07:00"),  # late, counts
        _row("U-B", "B", "có", at="2024-01-31T23:59:59+07:00"),  # on the deadline: on time
        _row("U-B", "R", "40", stage="appraisal", at="2024-02-26T14:00:00+07:00"),
    ]
    results = score_period(rows, 2023, seeds)
    u_a, u_b = _unit(results, "U-A"), _unit(results, "U-B")
    assert (u_a["late"], u_b["late"]) == (True, False)  # appraisal answers are never late
    assert u_a["total_score"] == Decimal("20.00")


def test_late_self_answers_that_do_not_count_leave_the_last_on_time_one(tmp_path: Path) -> None:
    from tests.pipeline.test_sample import _row, _unit

    seeds = _with_period(tmp_path, "false")
    rows = [
        _row("U-A", "R", "20", at="2024-01-10T09:00:00+07:00", sid="1"),
        _row("U-A", "R", "40", at="2024-02-01T00:00:00+07:00", sid="2"),  # late: ignored
        _row("U-B", "R", "40", at="2024-02-01T00:00:00+07:00", sid="3"),  # only late rows
    ]
    results = score_period(rows, 2023, seeds)
    u_a, u_b = _unit(results, "U-A"), _unit(results, "U-B")
    assert (u_a["total_score"], u_a["late"]) == (Decimal("5.00"), True)
    assert (u_b["status"], u_b["total_score"], u_b["late"]) == ("scored", Decimal("0.00"), True)
