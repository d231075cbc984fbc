"""What the event-driven path still owes: periods with answers loaded since the last
validation, and periods validated since the last release.

Asset events say which periods changed, but an event can be left out of a run: Airflow
deletes the queue record of an event that arrives while the DAG's next run is already queued,
and that run's window ends before the event. So the events only add to what the warehouse
itself says is owed (``meta.validation_backlog``, ``meta.publication_backlog``):

- a transform takes every period with an answer loaded after the newest ``loaded_at`` its
  predecessors validated, up to the newest it sees when it starts (``answers_through``); after
  its last gate it moves the mark there and owes the release of those periods;
- a publish releases every period owed, and clears what it released.

Each step runs with the warehouse's one writer (the ``dti_duckdb`` pool), so what a step reads
here is still true when it writes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from dti.settings import Settings

_BACKLOG_DDL = """
create schema if not exists meta;
create table if not exists meta.validation_backlog (answers_through timestamptz not null);
create table if not exists meta.publication_backlog (
    period integer primary key,
    validated_at timestamptz not null
);
"""


def _connect(settings: Settings):
    from ingest import open_warehouse

    con = open_warehouse(settings)
    con.execute(_BACKLOG_DDL)
    return con


def answers_to_validate(settings: Settings) -> tuple[list[int], str | None]:
    """The periods with answers loaded since the last validation, and the newest ``loaded_at``
    now (``None`` when no answer is loaded): the mark a successful validation moves to."""
    con = _connect(settings)
    try:
        through = con.execute("select max(loaded_at) from raw.submission_rows").fetchone()[0]
        if through is None:
            return [], None
        rows = con.execute(
            """
            select distinct period
            from raw.submission_rows
            where loaded_at > coalesce(
                    (select max(answers_through) from meta.validation_backlog),
                    '-infinity'::timestamptz
                )
                and loaded_at <= ?
            order by period
            """,
            [through],
        ).fetchall()
    finally:
        con.close()
    return [int(r[0]) for r in rows], through.isoformat()


def validated(settings: Settings, periods: Iterable[int], answers_through: str | None) -> None:
    """Every gate passed for ``periods`` on the answers loaded up to ``answers_through``:
    the mark moves there (never back) and the periods are owed a release."""
    con = _connect(settings)
    try:
        con.execute("begin")
        if answers_through is not None:
            con.execute(
                """
                insert into meta.validation_backlog
                select greatest(
                    cast(? as timestamptz),
                    coalesce(max(answers_through), '-infinity'::timestamptz)
                )
                from meta.validation_backlog
                """,
                [answers_through],
            )
            con.execute(
                "delete from meta.validation_backlog where answers_through < "
                "(select max(answers_through) from meta.validation_backlog)"
            )
        for period in sorted({int(p) for p in periods}):
            con.execute(
                "insert or replace into meta.publication_backlog values (?, current_timestamp)",
                [period],
            )
        con.execute("commit")
    finally:
        con.close()


def periods_to_publish(settings: Settings) -> dict[int, datetime]:
    """``{period: when it was validated}``: the periods validated and not released since."""
    con = _connect(settings)
    try:
        rows = con.execute(
            "select period, validated_at from meta.publication_backlog order by period"
        ).fetchall()
    finally:
        con.close()
    return {int(p): at for p, at in rows}


def published(settings: Settings, owed: Mapping[int, datetime]) -> None:
    """The releases of ``owed`` are written: they are no longer owed, unless validated again
    since they were read."""
    if not owed:
        return
    con = _connect(settings)
    try:
        for period, validated_at in owed.items():
            con.execute(
                "delete from meta.publication_backlog where period = ? and validated_at = ?",
                [int(period), validated_at],
            )
    finally:
        con.close()
