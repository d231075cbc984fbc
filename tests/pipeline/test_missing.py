"""`dti missing`: the units still missing answers, their unanswered indicators, the deadline."""

from __future__ import annotations

import json
from datetime import date, datetime

import duckdb

from dti.settings import Settings
from pipeline import cli
from pipeline.missing import VIETNAM, missing_answers, periods_due
from tests.publish.publish_marts_fixture import make_warehouse, small_units


def warehouse_with_deadline(settings: Settings, deadline: str) -> Settings:
    """The small 2023 fixture warehouse with its period's row of the registry."""
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    make_warehouse(settings.warehouse, 2023, small_units())
    con = duckdb.connect(str(settings.warehouse))
    con.execute("create schema if not exists registry")
    con.execute(
        "create table registry.periods (period integer, deadline timestamptz, "
        "late_self_answers_count boolean)"
    )
    con.execute("insert into registry.periods values (2023, ?::timestamptz, true)", [deadline])
    con.close()
    return settings


def test_missing_lists_silent_units_first_then_their_unanswered_indicators(settings) -> None:
    warehouse_with_deadline(settings, "2024-01-31T23:59:59+07:00")
    report = missing_answers(settings, 2023)

    assert report.deadline == "2024-01-31T23:59:59+07:00"
    silent = [u for u in report.units if not u.submitted]
    assert [u.unit_code for u in silent] == ["SO-E"]
    assert report.units[0].unit_code == "SO-E"
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    expected = con.execute(
        "select unit_code, indicator_code from marts.fct_indicator_points "
        "where period = 2023 and not is_answered order by all"
    ).fetchall()
    con.close()
    listed = sorted((u.unit_code, i["indicator_code"]) for u in report.units for i in u.unanswered)
    assert listed == expected and expected


def test_dti_missing_prints_the_list_and_json(settings, capsys) -> None:
    warehouse_with_deadline(settings, "2024-01-31T23:59:59+07:00")
    assert cli.main(["missing", "--period", "2023", "--warehouse", str(settings.warehouse)]) == 0
    text = capsys.readouterr().out
    assert text.startswith("DTI 2023 — deadline 2024-01-31T23:59:59+07:00:")
    assert "SO-E       Sở Xây dựng (so_nganh): not submitted — all" in text

    argv = ["missing", "--period", "2023", "--warehouse", str(settings.warehouse), "--json"]
    assert cli.main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["units"][0]["unit_code"] == "SO-E" and data["units"][0]["submitted"] is False


def test_dti_missing_of_a_period_not_built_says_what_to_run(settings, capsys) -> None:
    warehouse_with_deadline(settings, "2024-01-31T23:59:59+07:00")
    argv = ["missing", "--period", "2031", "--warehouse", str(settings.warehouse)]
    assert cli.main(argv) == 1
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"dti missing: no scores for period 2031 in {settings.warehouse}: run "
        "`dti run --period 2031` (or let dti_transform build it) first"
    ]


def test_reminders_fall_on_the_vietnamese_dates_before_the_deadline() -> None:
    # 23:59 on 31 January in Hà Nội is still 31 January, though 16:59 UTC
    deadlines = {2023: datetime(2024, 1, 31, 23, 59, 59, tzinfo=VIETNAM)}
    assert periods_due(deadlines, date(2024, 1, 24), (14, 7, 1)) == [2023]
    assert periods_due(deadlines, date(2024, 1, 30), (14, 7, 1)) == [2023]
    assert periods_due(deadlines, date(2024, 1, 25), (14, 7, 1)) == []
    assert periods_due(deadlines, date(2024, 2, 1), (14, 7, 1)) == []
