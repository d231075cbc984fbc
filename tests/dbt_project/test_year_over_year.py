"""Year over year through the lineage, built by dbt on a warehouse holding 2023, 2024 and 2025.

The expected figures are recomputed here from the 2024 results and the lineage seed with
``Decimal`` (the method of docs/spec/results.md §8.1 `previous`), not read from the models.
"""

from __future__ import annotations

import csv
import json
from decimal import ROUND_HALF_UP, Decimal

import pytest

from dbt_project import runner as dbt_runner
from dti.settings import SEEDS_DIR, Settings
from tests.dbt_project.warehouse import load_rows, query


def _indicators(block: str, version: str = "hcm-2023") -> list[dict[str, str]]:
    with (SEEDS_DIR / "indicators.csv").open(encoding="utf-8", newline="") as handle:
        return [
            r
            for r in csv.DictReader(handle)
            if r["block"] == block and r["framework_version"] == version
        ]


def _full_marks(indicator: dict[str, str]) -> str:
    method = indicator["method"]
    if method == "boolean":
        return "có"
    if method == "ratio":
        return indicator["target"] or "100"
    if method == "tiers":
        return indicator["tiers"].split("|")[-1].split(":")[0]
    return indicator["max_points"]


def _answers(period: int, unit: str, indicators: list[dict[str, str]]) -> list[dict]:
    return [
        {
            "period": period,
            "unit_code": unit,
            "indicator_code": i["indicator_code"],
            "value": _full_marks(i),
            "stage": "self",
            "submitted_at": f"{period}-12-01T10:00:00+07:00",
        }
        for i in indicators
        if not i["applies_to"] or unit in i["applies_to"].split("|")
    ]


def _lineage(successor: str) -> dict[str, Decimal]:
    with (SEEDS_DIR / "unit_lineage.csv").open(encoding="utf-8", newline="") as handle:
        return {
            r["predecessor_code"]: Decimal(r["weight"])
            for r in csv.DictReader(handle)
            if r["successor_code"] == successor
        }


def _rows() -> list[dict]:
    districts = _indicators("quan_huyen")
    departments = _indicators("so_nganh")
    return [
        *_answers(2023, "QH-Q6", districts[:1]),  # 2023: Quận 6 alone, 1.6 %
        *_answers(2024, "QH-Q6", districts),  # 2024: Quận 6 full marks
        *_answers(2024, "QH-Q8", districts[:20]),  # Quận 8 part of them
        # departments: 2023 one ranking; 2024 public-service providers (STC, SKHDT) and the
        # others (TTTP, VPUB) apart (unit_rank_groups.csv)
        *_answers(2023, "SO-HEPZA", departments),
        *_answers(2023, "SO-TTTP", departments[:12]),
        *_answers(2023, "SO-STC", departments[:4]),
        *_answers(2024, "SO-STC", departments),
        *_answers(2024, "SO-SKHDT", departments[:1]),
        *_answers(2024, "SO-TTTP", departments[:12]),
        *_answers(2024, "SO-VPUB", departments[:4]),
        *_answers(2025, "PX-27385", _indicators("phuong_xa", "hcm-2025")[:3]),
    ]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    from dti.settings import load_settings

    root = tmp_path_factory.mktemp("years")
    settings = load_settings().with_paths(
        inbox=root / "inbox", warehouse=root / "w.duckdb", out=root / "out"
    )
    load_rows(settings, _rows())
    dbt_runner.dbt_seed(settings)
    dbt_runner.dbt_build(settings)
    return settings


def _previous(settings: Settings, period: int, unit: str) -> dict | None:
    cols = "previous_period, method, compared_units, percent, level, rank, rank_group"
    found = query(
        settings,
        f"select {cols} from marts.fct_unit_previous "
        f"where period = {period} and unit_code = '{unit}'",
    )
    return dict(zip([c.strip() for c in cols.split(",")], found[0], strict=True)) if found else None


def _percent(settings: Settings, period: int, unit: str) -> Decimal:
    ((percent,),) = query(
        settings,
        f"select percent from marts.fct_unit_scores where period = {period} and unit_code = '{unit}'",
    )
    return percent


def _level(percent: Decimal) -> str:  # hcm-2023 quan_huyen and so_nganh: 60 % / 80 %
    return "nang_cao" if percent >= 80 else "hinh_thanh" if percent >= 60 else "khoi_dong"


def test_a_ward_formed_from_two_districts_compares_with_their_weighted_mean(
    built: Settings,
) -> None:
    weights = _lineage("PX-27385")
    assert weights == {"QH-Q6": Decimal("0.6667"), "QH-Q8": Decimal("0.3333")}
    q6, q8 = _percent(built, 2024, "QH-Q6"), _percent(built, 2024, "QH-Q8")
    assert q6 == Decimal("100.00") and q8 < 60
    mean = ((weights["QH-Q6"] * q6 + weights["QH-Q8"] * q8) / sum(weights.values())).quantize(
        Decimal("0.01"), ROUND_HALF_UP
    )
    previous = _previous(built, 2025, "PX-27385")
    assert previous == {
        "previous_period": 2024,
        "method": "weighted_mean",
        "compared_units": 2,
        "percent": mean,
        "level": _level(mean),
        "rank": None,
        "rank_group": None,
    }
    assert _level(mean) not in {_level(q6), _level(q8)}  # the mean has a level of its own


def test_only_scored_predecessors_count_and_one_gives_its_own_result(built: Settings) -> None:
    # Phường Phú Định: Bình Chánh (sent nothing in 2024) and Quận 8
    assert set(_lineage("PX-27424")) == {"QH-BC", "QH-Q8"}
    previous = _previous(built, 2025, "PX-27424")
    assert previous == {
        "previous_period": 2024,
        "method": "predecessor",
        "compared_units": 1,
        "percent": _percent(built, 2024, "QH-Q8"),
        "level": "khoi_dong",
        "rank": 2,  # behind Quận 6 among the 2024 districts
        "rank_group": "",
    }


def test_merged_departments_compare_with_the_mean_of_both(built: Settings) -> None:
    stc, skhdt = _percent(built, 2024, "SO-STC"), _percent(built, 2024, "SO-SKHDT")
    mean = ((stc + skhdt) / 2).quantize(Decimal("0.01"), ROUND_HALF_UP)
    previous = _previous(built, 2025, "SO25-STC")
    assert (previous["method"], previous["percent"], previous["level"]) == (
        "weighted_mean",
        mean,
        _level(mean),
    )


def _departments(settings: Settings, period: int) -> dict[str, tuple]:
    """unit -> (rank group, rank, percent) of the scored departments of the period."""
    return {
        unit: (group, rank, percent)
        for unit, group, rank, percent in query(
            settings,
            "select unit_code, rank_group, rank, percent from marts.fct_unit_scores "
            f"where period = {period} and block = 'so_nganh' and status = 'scored'",
        )
    }


def test_departments_rank_in_the_2024_groups_and_as_one_group_in_2023(built: Settings) -> None:
    with (SEEDS_DIR / "unit_rank_groups.csv").open(encoding="utf-8", newline="") as handle:
        seeded = {
            r["unit_code"]: r["rank_group"]
            for r in csv.DictReader(handle)
            if (r["valid_from"], r["valid_to"]) == ("2024", "2024")
        }
    assert {seeded[u] for u in ("SO-HEPZA", "SO-SNV", "SO-STTTT", "SO-SATTP")} == {"cung_cap_dvc"}
    assert {seeded[u] for u in ("SO-TTTP", "SO-VPUB", "SO-BQLGT")} == {"khong_cung_cap_dvc"}

    by_2023 = _departments(built, 2023)
    assert {group for group, _, _ in by_2023.values()} == {""}
    # Thanh tra ranks between two public-service providers: one ranking
    assert {u: rank for u, (_, rank, _) in by_2023.items()} == {
        "SO-HEPZA": 1,
        "SO-TTTP": 2,
        "SO-STC": 3,
    }

    by_2024 = _departments(built, 2024)
    assert {u: (group, rank) for u, (group, rank, _) in by_2024.items()} == {
        "SO-STC": ("cung_cap_dvc", 1),
        "SO-SKHDT": ("cung_cap_dvc", 2),
        "SO-TTTP": ("khong_cung_cap_dvc", 1),
        "SO-VPUB": ("khong_cung_cap_dvc", 2),
    }
    # as one group Thanh tra and Văn phòng would have ranked ahead of Sở Kế hoạch và Đầu tư
    assert by_2024["SO-VPUB"][2] > by_2024["SO-SKHDT"][2]
    assert by_2024["SO-TTTP"][2] > by_2024["SO-VPUB"][2]
    # the units table keeps the default group: the 2024 one is the period's
    assert query(built, "select rank_group from marts.dim_units where unit_code = 'SO-TTTP'") == [
        ("",)
    ]


@pytest.mark.parametrize("period", [2023, 2024])
def test_the_reference_scorer_ranks_the_departments_alike(built: Settings, period: int) -> None:
    """The bundle's results (ranks, pillar ranks, margins within the group) are the reference
    scorer's, which reads the period's rank group from the registry on its own."""
    from publish.bundle import write_bundle
    from testkit.reference_scoring import assert_units_match, score_period

    bundle = write_bundle(built, period)
    published = json.loads(
        (bundle / "results.json").read_text(encoding="utf-8"), parse_float=Decimal
    )
    assert_units_match(published, score_period(_rows(), period, SEEDS_DIR))


def test_a_registry_without_the_rank_groups_file_ranks_2024_as_one_group(
    built: Settings, tmp_path
) -> None:
    """An operator's registry folder from before unit_rank_groups.csv still loads and builds:
    every unit ranks in its units.csv group, as it did; nothing is written into the folder."""
    import shutil

    registry = tmp_path / "registry"
    shutil.copytree(SEEDS_DIR, registry)
    (registry / "unit_rank_groups.csv").unlink()
    shutil.copyfile(built.warehouse, tmp_path / "w.duckdb")  # the same answers, built again
    older = built.with_paths(warehouse=tmp_path / "w.duckdb", registry_dir=registry)
    dbt_runner.dbt_seed(older)
    dbt_runner.dbt_build(older)

    copied = older.work_dir / "dbt" / "registry" / "unit_rank_groups.csv"
    assert copied.read_text(encoding="utf-8") == (
        "unit_code,rank_group,valid_from,valid_to,not_ranked_reason\n"
    )
    assert not (registry / "unit_rank_groups.csv").exists()
    assert {u: (group, rank) for u, (group, rank, _) in _departments(older, 2024).items()} == {
        "SO-STC": ("", 1),
        "SO-TTTP": ("", 2),
        "SO-VPUB": ("", 3),
        "SO-SKHDT": ("", 4),
    }


def test_a_unit_scored_both_years_compares_with_itself(built: Settings) -> None:
    previous = _previous(built, 2024, "QH-Q6")
    assert previous == {
        "previous_period": 2023,
        "method": "same_unit",
        "compared_units": 1,
        "percent": _percent(built, 2023, "QH-Q6"),
        "level": "khoi_dong",
        "rank": 1,
        "rank_group": "",
    }


def test_units_without_a_scored_past_have_no_comparison(built: Settings) -> None:
    assert _previous(built, 2025, "PX-26740") is None  # Quận 1 sent nothing in 2024
    assert _previous(built, 2023, "QH-Q6") is None  # no 2022 in the warehouse
    assert _previous(built, 2024, "QH-BC") is None  # nothing in 2023


def test_results_json_and_the_ward_page_show_the_predecessors(built: Settings) -> None:
    """What dbt computed reaches the bundle: results.json ``previous`` and the unit page."""
    import json

    from publish.bundle import write_bundle
    from publish.site import unit_page_name

    bundle = write_bundle(built, 2025)
    units = {
        u["unit_code"]: u
        for u in json.loads((bundle / "results.json").read_text(encoding="utf-8"))["units"]
    }
    q6, q8 = _percent(built, 2024, "QH-Q6"), _percent(built, 2024, "QH-Q8")
    previous = _previous(built, 2025, "PX-27385")
    assert units["PX-27385"]["previous"] == {
        "period": 2024,
        "method": "weighted_mean",
        "percent": float(previous["percent"]),
        "level": previous["level"],
        "rank": None,
        "compared": [
            {"unit_code": "QH-Q6", "unit_name": "Quận 6", "share_pct": 66.67,
             "percent": float(q6), "level": "nang_cao", "rank": 1},
            {"unit_code": "QH-Q8", "unit_name": "Quận 8", "share_pct": 33.33,
             "percent": float(q8), "level": "khoi_dong", "rank": 2},
        ],
    }  # fmt: skip
    assert "previous" not in units["PX-26740"]  # nothing to compare with: no field
    page = (bundle / "don-vi" / unit_page_name("PX-27385")).read_text(encoding="utf-8")
    assert 'data-method="weighted_mean"' in page
    assert 'data-compared-code="QH-Q6"' in page and 'data-compared-code="QH-Q8"' in page
    assert "66,67 %" in page
    # the map reads the coordinates dbt carried into marts.dim_unit_locations
    drawn = (bundle / "ban-do-phuong_xa.html").read_text(encoding="utf-8")
    assert drawn.count('r="5" fill=') == 168


def test_a_ward_whose_pillar_moved_from_its_predecessors_gets_the_warning(built: Settings) -> None:
    """The pillar-move anomaly reaches a 2025 ward through its 2024 districts (lineage)."""
    from dataclasses import replace

    from expectations.gate import validate_checkpoint

    weights = _lineage("PX-27385")
    cqs = {
        unit: query(
            built,
            "select score, max_points from marts.fct_pillar_scores "
            f"where period = 2024 and unit_code = '{unit}' and pillar_code = 'CQS'",
        )[0]
        for unit in weights
    }
    ((ward_score, ward_max),) = query(
        built,
        "select score, max_points from marts.fct_pillar_scores "
        "where period = 2025 and unit_code = 'PX-27385' and pillar_code = 'CQS'",
    )
    # Quận 6 had every CQS point, Quận 8 none; the ward answered no CQS indicator
    share = sum(weights[u] * s / m for u, (s, m) in cqs.items()) / sum(weights.values())
    previous = (share * ward_max).quantize(Decimal("0.01"), ROUND_HALF_UP)
    assert (ward_score, previous) == (Decimal("0.00"), Decimal("13.33"))

    def moved(threshold: int) -> list[dict]:
        run = validate_checkpoint(
            replace(built, anomaly_pillar_move_points=threshold), "scores", 2025
        )
        assert run.success, run.critical_failures
        found = [w for w in run.warnings if "'pillar_moved_since_previous_period'" in w]
        return json.loads(found[0].split(", e.g. ", 1)[1]) if found else []

    rows = moved(13)
    (cqs_row,) = [r for r in rows if (r["unit_code"], r["pillar_code"]) == ("PX-27385", "CQS")]
    assert cqs_row["compared_with"] == ["QH-Q6", "QH-Q8"]
    assert (cqs_row["previous_score"], cqs_row["moved"]) == ("13.33", "-13.33")
    # 13.33 points is not more than 14: that pillar is quiet then
    assert not [r for r in moved(14) if (r["unit_code"], r["pillar_code"]) == ("PX-27385", "CQS")]


def _trend(settings: Settings, period: int, unit: str) -> list[tuple]:
    return query(
        settings,
        "select trend_period, method, percent, level, rank from marts.fct_unit_trend "
        f"where period = {period} and unit_code = '{unit}' order by trend_period",
    )


def test_a_wards_trend_goes_through_its_districts_in_every_earlier_period(
    built: Settings,
) -> None:
    """2023: only Quận 6 was scored (its own result); 2024: the weighted mean of Quận 6 and
    Quận 8 (fct_unit_previous's row); 2025: the ward itself."""
    q6_2023 = _percent(built, 2023, "QH-Q6")
    previous = _previous(built, 2025, "PX-27385")
    assert _trend(built, 2025, "PX-27385") == [
        (2023, "predecessor", q6_2023, _level(q6_2023), 1),
        (2024, "weighted_mean", previous["percent"], previous["level"], None),
        (2025, "same_unit", _percent(built, 2025, "PX-27385"), "khoi_dong", 1),
    ]
    # a unit scored in both years: its own results; a period's trend stops at the period
    assert [row[:2] for row in _trend(built, 2024, "QH-Q6")] == [
        (2023, "same_unit"),
        (2024, "same_unit"),
    ]
    assert [row[0] for row in _trend(built, 2023, "QH-Q6")] == [2023]
    # nothing scored, no point: Quận 1 sent nothing in 2024 nor 2023, the ward nothing in 2025
    assert _trend(built, 2025, "PX-26740") == []


def test_results_json_carries_the_trend_and_the_unit_page_draws_it(built: Settings) -> None:
    import json
    import re

    from publish.bundle import write_bundle
    from publish.site import unit_page_name

    bundle = write_bundle(built, 2025)
    ward = next(
        u
        for u in json.loads((bundle / "results.json").read_text(encoding="utf-8"))["units"]
        if u["unit_code"] == "PX-27385"
    )
    expected = [
        {
            "period": p,
            "method": m,
            "percent": float(pct),
            "level": lv,
            "rank": r,
        }
        for p, m, pct, lv, r in _trend(built, 2025, "PX-27385")
    ]
    assert ward["trend"] == expected
    page = (bundle / "don-vi" / unit_page_name("PX-27385")).read_text(encoding="utf-8")
    drawn = re.findall(
        r'<circle class="point" data-period="(\d+)" data-percent="([\d.]+)" '
        r'data-method="(\w+)"',
        page,
    )
    assert [(int(p), Decimal(pct), m) for p, pct, m in drawn] == [
        (t["period"], Decimal(str(t["percent"])), t["method"]) for t in expected
    ]
