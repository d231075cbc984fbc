from __future__ import annotations

import duckdb

from dti.settings import Settings

COLUMNS = (
    "period", "unit_code", "indicator_code", "value", "evidence_ref", "stage", "submitted_at",
    "submission_id", "source", "batch_sha256", "source_row", "loaded_at", "note", "appraiser",
    "reason",
)  # fmt: skip


def load_rows(settings: Settings, rows: list[dict]) -> None:
    """Appends answer rows to ``raw.submission_rows`` the way the ingest step stores them."""
    from ingest.schema import ensure_raw_schema

    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(settings.warehouse))
    try:
        ensure_raw_schema(con)
        # row numbers go on across calls: (batch_sha256, source_row) names one row, as ingest
        # keeps it
        (loaded,) = con.execute("select count(*) from raw.submission_rows").fetchone()
        for number, row in enumerate(rows, start=loaded + 1):
            full = {
                "evidence_ref": None,
                "note": None,
                "appraiser": None,
                "reason": None,
                "submission_id": f"test:{number}",
                "source": "inbox",
                "batch_sha256": "test",
                "source_row": number,
                "loaded_at": "2024-03-01T00:00:00+07:00",
                **row,
            }
            con.execute(
                f"insert into raw.submission_rows ({', '.join(COLUMNS)}) "
                f"values ({', '.join('?' for _ in COLUMNS)})",
                [full[c] for c in COLUMNS],
            )
    finally:
        con.close()


def query(settings: Settings, sql: str) -> list[tuple]:
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()
