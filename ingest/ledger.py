"""``raw.load_ledger``: one row per file or batch received, whatever became of it."""

from __future__ import annotations

from collections.abc import Iterable

import duckdb

from ingest.report import BatchResult

LEDGER_COLUMNS = (
    "source_file",
    "source",
    "sha256",
    "size_bytes",
    "received_at",
    "outcome",
    "reason_code",
    "reason",
    "rows_total",
    "rows_loaded",
    "rows_refused",
    "stored_at",
    "periods",
)


def record(con: duckdb.DuckDBPyConnection, result: BatchResult, size_bytes: int) -> None:
    """Appends one ledger row (inside the caller's transaction)."""
    con.execute(
        """insert into raw.load_ledger values
           (?, ?, ?, ?, now(), ?, ?, ?, ?, ?, ?, ?, ?)""",
        [
            result.sha256,
            result.source,
            result.source_file,
            size_bytes,
            result.outcome,
            result.reason_code,
            result.reason,
            result.rows_total,
            result.rows_loaded,
            result.rows_refused,
            result.stored_at,
            result.periods,
        ],
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
