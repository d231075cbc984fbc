"""``raw.quarantine_rows``: every refused row with its file, row number and reason."""

from __future__ import annotations

import duckdb


def refused_rows(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """The ``dti quarantine --json`` list, newest batch first, then by row number."""
    cursor = con.execute(
        """select q.source_file, q.source, q.batch_sha256 as sha256, q.source_row,
                  q.reason_code, q.reason, q.period, q.unit_code, q.indicator_code, q.value,
                  q.evidence_ref, q.stage, q.submitted_at, q.submission_id,
                  any_value(l.stored_at) as stored_at
           from raw.quarantine_rows as q
           left join raw.load_ledger as l
             on l.batch_sha256 = q.batch_sha256 and l.outcome <> 'duplicate'
           group by all
           order by max(q.quarantined_at) desc, q.source_file, q.source_row"""
    )
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
