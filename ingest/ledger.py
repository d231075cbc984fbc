"""``raw.load_ledger``: one row per file or batch received, whatever became of it."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import duckdb

from ingest import lock
from ingest.report import BatchResult


def record(con: duckdb.DuckDBPyConnection, entries: list[tuple[BatchResult, int]]) -> None:
    """Appends one ledger row per (result, size in bytes), in one statement, inside the
    caller's transaction."""
    if not entries:
        return
    columns = [
        [r.sha256 for r, _ in entries],
        [r.source for r, _ in entries],
        [r.source_file for r, _ in entries],
        [size for _, size in entries],
        [r.outcome for r, _ in entries],
        [r.reason_code for r, _ in entries],
        [r.reason for r, _ in entries],
        [r.rows_total for r, _ in entries],
        [r.rows_loaded for r, _ in entries],
        [r.rows_refused for r, _ in entries],
        [r.stored_at for r, _ in entries],
        [r.periods for r, _ in entries],
    ]
    con.execute(
        """insert into raw.load_ledger
           select s.sha, s.source, s.name, s.size, now(), s.outcome, s.code, s.reason,
                  s.total, s.loaded, s.refused, s.stored_at, s.periods
           from (select unnest(?::varchar[]) as sha, unnest(?::varchar[]) as source,
                        unnest(?::varchar[]) as name, unnest(?::bigint[]) as size,
                        unnest(?::varchar[]) as outcome, unnest(?::varchar[]) as code,
                        unnest(?::varchar[]) as reason, unnest(?::integer[]) as total,
                        unnest(?::integer[]) as loaded, unnest(?::integer[]) as refused,
                        unnest(?::varchar[]) as stored_at,
                        unnest(?::integer[][]) as periods) as s""",
        columns,
    )


def already_loaded(con: duckdb.DuckDBPyConnection, shas: Iterable[str]) -> dict[str, str]:
    """sha256 → stored_at of batches whose rows are already in ``raw.submission_rows``."""
    shas = list(set(shas))
    if not shas:
        return {}
    rows = con.execute(
        """select batch_sha256, any_value(stored_at) from raw.load_ledger
           where outcome in ('loaded', 'partial') and list_contains(?, batch_sha256)
           group by batch_sha256""",
        [shas],
    ).fetchall()
    return dict(rows)


def entries(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Every ledger row, oldest first, as the ``dti ledger --json`` list."""
    cursor = con.execute(
        """select source_file, source, batch_sha256 as sha256, size_bytes,
                  strftime(received_at at time zone 'UTC', '%Y-%m-%dT%H:%M:%S.%fZ') as received_at,
                  outcome, reason_code, reason, rows_total, rows_loaded, rows_refused,
                  stored_at, periods
           from raw.load_ledger order by received_at, rowid"""
    )
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def read(warehouse: Path) -> list[dict]:
    """``entries`` of the warehouse file, opened read-only; empty before the first ingest."""
    if not warehouse.exists():
        return []
    con = lock.connect(warehouse, read_only=True)
    try:
        found = con.execute(
            "select count(*) from duckdb_tables() "
            "where schema_name = 'raw' and table_name = 'load_ledger'"
        ).fetchone()[0]
        return entries(con) if found else []
    finally:
        con.close()


def relocate_archive(con: duckdb.DuckDBPyConnection, was: str, now: str) -> int:
    """Points the ledger's ``stored_at`` of files archived under ``was`` at the same files
    under ``now`` (a deployment restored into another folder); returns the rows moved."""
    was, now = was.rstrip("/") + "/", now.rstrip("/") + "/"
    if was == now:
        return 0
    moved = con.execute(
        """update raw.load_ledger set stored_at = ? || stored_at[length(?) + 1:]
           where starts_with(stored_at, ?)""",
        [now, was, was],
    ).fetchone()
    return int(moved[0]) if moved else 0
