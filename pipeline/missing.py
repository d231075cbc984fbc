"""Who has not answered yet: the units missing a period's answers, before its deadline.

`dti missing --period P` and the ``dti_reminders`` DAG read the marts (the same rules that
score: the framework valid for the period, the indicators that apply to each unit, the
latest answer) and the period's deadline in the registry (``periods.csv``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta, timezone

from dti.settings import Settings
from dti.text import printable_fields

VIETNAM = timezone(timedelta(hours=7))  # no DST since 1975; deadlines are local time


@dataclass
class MissingUnit:
    unit_code: str
    unit_name: str
    block: str
    submitted: bool  # False: nothing at all from this unit (status not_submitted)
    unanswered: list[dict[str, str]] = field(default_factory=list)  # indicator_code, name


@dataclass
class MissingReport:
    period: int
    deadline: str | None  # ISO-8601 with offset, from registry.periods
    units: list[MissingUnit]

    def to_dict(self) -> dict:
        return asdict(self)

    def render(self) -> str:
        units = [MissingUnit(**printable_fields(asdict(u))) for u in self.units]
        deadline = self.deadline or "none in periods.csv"
        if not units:
            return (
                f"DTI {self.period}: every unit has answered every indicator (deadline {deadline})"
            )
        lines = [
            f"DTI {self.period} — deadline {deadline}: {len(units)} unit(s) missing answers "
            f"({sum(not u.submitted for u in units)} not submitted at all)"
        ]
        for unit in units:
            head = f"  {unit.unit_code:<10} {unit.unit_name} ({unit.block}):"
            if not unit.submitted:
                lines.append(f"{head} not submitted — all {len(unit.unanswered)} indicators")
            else:
                codes = ", ".join(i["indicator_code"] for i in unit.unanswered)
                lines.append(f"{head} {len(unit.unanswered)} unanswered — {codes}")
        return "\n".join(lines)


def missing_answers(settings: Settings, period: int) -> MissingReport:
    """Every unit of ``period`` with an applicable indicator unanswered, with those indicators."""
    import duckdb

    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        built = con.execute(
            "select count(*) from information_schema.tables where table_schema = 'marts' "
            "and table_name in ('fct_unit_scores', 'fct_indicator_points')"
        ).fetchone()[0]
        scored = (
            con.execute(
                "select count(*) from marts.fct_unit_scores where period = ?", [period]
            ).fetchone()[0]
            if built == 2
            else 0
        )
        if not scored:
            raise LookupError(
                f"no scores for period {period} in {settings.warehouse}: run "
                f"`dti run --period {period}` (or let dti_transform build it) first"
            )
        rows = con.execute(
            """
            select u.unit_code, u.unit_name, u.block, u.status, i.indicator_code, i.indicator_name
            from marts.fct_unit_scores as u
            join marts.fct_indicator_points as i
                on i.period = u.period and i.unit_code = u.unit_code
            where u.period = ? and not i.is_answered
            order by u.block, u.unit_code, i.pillar_code, i.indicator_code
            """,
            [period],
        ).fetchall()
        deadline = registry_deadlines(con).get(period)
    finally:
        con.close()
    units: dict[str, MissingUnit] = {}
    for unit_code, unit_name, block, status, code, name in rows:
        unit = units.setdefault(
            unit_code, MissingUnit(unit_code, unit_name, block, status != "not_submitted")
        )
        unit.unanswered.append({"indicator_code": code, "indicator_name": name})
    # the units that sent nothing first: they are the ones to call
    ordered = sorted(units.values(), key=lambda u: (u.submitted, u.block, u.unit_code))
    return MissingReport(period, deadline.isoformat() if deadline else None, ordered)


def registry_deadlines(con) -> dict[int, datetime]:
    """``{period: deadline}`` from the registry seed ``periods`` (empty before the first seed)."""
    has = con.execute(
        "select count(*) from information_schema.tables where table_schema = 'registry' "
        "and table_name = 'periods'"
    ).fetchone()[0]
    if not has:
        return {}
    rows = con.execute(
        "select period, deadline at time zone 'Asia/Ho_Chi_Minh' from registry.periods "
        "where deadline is not null"
    ).fetchall()
    return {int(p): d.replace(tzinfo=VIETNAM) for p, d in rows}


def periods_due(
    deadlines: dict[int, datetime], today: date, days_before: Iterable[int]
) -> list[int]:
    """The periods whose deadline (Vietnamese date) is exactly one of ``days_before`` away."""
    days = set(days_before)
    return sorted(
        p for p, d in deadlines.items() if (d.astimezone(VIETNAM).date() - today).days in days
    )


def reminders_due(settings: Settings, today: date, days_before: Iterable[int]) -> list[int]:
    import duckdb

    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        return periods_due(registry_deadlines(con), today, days_before)
    finally:
        con.close()
