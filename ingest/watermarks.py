"""``raw.watermarks``: how far each incremental source has been pulled.

The watermark is the ``(updated_at, id)`` of the last row of the last committed batch, kept as
the text the source gave, and it is written in the same transaction as that batch's rows: a
pull that crashes resumes exactly after the last committed batch (no gap, no duplicate).
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb


@dataclass(frozen=True)
class Watermark:
    updated_at: str
    id: str


def get(con: duckdb.DuckDBPyConnection, source: str) -> Watermark | None:
    row = con.execute(
        "select watermark, watermark_id from raw.watermarks where source = ?", [source]
    ).fetchone()
    return Watermark(row[0], row[1]) if row else None


def put(con: duckdb.DuckDBPyConnection, source: str, mark: Watermark, batch_sha256: str) -> None:
    """Advances the watermark (call inside the batch's transaction)."""
    con.execute(
        """insert or replace into raw.watermarks (source, watermark, watermark_id, batch_sha256,
               updated_at)
           values (?, ?, ?, ?, now())""",
        [source, mark.updated_at, mark.id, batch_sha256],
    )
