"""The dbt models built for real on a small warehouse: every rule of docs/spec/results.md
end to end."""

from __future__ import annotations

import shutil
from decimal import Decimal

import pytest

from dbt_project import runner as dbt_runner
from dti.settings import Settings
from tests.dbt_project.warehouse import load_rows, query

SELF = "2023-12-01T10:00:00+07:00"


def answer(unit: str, indicator: str, value: str, stage: str = "self", at: str = SELF, **kw):
    return {
        "period": 2023, "unit_code": unit, "indicator_code": indicator, "value": value,
        "stage": stage, "submitted_at": at, **kw,
    }  # fmt: skip


def append_lines(path, *lines: str) -> None:
    text = path.read_text(encoding="utf-8")
    separator = "" if text.endswith("\n") else "\n"
    path.write_text(text + separator + "\n".join(lines) + "\n", encoding="utf-8")


def build(settings: Settings) -> None:
    dbt_runner.dbt_seed(settings)
    dbt_runner.dbt_build(settings)


def unit_row(settings: Settings, unit: str, period: int = 2023) -> dict:
    cols = (
        "status, total_score, self_score, applicable_max, percent, level, level_name, rank, "
        "is_late, next_level, points_to_next_level, points_to_drop_level"
    )
    (row,) = query(
        settings,
        f"select {cols} from marts.fct_unit_scores where unit_code = '{unit}' and period = {period}",
    )
    return dict(zip([c.strip() for c in cols.split(",")], row, strict=True))


def test_dbt_unit_tests_pass(settings: Settings) -> None:
    load_rows(settings, [])
    dbt_runner.dbt_seed(settings)
    # unit tests need their parents' relations; build models without tests, then run them
    dbt_runner.invoke(settings, "run")
    dbt_runner.invoke(settings, "test", "--select", "test_type:unit")


def test_a_unit_scores_by_the_spec_and_revisions_and_appraisals_count(settings: Settings) -> None:
    load_rows(
        settings,
        [
            answer("SO-SNV", "NTS.1", "Có"),  # boolean 8
            answer("SO-SNV", "NTS.3", "12"),  # tiers 10:3.5
            answer("SO-SNV", "NTS.4", "87,5"),  # ratio 8.75 ... revised below
            answer("SO-SNV", "NTS.4", "90", at="2023-12-05T10:00:00+07:00"),  # 9.00
            answer("SO-SNV", "NLS.4", "70"),  # 7 × 70/80 = 6.125 → 6.13
            answer("SO-SNV", "ATTT.5", "7.125", stage="appraisal", at="2024-02-05T10:00:00+07:00"),
            answer("SO-SNV", "NTS.1", "0", stage="appraisal", at="2024-02-05T10:00:00+07:00"),
            answer("SO-SNV", "HTS.1", ""),  # answered empty: unanswered, 0
        ],
    )
    build(settings)
    row = unit_row(settings, "SO-SNV")
    assert row["status"] == "scored"
    assert row["self_score"] == Decimal("26.63")
    assert row["total_score"] == Decimal("25.76")
    # HDCDS.6 applies to 8 departments only; Sở Nội vụ is not one of them
    assert row["applicable_max"] == Decimal("320.00")
    assert row["percent"] == Decimal("8.05")
    assert row["level"] == "khoi_dong"
    assert row["rank"] == 1
    history = query(
        settings,
        "select count(*) from staging.stg_portal__submission_rows where unit_code = 'SO-SNV'",
    )
    assert history == [(8,)], "every answer ever loaded stays queryable"
    unanswered = query(
        settings,
        "select count(*) from marts.fct_indicator_points "
        "where unit_code = 'SO-SNV' and period = 2023 and not is_answered",
    )
    assert unanswered == [(31 - 5,)]


def test_units_without_answers_are_not_submitted_and_unranked(settings: Settings) -> None:
    load_rows(settings, [answer("SO-SNV", "NTS.1", "1")])
    build(settings)
    row = unit_row(settings, "SO-SYT")
    assert row["status"] == "not_submitted"
    assert (row["level"], row["rank"], row["percent"]) == (None, None, None)
    counts = query(
        settings,
        "select block, count(*) from marts.fct_unit_scores where period = 2023 group by 1 order by 1",
    )
    assert counts == [("quan_huyen", 22), ("so_nganh", 31)]


def test_ties_share_a_rank_and_the_next_skips(settings: Settings) -> None:
    rows = [answer("SO-SNV", "NTS.1", "1"), answer("SO-SNV", "NTS.2", "1")]  # 15
    rows += [answer("SO-SYT", "NTS.1", "1"), answer("SO-SYT", "NTS.2", "1")]  # 15
    rows += [
        answer("SO-STC", "NTS.1", "1"),
        answer("SO-STC", "NTS.2", "1"),
        answer("SO-STC", "NLS.2", "1"),
    ]
    rows += [answer("SO-STP", "NTS.1", "1")]
    load_rows(settings, rows)
    build(settings)
    ranks = query(
        settings,
        "select unit_code, rank from marts.fct_unit_scores "
        "where period = 2023 and status = 'scored' order by rank, unit_code",
    )
    assert ranks == [("SO-STC", 1), ("SO-SNV", 2), ("SO-SYT", 2), ("SO-STP", 4)]


def test_a_failing_model_test_fails_the_build_with_its_name(settings: Settings) -> None:
    # a points value above the indicator's maximum reaches dbt only if ingest let it through;
    # the model tests must stop the build and say which test failed
    load_rows(settings, [answer("SO-SNV", "ATTT.5", "12", stage="appraisal")])
    dbt_runner.dbt_seed(settings)
    with pytest.raises(dbt_runner.DbtFailed, match="int_indicator_points"):
        dbt_runner.dbt_build(settings)


FOUR_LEVELS = (
    "test-2027,khu_pho,trung_binh,Trung bình,1,0,#b45309,#fef3c7",
    "test-2027,khu_pho,kha,Khá,2,48,#1d4ed8,#dbeafe",
    "test-2027,khu_pho,tot,Tốt,3,70,#0e7490,#cffafe",
    "test-2027,khu_pho,xuat_sac,Xuất sắc,4,90,#15803d,#dcfce7",
)
# unit -> (CQS.1 ratio of 30, CQS.2 points of 30, XHS.1 boolean of 40): a total on every
# threshold of FOUR_LEVELS and a cent under each
ON_THE_THRESHOLDS = {
    "KP-T00": ("0", "0", "không"),  # 0: the lowest level
    "KP-T47": ("100", "17.99", "không"),  # 47.99
    "KP-T69": ("0", "29.99", "có"),  # 69.99
    "KP-T89": ("100", "19.99", "có"),  # 89.99
    "KP-T90": ("100", "20", "có"),  # 90.00
}


def test_a_new_years_framework_is_a_data_change_only(settings: Settings, tmp_path) -> None:
    """A framework with four levels of its own (levels.csv rows, not columns) scores, levels
    and ranks with no code change: every unit, on each threshold, a cent under it and drawn
    at random, agrees with the reference scorer (level, rank, margins)."""
    import random

    from testkit.reference_scoring import score_period

    project = tmp_path / "dbt_project"
    shutil.copytree(
        settings.dbt_project_dir, project, ignore=shutil.ignore_patterns("target", "logs")
    )
    draw = random.Random(2027)
    answers = {
        "KP-BN": ("50", "15", "có"),  # 70.00: exactly Tốt
        "KP-CG": ("80", "24", ""),  # 48.00: exactly Khá
        **ON_THE_THRESHOLDS,
        **{
            f"KP-R{n:02d}": (
                str(draw.randint(0, 100)),
                f"{draw.randint(0, 3000) / 100:.2f}",
                draw.choice(["có", "không", ""]),
            )
            for n in range(12)
        },
    }
    # assessed without a rank: KP-R00 on its own (unit_rank_groups.csv), KP-R01 and KP-R02 as
    # the group trung_uong (rank_groups.csv); both columns are optional, added here
    not_ranked = "Cơ quan Trung ương: đánh giá, không xếp hạng"
    # and TT.1, a count collected but not scored (indicators.csv `scored` = false, 0 points)
    for name, column in (
        ("rank_groups.csv", "not_ranked_reason"),
        ("unit_rank_groups.csv", "not_ranked_reason"),
        ("indicators.csv", "scored"),
    ):
        path = project / "seeds" / name
        head, *body = path.read_text(encoding="utf-8").splitlines()
        path.write_text(
            "\n".join([f"{head},{column}", *(line + "," for line in body)]) + "\n",
            encoding="utf-8",
        )
    lines = {
        "rank_groups.csv": [f'trung_uong,Cơ quan Trung ương,"{not_ranked}"'],
        "unit_rank_groups.csv": ["KP-R00,,2027,2027,Thành lập giữa kỳ: không xếp hạng"],
        "frameworks.csv": ["test-2027,khu_pho,2027,2027,100,test framework"],
        "levels.csv": list(FOUR_LEVELS),
        "pillars.csv": [
            "test-2027,khu_pho,TT,Thông tin chung,0,0",
            "test-2027,khu_pho,CQS,Chính quyền số,60,1",
            "test-2027,khu_pho,XHS,Xã hội số,40,2",
        ],
        "indicators.csv": [
            "test-2027,khu_pho,TT.1,TT,Số cán bộ chuyên trách,0,tiers,,,,,false",
            "test-2027,khu_pho,CQS.1,CQS,Dịch vụ công trực tuyến,30,ratio,100,,,,",
            "test-2027,khu_pho,CQS.2,CQS,Thanh toán trực tuyến,30,points,,,,,",
            "test-2027,khu_pho,XHS.1,XHS,Định danh điện tử,40,boolean,,,,,",
        ],
        "units.csv": [
            f"{code},Khu phố {code},khu_pho,{'trung_uong' if code in ('KP-R01', 'KP-R02') else ''},"
            "2027,2027"
            for code in sorted(answers)
        ],
    }  # fmt: skip
    # the reference scorer reads a registry of the test framework alone
    reference = tmp_path / "reference"
    reference.mkdir()
    for name, added in lines.items():
        append_lines(project / "seeds" / name, *added)
        header = (project / "seeds" / name).read_text(encoding="utf-8")
        (reference / name).write_text(header.splitlines()[0] + "\n", encoding="utf-8")
        append_lines(reference / name, *added)
    settings = settings.with_paths(dbt_project_dir=project)
    rows = [
        {
            **answer(unit, code, value),
            "period": 2027,
            "submitted_at": "2027-12-01T09:00:00+07:00",
            "submission_id": f"{unit}-1",
        }
        for unit, values in answers.items()
        for code, value in zip(("CQS.1", "CQS.2", "XHS.1"), values, strict=True)
        if value
    ]
    # every unit but two tells its count of staff: information, 0 points, outside the maximum
    rows += [
        {**rows[0], "unit_code": unit, "indicator_code": "TT.1", "value": str(7 + n)}
        for n, unit in enumerate(sorted(answers)[2:])
    ]
    load_rows(settings, rows)
    build(settings)

    bn = unit_row(settings, "KP-BN", period=2027)
    cg = unit_row(settings, "KP-CG", period=2027)
    assert (bn["total_score"], bn["percent"], bn["level"], bn["level_name"]) == (
        Decimal("70.00"), Decimal("70.00"), "tot", "Tốt",
    )  # fmt: skip
    assert (cg["total_score"], cg["level"]) == (Decimal("48.00"), "kha")
    assert bn["applicable_max"] == Decimal("100.00"), "the information indicator adds no maximum"
    info = query(
        settings,
        "select count(*), sum(final_points), sum(max_points), count(self_value) "
        "from marts.fct_indicator_points where period = 2027 and indicator_code = 'TT.1'",
    )
    assert info == [(len(answers), Decimal(0), Decimal(0), len(answers) - 2)]
    # the margins walk the four levels: 20 points to Xuất sắc, 0.01 below 70 drops to Khá
    assert (bn["next_level"], bn["points_to_next_level"], bn["points_to_drop_level"]) == (
        "xuat_sac", Decimal("20.00"), Decimal("0.01"),
    )  # fmt: skip
    assert (cg["next_level"], cg["points_to_next_level"]) == ("tot", Decimal("22.00"))
    fields = (
        "unit_code", "total_score", "level", "rank", "next_level", "points_to_next_level",
        "points_to_drop_level", "points_to_next_rank", "points_to_drop_rank",
        "not_ranked_reason",
    )  # fmt: skip
    published = {
        r[0]: r
        for r in query(
            settings,
            f"select {', '.join(fields)} from marts.fct_unit_scores where period = 2027",
        )
    }
    expected = score_period(rows, 2027, reference)
    assert sorted(published) == sorted(r["unit_code"] for r in expected)
    reached = set()
    for want in expected:
        got = dict(zip(fields, published[want["unit_code"]], strict=True))
        wanted = {
            "total_score": want["total_score"],
            "level": want["level"],
            "rank": want["rank"],
            "not_ranked_reason": want["not_ranked_reason"],
        }
        wanted |= want["margins"]
        assert {k: got[k] for k in wanted} == wanted, want["unit_code"]
        reached.add(got["level"])
    assert reached == {"trung_binh", "kha", "tot", "xuat_sac"}
    # the units assessed without a rank keep their level and take no place from the others
    for code in ("KP-R00", "KP-R01", "KP-R02"):
        row = unit_row(settings, code, period=2027)
        assert row["level"] is not None and row["rank"] is None, code
    ranks = sorted(r[3] for r in published.values() if r[3] is not None)
    assert len(ranks) == len(published) - 3 and ranks[0] == 1
    assert published["KP-R00"][-1] == "Thành lập giữa kỳ: không xếp hạng"
    assert published["KP-R01"][-1] == not_ranked
    assert [unit_row(settings, u, period=2027)["level"] for u in ON_THE_THRESHOLDS] == [
        "trung_binh", "trung_binh", "kha", "tot", "xuat_sac",
    ]  # fmt: skip


@pytest.mark.parametrize(
    "pairs_limit",
    [1000, 0],
    ids=["changed-units-inlined", "changed-units-selected-by-load-time"],
)
def test_an_incremental_build_equals_a_full_refresh(
    settings: Settings, tmp_path, pairs_limit: int
) -> None:
    if pairs_limit != 1000:
        project = tmp_path / "dbt_project"
        shutil.copytree(
            settings.dbt_project_dir, project, ignore=shutil.ignore_patterns("target", "logs")
        )
        append_lines(project / "dbt_project.yml", "vars:", f"  inline_pairs_limit: {pairs_limit}")
        settings = settings.with_paths(dbt_project_dir=project)
    first = [answer("SO-SNV", "NTS.1", "1"), answer("SO-SYT", "NTS.1", "1")]
    first += [answer("SO-STC", "NTS.2", "1"), answer("QH-Q1", "NTS.1", "có")]
    load_rows(settings, first)
    dbt_runner.dbt_seed(settings)
    assert dbt_runner.dbt_build(settings) is True, "the first build is a full refresh"
    # a revision from one unit and a first answer from another, loaded later
    later = "2024-03-02T00:00:00+07:00"
    load_rows(
        settings,
        [
            {**answer("SO-SYT", "NTS.1", "0", at="2023-12-09T10:00:00+07:00"), "loaded_at": later},
            {**answer("SO-SYT", "HTS.1", "100"), "loaded_at": later},
            {**answer("SO-STP", "NTS.2", "1"), "loaded_at": later},
        ],
    )
    assert dbt_runner.dbt_build(settings) is False
    marts = (
        "select period, unit_code, status, total_score, self_score, percent, level, rank "
        "from marts.fct_unit_scores order by all"
    )
    pillars = (
        "select period, unit_code, pillar_code, score from marts.fct_pillar_scores order by all"
    )
    incremental = query(settings, marts), query(settings, pillars)
    changed = {r[1]: r for r in incremental[0] if r[0] == 2023}
    assert changed["SO-SYT"][3] == Decimal("10.00"), "the revision replaced the old answer"
    assert changed["SO-STP"][2] == "scored"
    assert dbt_runner.dbt_build(settings) is False, "nothing new: an empty incremental build"
    assert (query(settings, marts), query(settings, pillars)) == incremental
    dbt_runner.dbt_build(settings, full_refresh=True)
    assert (query(settings, marts), query(settings, pillars)) == incremental


def test_a_changed_registry_forces_a_full_refresh(settings: Settings, tmp_path) -> None:
    project = tmp_path / "dbt_project"
    shutil.copytree(
        settings.dbt_project_dir, project, ignore=shutil.ignore_patterns("target", "logs")
    )
    settings = settings.with_paths(dbt_project_dir=project)
    load_rows(settings, [answer("SO-SNV", "NTS.1", "1")])
    dbt_runner.dbt_seed(settings)
    dbt_runner.dbt_build(settings)
    assert dbt_runner.dbt_build(settings) is False
    indicators = project / "seeds" / "indicators.csv"
    text = indicators.read_text(encoding="utf-8")
    # the council decides NTS.1 is worth 10 points from now on: a data change
    indicators.write_text(
        text.replace('Ban chỉ đạo",8,boolean', 'Ban chỉ đạo",10,boolean', 1), encoding="utf-8"
    )
    dbt_runner.dbt_seed(settings)
    assert dbt_runner.dbt_build(settings) is True
    assert unit_row(settings, "SO-SNV")["total_score"] == Decimal("10.00")
