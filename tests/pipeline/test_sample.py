"""The bundled sample (``pipeline.sample``) and the reference scorer the tests use as an oracle.

The sample is checked through the oracle: read the files back, score them, and compare with
the published HCMC 2023 picture. The oracle itself is checked on tiny hand-computed cases.
"""

from __future__ import annotations

import csv
import json
import unicodedata
import zipfile
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from dti.settings import SEEDS_DIR
from pipeline.sample import NOT_SUBMITTED, write_sample
from testkit.reference_scoring import (
    indicator_points,
    load_registry,
    read_inbox,
    score_period,
)

PERIOD = 2023
TOP_FIVE_DEPARTMENTS = ["SO-HEPZA", "SO-SNV", "SO-STTTT", "SO-SKHCN", "SO-SKHDT"]
FIRST_DISTRICTS = ["QH-PN", "QH-TD", "QH-GV", "QH-Q8", "QH-Q1", "QH-BTAN", "QH-Q7"]


def _active_units(period: int) -> list[dict[str, str]]:
    with (SEEDS_DIR / "units.csv").open(encoding="utf-8-sig", newline="") as handle:
        return [
            row
            for row in csv.DictReader(handle)
            if int(row["active_from"]) <= period <= int(row["active_to"] or period)
        ]


@pytest.fixture(scope="module")
def inbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sample") / "inbox"
    write_sample(folder, period=PERIOD)
    return folder


@pytest.fixture(scope="module")
def rows(inbox: Path) -> list[dict[str, Any]]:
    return read_inbox(inbox)


@pytest.fixture(scope="module")
def results(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return score_period(rows, PERIOD, SEEDS_DIR)


def _block(results: list[dict[str, Any]], block: str) -> list[dict[str, Any]]:
    return [r for r in results if r["block"] == block]


def _ranked_codes(results: list[dict[str, Any]], block: str) -> list[str]:
    return [r["unit_code"] for r in _block(results, block) if r["rank"] is not None]


# --- the sample -----------------------------------------------------------------------------


def test_same_seed_writes_identical_bytes(tmp_path: Path, inbox: Path) -> None:
    again = write_sample(tmp_path / "again", period=PERIOD, seed=2023)
    first = sorted(p.name for p in inbox.iterdir())
    assert sorted(p.name for p in (tmp_path / "again").iterdir()) == first
    for path in again:
        assert path.read_bytes() == (inbox / path.name).read_bytes(), path.name


def test_workbooks_carry_no_timestamp_of_the_run(inbox: Path) -> None:
    """openpyxl stamps "now" into docProps and zip entries unless told otherwise."""
    today = datetime.now(UTC).date()
    workbooks = sorted(inbox.glob("*.xlsx"))
    assert workbooks
    for path in workbooks:
        with zipfile.ZipFile(path) as archive:
            stamps = {info.date_time[:3] for info in archive.infolist()}
            core = archive.read("docProps/core.xml").decode("utf-8")
        assert stamps == {(PERIOD + 1, 1, 1)}, path.name
        assert today.isoformat() not in core and str(PERIOD + 1) in core, path.name


def test_another_seed_draws_other_answers_towards_the_same_picture(
    tmp_path: Path, inbox: Path, results: list[dict[str, Any]]
) -> None:
    written = write_sample(tmp_path / "other", period=PERIOD, seed=7)
    same_name = [p for p in written if (inbox / p.name).exists()]
    assert any(p.read_bytes() != (inbox / p.name).read_bytes() for p in same_name)
    other = score_period(read_inbox(tmp_path / "other"), PERIOD, SEEDS_DIR)
    picture = [(r["unit_code"], r["percent"], r["level"], r["rank"]) for r in results]
    assert [(r["unit_code"], r["percent"], r["level"], r["rank"]) for r in other] == picture


def test_every_file_has_an_empty_ready_flag(inbox: Path) -> None:
    files = [p for p in inbox.iterdir() if p.suffix != ".ready"]
    flags = [p for p in inbox.iterdir() if p.suffix == ".ready"]
    assert files and len(flags) == len(files)
    for path in files:
        flag = path.with_name(path.name + ".ready")
        assert flag.exists() and flag.stat().st_size == 0, path.name


def test_write_sample_returns_the_submission_files(tmp_path: Path) -> None:
    written = write_sample(tmp_path / "inbox")
    on_disk = sorted(p for p in (tmp_path / "inbox").iterdir() if p.suffix != ".ready")
    assert sorted(written) == on_disk


def test_all_active_units_appear_and_only_the_chosen_one_sent_nothing(
    rows: list[dict[str, Any]], results: list[dict[str, Any]]
) -> None:
    active = {u["unit_code"] for u in _active_units(PERIOD)}
    assert len(active) == 53
    assert {r["unit_code"] for r in results} == active
    assert {r["unit_code"] for r in rows} == active - NOT_SUBMITTED
    not_submitted = [r for r in results if r["status"] == "not_submitted"]
    assert [r["unit_code"] for r in not_submitted] == ["QH-Q4"]
    (q4,) = not_submitted
    assert q4["rank"] is None and q4["level"] is None and q4["percent"] is None
    assert q4["total_score"] == Decimal("0.00")
    assert _block(results, "quan_huyen")[-1]["unit_code"] == "QH-Q4"


def test_answers_cover_exactly_the_indicators_that_apply(rows: list[dict[str, Any]]) -> None:
    registry = load_registry(SEEDS_DIR)
    block_of = {u.code: u.block for u in registry.units}
    applicable = {
        unit: {
            i.code
            for (version, block), indicators in registry.indicators.items()
            if block == block_of[unit]
            for i in indicators
            if i.applies(unit)
        }
        for unit in {r["unit_code"] for r in rows}
    }
    answered: dict[str, set[str]] = {}
    for row in rows:
        if row["stage"] == "self":
            answered.setdefault(row["unit_code"], set()).add(row["indicator_code"])
    assert answered == applicable
    hdcds6 = {r["unit_code"] for r in rows if r["indicator_code"] == "HDCDS.6"}
    assert hdcds6 and hdcds6 < {u for u, b in block_of.items() if b == "so_nganh"}


def test_departments_have_the_published_levels(results: list[dict[str, Any]]) -> None:
    departments = _block(results, "so_nganh")
    assert len(departments) == 31
    assert Counter(r["level"] for r in departments) == {
        "nang_cao": 11,
        "hinh_thanh": 18,
        "khoi_dong": 2,
    }
    assert {r["unit_code"] for r in departments if r["level"] == "khoi_dong"} == {
        "SO-SATTP",
        "SO-BQLKN",
    }


def test_departments_top_five_in_published_order(results: list[dict[str, Any]]) -> None:
    departments = _block(results, "so_nganh")
    assert _ranked_codes(results, "so_nganh")[:5] == TOP_FIVE_DEPARTMENTS
    assert [r["rank"] for r in departments[:5]] == [1, 2, 3, 4, 5]


def test_districts_first_seven_and_last_in_published_order(
    results: list[dict[str, Any]],
) -> None:
    ranked = _ranked_codes(results, "quan_huyen")
    assert len(ranked) == 21
    assert ranked[:7] == FIRST_DISTRICTS
    assert ranked[-1] == "QH-NB"
    assert _block(results, "quan_huyen")[0]["rank"] == 1


def test_a_tie_in_the_middle_shares_a_rank_and_skips_the_next(
    results: list[dict[str, Any]],
) -> None:
    for block in ("so_nganh", "quan_huyen"):
        ranks = [r["rank"] for r in _block(results, block) if r["rank"] is not None]
        percents = [r["percent"] for r in _block(results, block) if r["rank"] is not None]
        shared = [rank for rank, n in Counter(ranks).items() if n > 1]
        if block == "so_nganh":
            assert not shared
            assert len(set(percents)) == len(percents)  # no near-tie hidden by rounding
            continue
        assert shared == [11]
        tied = [r for r in _block(results, block) if r["rank"] == 11]
        assert [r["unit_code"] for r in tied] == ["QH-BTHANH", "QH-Q5"]
        assert tied[0]["total_score"] == tied[1]["total_score"] == Decimal("369.00")
        assert 12 not in ranks and ranks[ranks.index(11) + 2] == 13
        assert len(set(percents)) == len(percents) - 1


def test_level_boundary_unit_sits_exactly_on_80_percent(results: list[dict[str, Any]]) -> None:
    sct = next(r for r in results if r["unit_code"] == "SO-SCT")
    assert (sct["total_score"], sct["applicable_max"]) == (Decimal("264.00"), Decimal("330.00"))
    assert sct["level"] == "nang_cao"


def test_sample_files_come_in_every_accepted_shape(inbox: Path, rows: list[dict[str, Any]]) -> None:
    names = [p.name for p in inbox.iterdir() if p.suffix != ".ready"]
    assert {Path(n).suffix for n in names} == {".csv", ".json", ".xlsx"}
    vietnamese = [n for n in names if not n.isascii()]
    assert vietnamese and all(unicodedata.is_normalized("NFC", n) for n in names)
    units_per_file = Counter()
    for name in names:
        units_per_file[name] = len({r["unit_code"] for r in rows if r["source_file"] == name})
    bulk = [n for n, count in units_per_file.items() if count > 1 and n.endswith(".csv")]
    assert len(bulk) == 2  # the portal export and the council's appraisal file
    boms = [n for n in names if (inbox / n).read_bytes().startswith(b"\xef\xbb\xbf")]
    assert boms and len(boms) < len([n for n in names if n.endswith(".csv")])
    document = json.loads(next(inbox.glob("*.json")).read_text(encoding="utf-8"))
    assert set(document) == {"period", "unit_code", "stage", "submitted_at", "answers"}


def test_values_and_timestamps_are_written_like_people_write_them(
    rows: list[dict[str, Any]],
) -> None:
    values = {r["value"] for r in rows}
    assert {"có", "không"} <= {v.casefold() for v in values}
    assert any("," in v for v in values)  # decimal comma
    assert "" in values
    stamps = {r["submitted_at"] for r in rows}
    assert any(s.endswith("+07:00") for s in stamps)
    assert any(s.endswith("Z") for s in stamps)
    assert any(len(s) == len("2024-01-05T09:00:00") for s in stamps)  # local, no offset


def test_revisions_resubmit_answers_later(rows: list[dict[str, Any]]) -> None:
    versions: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        if row["stage"] == "self":
            versions.setdefault((row["unit_code"], row["indicator_code"]), []).append(row)
    revised = {key: found for key, found in versions.items() if len(found) > 1}
    assert len({unit for unit, _ in revised}) >= 5
    assert all(len({r["value"] for r in found}) == 2 for found in revised.values())
    assert any(any(r["value"] == "" for r in found) for found in revised.values())


def test_revision_whose_text_sorts_earlier_is_still_the_latest(
    rows: list[dict[str, Any]], results: list[dict[str, Any]]
) -> None:
    """One revision is stamped in UTC: its text sorts before the original's, its instant after."""
    (revision,) = {r["source_file"] for r in rows if r["submitted_at"].endswith("Z")}
    revised = [r for r in rows if r["source_file"] == revision]
    unit = revised[0]["unit_code"]
    originals = {
        r["indicator_code"]: r
        for r in rows
        if r["unit_code"] == unit and r["source_file"] != revision and r["stage"] == "self"
    }
    assert all(r["submitted_at"] < originals[r["indicator_code"]]["submitted_at"] for r in revised)
    only_originals = [r for r in rows if r["source_file"] != revision]
    only_revisions = [
        r
        for r in rows
        if not (r["source_file"] != revision and r["unit_code"] == unit
                and r["indicator_code"] in {x["indicator_code"] for x in revised})
    ]  # fmt: skip
    before = _unit(score_period(only_originals, PERIOD, SEEDS_DIR), unit)
    expected = _unit(score_period(only_revisions, PERIOD, SEEDS_DIR), unit)
    after = _unit(results, unit)
    assert before["self_score"] != after["self_score"]
    assert after == expected


def test_council_appraises_several_units(
    rows: list[dict[str, Any]], results: list[dict[str, Any]]
) -> None:
    appraisal = [r for r in rows if r["stage"] == "appraisal"]
    appraised_units = {r["unit_code"] for r in appraisal}
    assert len(appraised_units) >= 5
    registry = load_registry(SEEDS_DIR)
    methods = {i.code: i.method for indicators in registry.indicators.values() for i in indicators}
    appraised_methods = Counter(methods[r["indicator_code"]] for r in appraisal)
    assert appraised_methods["points"] >= len(appraised_units)  # the council grades these
    assert sum(n for m, n in appraised_methods.items() if m != "points") >= 3  # corrections
    changed = {r["unit_code"] for r in results if r["self_score"] != r["total_score"]}
    assert changed == appraised_units


def test_some_units_leave_indicators_unanswered(results: list[dict[str, Any]]) -> None:
    scored = [r for r in results if r["status"] == "scored"]
    assert 3 <= sum(1 for r in scored if r["unanswered"]) <= 10


def test_unknown_period_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="1999"):
        write_sample(tmp_path / "inbox", period=1999)


# --- the reference scorer on hand-computed cases ---------------------------------------------

TINY_INDICATORS = [
    # code, pillar, max, method, target, tiers, applies_to
    ("B", "P1", "10", "boolean", "", "", ""),
    ("R", "P1", "20", "ratio", "80", "", ""),
    ("T", "P2", "10", "tiers", "", "1:3|3:6|5:10", ""),
    ("P", "P2", "10", "points", "", "", ""),
    ("S", "P2", "50", "tiers", "", "1:25|2:50", "U-A|U-B"),
]
TINY_UNITS = [
    ("U-A", "2023", ""),
    ("U-B", "2023", ""),
    ("U-C", "2023", ""),
    ("U-OLD", "2020", "2022"),
]


def _write_registry(
    folder: Path,
    indicators: list[tuple[str, ...]] = TINY_INDICATORS,
    units: list[tuple[str, str, str]] = TINY_UNITS,
    scale: str = "100",
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)

    def write(name: str, header: list[str], lines: list[list[str]]) -> None:
        with (folder / name).open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(lines)

    write(
        "frameworks.csv",
        ["framework_version", "block", "valid_from", "valid_to", "scale_max", "source"],
        [["t-1", "khoi", "2023", "", scale, "test"]],
    )  # fmt: skip
    write(
        "levels.csv",
        ["framework_version", "block", "level_code", "level_name", "sort_order", "from_pct",
         "colour", "background"],
        [["t-1", "khoi", "khoi_dong", "Khởi động", "1", "0", "#b45309", "#fef3c7"],
         ["t-1", "khoi", "hinh_thanh", "Hình thành", "2", "60", "#1d4ed8", "#dbeafe"],
         ["t-1", "khoi", "nang_cao", "Nâng cao", "3", "80", "#15803d", "#dcfce7"]],
    )  # fmt: skip
    write(
        "pillars.csv",
        ["framework_version", "block", "pillar_code", "pillar_name", "max_points", "sort_order"],
        [
            ["t-1", "khoi", "P2", "Trụ cột hai", "0", "2"],
            ["t-1", "khoi", "P1", "Trụ cột một", "0", "1"],
        ],
    )
    write(
        "indicators.csv",
        ["framework_version", "block", "indicator_code", "pillar_code", "indicator_name",
         "max_points", "method", "target", "tiers", "applies_to"],
        [["t-1", "khoi", code, pillar, f"Chỉ số {code}", points, method, target, tiers, applies]
         for code, pillar, points, method, target, tiers, applies in indicators],
    )  # fmt: skip
    write(
        "units.csv",
        ["unit_code", "unit_name", "block", "rank_group", "active_from", "active_to"],
        [[code, f"Đơn vị {code}", "khoi", "", start, end] for code, start, end in units],
    )
    return folder


def _row(
    unit: str,
    indicator: str,
    value: str,
    *,
    stage: str = "self",
    at: str = "2024-01-10T09:00:00+07:00",
    sid: str = "s",
) -> dict[str, Any]:
    return {
        "period": PERIOD,
        "unit_code": unit,
        "indicator_code": indicator,
        "value": value,
        "evidence_ref": "",
        "stage": stage,
        "submitted_at": at,
        "submission_id": sid,
    }


def _unit(results: list[dict[str, Any]], code: str) -> dict[str, Any]:
    return next(r for r in results if r["unit_code"] == code)


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    return _write_registry(tmp_path / "seeds")


@pytest.mark.parametrize(
    ("indicator", "value", "points"),
    [
        ("B", "có", "10.00"),
        ("B", "KHÔNG", "0.00"),
        ("B", "Yes", "10.00"),
        ("B", "0", "0.00"),
        ("B", "true", "10.00"),
        ("B", unicodedata.normalize("NFD", "Có"), "10.00"),
        ("R", "40", "10.00"),  # 20 x 40/80
        ("R", "87,5", "20.00"),  # above the target: capped at the maximum
        ("R", "12.3", "3.08"),  # 20 x 12.3/80 = 3.075, half up
        ("T", "0", "0.00"),
        ("T", "1", "3.00"),
        ("T", "4", "6.00"),
        ("T", "5", "10.00"),
        ("T", "250", "10.00"),
        ("P", "7,25", "7.25"),
        ("P", "10", "10.00"),
    ],
)
def test_indicator_points_by_method(tiny: Path, indicator: str, value: str, points: str) -> None:
    (found,) = [i for i in load_registry(tiny).indicators[("t-1", "khoi")] if i.code == indicator]
    assert indicator_points(found, value) == Decimal(points)


@pytest.mark.parametrize(
    ("indicator", "value"),
    [("B", "maybe"), ("R", "100.5"), ("R", "-1"), ("R", "NaN"), ("P", "10.01"), ("T", "inf"),
     ("R", "1,234.5"), ("T", "1.000"), ("T", "1,000"), ("T", "12.500.000")],
)  # fmt: skip
def test_unreadable_values_are_refused(tiny: Path, indicator: str, value: str) -> None:
    (found,) = [i for i in load_registry(tiny).indicators[("t-1", "khoi")] if i.code == indicator]
    with pytest.raises(ValueError):
        indicator_points(found, value)


def test_a_count_that_allows_decimals_reads_1_000_as_one(tiny: Path) -> None:
    import dataclasses

    (count,) = [i for i in load_registry(tiny).indicators[("t-1", "khoi")] if i.code == "T"]
    decimal = dataclasses.replace(count, allows_decimals=True)
    assert indicator_points(decimal, "1,000") == indicator_points(count, "1") == Decimal("3.00")


def test_points_round_half_up_at_half_a_cent(tmp_path: Path) -> None:
    # 10 x 12.25 / 100 = 1.225: half up gives 1.23 where banker's rounding would give 1.22.
    seeds = _write_registry(
        tmp_path / "seeds",
        indicators=[
            ("R", "P1", "10", "ratio", "100", "", ""),
            ("Q", "P2", "90", "points", "", "", ""),
        ],
        units=[("U-A", "2023", "")],
    )
    (result,) = score_period([_row("U-A", "R", "12,25")], PERIOD, seeds)
    assert result["total_score"] == Decimal("1.23")
    (result,) = score_period([_row("U-A", "R", "12,24")], PERIOD, seeds)
    assert result["total_score"] == Decimal("1.22")
    # Each indicator is rounded before the sum: 1.225 + 0.005 is 1.23 + 0.01, not 1.23.
    rows = [_row("U-A", "R", "12,25"), _row("U-A", "Q", "0,005")]
    (result,) = score_period(rows, PERIOD, seeds)
    assert result["total_score"] == Decimal("1.24")


def test_percent_rounds_half_up(tmp_path: Path) -> None:
    # 1.01 of 200 is 0.505 %: half up gives 0.51.
    seeds = _write_registry(
        tmp_path / "seeds",
        indicators=[("Q", "P1", "200", "points", "", "", "")],
        units=[("U-A", "2023", "")],
    )
    (result,) = score_period([_row("U-A", "Q", "1,01")], PERIOD, seeds)
    assert result["percent"] == Decimal("0.51")


@pytest.mark.parametrize(
    ("total", "level", "percent"),
    [("264", "nang_cao", "80.00"), ("263,99", "hinh_thanh", "80.00"),
     ("198", "hinh_thanh", "60.00"), ("197,99", "khoi_dong", "60.00"), ("0", "khoi_dong", "0.00")],
)  # fmt: skip
def test_level_compares_the_exact_total_on_a_330_point_scale(
    tmp_path: Path, total: str, level: str, percent: str
) -> None:
    seeds = _write_registry(
        tmp_path / "seeds",
        indicators=[("Q", "P1", "330", "points", "", "", "")],
        units=[("U-A", "2023", "")],
        scale="330",
    )
    (result,) = score_period([_row("U-A", "Q", total)], PERIOD, seeds)
    assert (result["level"], result["percent"]) == (level, Decimal(percent))


def test_full_unit_result_by_hand(tiny: Path) -> None:
    rows = [
        _row("U-A", "B", "có"),  # 10
        _row("U-A", "R", "60"),  # 20 x 60/80 = 15
        _row("U-A", "T", "3"),  # 6
        _row("U-A", "P", ""),  # unanswered
        _row("U-A", "S", "1"),  # 25
    ]
    result = _unit(score_period(rows, PERIOD, tiny), "U-A")
    assert result == {
        "unit_code": "U-A",
        "unit_name": "Đơn vị U-A",
        "block": "khoi",
        "status": "scored",
        "total_score": Decimal("56.00"),
        "self_score": Decimal("56.00"),
        "applicable_max": Decimal("100.00"),
        "percent": Decimal("56.00"),
        "level": "khoi_dong",
        "rank": 1,
        "pillars": [
            {"pillar_code": "P1", "pillar_name": "Trụ cột một", "score": Decimal("25.00"),
             "max_points": Decimal("30.00"), "rank": 1},
            {"pillar_code": "P2", "pillar_name": "Trụ cột hai", "score": Decimal("31.00"),
             "max_points": Decimal("70.00"), "rank": 1},
        ],
        "unanswered": ["P"],
        "late": False,
        "not_ranked_reason": None,
        # 60 % of 100 is 60 points; the lowest level cannot be lost; the only unit ranked
        "margins": {
            "next_level": "hinh_thanh", "points_to_next_level": Decimal("4.00"),
            "points_to_drop_level": None, "points_to_next_rank": None,
            "points_to_drop_rank": None,
        },
    }  # fmt: skip


def test_applies_to_shrinks_the_maximum_and_ignores_stray_answers(tiny: Path) -> None:
    rows = [_row("U-C", "B", "1"), _row("U-C", "S", "2")]  # S does not apply to U-C
    result = _unit(score_period(rows, PERIOD, tiny), "U-C")
    assert result["applicable_max"] == Decimal("50.00")
    assert result["total_score"] == Decimal("10.00")
    assert result["percent"] == Decimal("20.00")
    assert result["pillars"][1]["max_points"] == Decimal("20.00")
    assert "S" not in result["unanswered"]


def test_competition_rank_shares_ties_and_skips(tmp_path: Path) -> None:
    seeds = _write_registry(
        tmp_path / "seeds",
        indicators=[("Q", "P1", "100", "points", "", "", ""),
                    ("S", "P1", "100", "points", "", "", "U-A|U-B|U-C")],
        units=[("U-A", "2023", ""), ("U-B", "2023", ""), ("U-C", "2023", ""),
               ("U-D", "2023", ""), ("U-E", "2023", "")],
    )  # fmt: skip
    rows = [
        _row("U-A", "Q", "90"), _row("U-A", "S", "90"),  # 90 %
        _row("U-B", "Q", "80"), _row("U-B", "S", "80"),  # 80 % of 200
        _row("U-D", "Q", "80"),  # 80 % of 100: the same percent, another maximum
        _row("U-C", "Q", "70"), _row("U-C", "S", "70"),  # 70 %
    ]  # fmt: skip
    results = score_period(rows, PERIOD, seeds)
    assert [(r["unit_code"], r["rank"]) for r in results] == [
        ("U-A", 1), ("U-B", 2), ("U-D", 2), ("U-C", 4), ("U-E", None),
    ]  # fmt: skip
    assert results[-1]["status"] == "not_submitted"


def test_the_rank_group_of_the_period_wins_over_the_units_default(tmp_path: Path) -> None:
    seeds = _write_registry(
        tmp_path / "seeds",
        indicators=[("Q", "P1", "100", "points", "", "", "")],
        units=[("U-A", "2023", ""), ("U-B", "2023", ""), ("U-C", "2023", ""),
               ("U-D", "2023", "")],
    )  # fmt: skip
    rows = [
        _row(u, "Q", v) for u, v in (("U-A", "90"), ("U-B", "80"), ("U-C", "70"), ("U-D", "60"))
    ]
    groups = seeds / "unit_rank_groups.csv"
    assert [r["rank"] for r in score_period(rows, PERIOD, seeds)] == [1, 2, 3, 4]  # no file
    groups.write_text(
        "unit_code,rank_group,valid_from,valid_to\n"
        "U-A,g1,2023,2023\nU-C,g1,2023,\nU-B,g2,2024,2024\n",  # U-B's row is not 2023's
        encoding="utf-8",
    )
    assert [(r["unit_code"], r["rank"]) for r in score_period(rows, PERIOD, seeds)] == [
        ("U-A", 1), ("U-B", 1), ("U-C", 2), ("U-D", 2),
    ]  # fmt: skip
    with groups.open("a", encoding="utf-8") as handle:
        handle.write("U-A,g2,2022,2023\n")  # overlaps U-A's 2023 row
    with pytest.raises(ValueError, match="2 rank groups of U-A cover 2023"):
        score_period(rows, PERIOD, seeds)


def test_rank_uses_the_exact_ratio_not_the_rounded_percent(tmp_path: Path) -> None:
    seeds = _write_registry(
        tmp_path / "seeds",
        indicators=[("Q", "P1", "330", "points", "", "", ""),
                    ("S", "P1", "10", "points", "", "", "U-A")],
        units=[("U-A", "2023", ""), ("U-B", "2023", "")],
    )  # fmt: skip
    # U-A: 272 / 340 = 80 % exactly; U-B: 263.99 / 330 = 79.997 %, shown as 80.00.
    rows = [_row("U-A", "Q", "272"), _row("U-A", "S", "0"), _row("U-B", "Q", "263,99")]
    results = score_period(rows, PERIOD, seeds)
    assert [(r["unit_code"], r["percent"], r["rank"]) for r in results] == [
        ("U-A", Decimal("80.00"), 1),
        ("U-B", Decimal("80.00"), 2),
    ]


def test_latest_answer_wins_by_instant_then_submission_id(tiny: Path) -> None:
    rows = [
        _row("U-A", "T", "5", at="2024-01-10T15:00:00+07:00"),  # 08:00 UTC
        _row("U-A", "T", "1", at="2024-01-10T09:00:00Z"),  # later instant, earlier text
        _row("U-A", "R", "80", at="2024-01-10T09:00:00", sid="a"),  # local time = +07:00
        _row("U-A", "R", "40", at="2024-01-10T02:00:00+00:00", sid="b"),  # same instant, "b" > "a"
        _row("U-A", "B", "có", at="2024-01-11T09:00:00+07:00"),
        _row("U-A", "B", "", at="2024-01-12T09:00:00+07:00"),  # blanked later: withdrawn
        _row("U-A", "P", "8", at="2024-01-12T09:00:00+07:00"),
        _row("U-A", "P", "2", at="2024-01-11T09:00:00+07:00"),  # an older file loaded later
    ]
    result = _unit(score_period(rows, PERIOD, tiny), "U-A")
    # T 3 + R 10 + B 0 + P 8 + S 0
    assert result["total_score"] == Decimal("21.00")
    assert result["unanswered"] == ["B", "S"]


def test_appraisal_overrides_self_and_self_score_keeps_the_units_claim(tiny: Path) -> None:
    rows = [
        _row("U-A", "B", "có"),
        _row("U-A", "R", "80"),
        _row("U-A", "P", "9"),
        _row("U-A", "B", "không", stage="appraisal", at="2024-02-20T10:00:00+07:00"),
        _row("U-A", "P", "6,5", stage="appraisal", at="2024-02-20T10:00:00+07:00"),
        _row("U-A", "T", "5", stage="appraisal", at="2024-02-20T10:00:00+07:00"),  # no self
        _row("U-A", "R", "", stage="appraisal", at="2024-02-20T10:00:00+07:00"),  # no value
        # an appraisal is not outdated by a later self answer: stages are separate
        _row("U-A", "P", "10", at="2024-03-01T10:00:00+07:00"),
    ]
    result = _unit(score_period(rows, PERIOD, tiny), "U-A")
    assert result["self_score"] == Decimal("40.00")  # 10 + 20 + 10
    assert result["total_score"] == Decimal("36.50")  # 0 + 20 + 6.5 + 10
    assert result["unanswered"] == ["S"]


def test_unit_without_any_answer_is_not_submitted(tiny: Path) -> None:
    # U-B sent only blanks: it took part, scores 0 and is ranked; U-C sent nothing at all
    rows = [_row("U-A", "B", "1"), _row("U-B", "B", ""), _row("U-B", "T", " ")]
    results = score_period(rows, PERIOD, tiny)
    assert [(r["unit_code"], r["status"], r["rank"]) for r in results] == [
        ("U-A", "scored", 1),
        ("U-B", "scored", 2),
        ("U-C", "not_submitted", None),
    ]
    u_b, u_c = results[1], results[2]
    assert (u_b["total_score"], u_b["self_score"], u_b["percent"], u_b["level"]) == (
        Decimal("0.00"), Decimal("0.00"), Decimal("0.00"), "khoi_dong",
    )  # fmt: skip
    assert (u_c["total_score"], u_c["percent"], u_c["level"]) == (Decimal("0.00"), None, None)
    assert u_b["unanswered"] == ["B", "R", "P", "S", "T"]  # pillar P1 first, then P2
    assert u_c["unanswered"] == ["B", "R", "P", "T"]  # S applies to U-A and U-B only
    assert [p["score"] for p in u_b["pillars"]] == [Decimal("0.00"), Decimal("0.00")]
    assert "U-OLD" not in {r["unit_code"] for r in results}  # inactive in 2023


def test_rows_the_pipeline_would_refuse_raise(tiny: Path) -> None:
    with pytest.raises(ValueError, match="U-OLD"):
        score_period([_row("U-OLD", "B", "1")], PERIOD, tiny)
    with pytest.raises(ValueError, match="X"):
        score_period([_row("U-A", "X", "1")], PERIOD, tiny)
    assert score_period([_row("U-OLD", "B", "1") | {"period": 2022}], PERIOD, tiny)


def test_read_inbox_reads_csv_json_and_xlsx_alike(tmp_path: Path, inbox: Path) -> None:
    rows = read_inbox(inbox)
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_kind.setdefault(Path(row["source_file"]).suffix, []).append(row)
    assert set(by_kind) == {".csv", ".json", ".xlsx"}
    for kind_rows in by_kind.values():
        assert all(isinstance(r["period"], int) and r["submission_id"].count(":") == 1
                   for r in kind_rows)  # fmt: skip
        assert {r["stage"] for r in kind_rows} <= {"self", "appraisal"}
    numbers = [r["value"] for r in by_kind[".xlsx"] if r["value"][:1].isdigit()]
    assert numbers and not any(v.endswith(".0") for v in numbers)
    # a file without its flag is not ready yet
    (tmp_path / "half.csv").write_text("period,unit_code\n", encoding="utf-8")
    assert read_inbox(tmp_path) == []


def test_unanswered_follows_the_frameworks_reading_order(tmp_path: Path) -> None:
    seeds = _write_registry(
        tmp_path / "seeds",
        indicators=[("P2.1", "P2", "10", "boolean", "", "", ""),
                    ("P1.10", "P1", "10", "boolean", "", "", ""),
                    ("P1.2", "P1", "10", "boolean", "", "", ""),
                    ("P1.1", "P1", "10", "boolean", "", "", "")],
        units=[("U-A", "2023", "")],
    )  # fmt: skip
    (result,) = score_period([_row("U-A", "P1.1", "1")], PERIOD, seeds)
    assert result["unanswered"] == ["P1.2", "P1.10", "P2.1"]
    assert [p["pillar_code"] for p in result["pillars"]] == ["P1", "P2"]


def test_every_yes_no_spelling_of_the_sample_is_a_registry_value_word() -> None:
    from dti.settings import SEEDS_DIR
    from pipeline.sample import YES_NO

    with (SEEDS_DIR / "value_words.csv").open(encoding="utf-8") as handle:
        words = {r["word"]: r["boolean_value"] for r in csv.DictReader(handle)}
    for yes, no in YES_NO:
        assert words[yes.lower()] == "true" and words[no.lower()] == "false", (yes, no)
