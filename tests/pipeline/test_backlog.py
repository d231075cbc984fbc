"""What the event-driven path still owes, read from the warehouse rather than from events."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from dti.settings import Settings
from ingest import open_warehouse
from pipeline import backlog

T0 = datetime.fromisoformat("2025-11-30T08:00:00+07:00")


def _load(settings: Settings, period: int, unit: str, minutes: int) -> None:
    """One answer of ``unit`` in ``period``, loaded ``minutes`` after T0."""
    con = open_warehouse(settings)
    try:
        con.execute(
            "insert into raw.submission_rows (period, unit_code, indicator_code, value, stage, "
            "submitted_at, submission_id, source, batch_sha256, loaded_at) "
            "values (?, ?, 'I1', '1', 'self', ?, ?, 'inbox', 'sha', ?)",
            [period, unit, T0, f"{unit}-{minutes}", T0 + timedelta(minutes=minutes)],
        )
    finally:
        con.close()


def test_nothing_loaded_owes_nothing(settings: Settings) -> None:
    assert backlog.answers_to_validate(settings) == ([], None)
    assert backlog.periods_to_publish(settings) == {}


def test_answers_are_owed_until_a_validation_up_to_them_passed(settings: Settings) -> None:
    _load(settings, 2024, "A", 1)
    _load(settings, 2025, "B", 2)
    periods, through = backlog.answers_to_validate(settings)
    assert periods == [2024, 2025]
    assert datetime.fromisoformat(through) == T0 + timedelta(minutes=2)

    # loaded while that validation ran (after its mark): still owed after it passed
    _load(settings, 2023, "C", 3)
    backlog.validated(settings, periods, through)
    assert backlog.answers_to_validate(settings)[0] == [2023]
    assert sorted(backlog.periods_to_publish(settings)) == [2024, 2025]

    # a run of one period (the DAG's param) leaves the mark where it was
    backlog.validated(settings, [2023], None)
    assert backlog.answers_to_validate(settings)[0] == [2023]
    # and a mark never moves back
    later_periods, later = backlog.answers_to_validate(settings)
    backlog.validated(settings, later_periods, later)
    backlog.validated(settings, [2024], through)
    assert backlog.answers_to_validate(settings)[0] == []


def test_a_release_clears_what_it_read_not_a_later_validation(settings: Settings) -> None:
    _load(settings, 2025, "A", 1)
    periods, through = backlog.answers_to_validate(settings)
    backlog.validated(settings, periods, through)
    owed = backlog.periods_to_publish(settings)
    assert list(owed) == [2025]

    backlog.published(settings, owed)
    assert backlog.periods_to_publish(settings) == {}

    backlog.validated(settings, [2025], through)
    stale = {2025: owed[2025]}  # what an earlier publish read, before this validation
    backlog.published(settings, stale)
    assert list(backlog.periods_to_publish(settings)) == [2025]


@pytest.mark.parametrize("minutes", [0, 59])
def test_the_mark_keeps_the_answers_time_zone_exact(settings: Settings, minutes: int) -> None:
    _load(settings, 2025, "A", minutes)
    periods, through = backlog.answers_to_validate(settings)
    backlog.validated(settings, periods, through)
    # the answer at the mark itself is validated, not owed again
    assert backlog.answers_to_validate(settings)[0] == []
