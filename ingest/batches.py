"""Turning collected batches into ledger entries and rows, all in one transaction.

Order of work for every source: bytes archived → rows collected (temp tables) → archive flushed
to disk → one transaction judges the collected rows and appends the accepted ones to
``raw.submission_rows`` and the refused ones to ``raw.quarantine_rows`` straight from the
judgement, then the ledger entries (and the source's watermark) → commit. A crash before the
commit leaves no trace in ``raw.*``; the same bytes are simply processed again on the next run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import duckdb

from ingest import archive, complaints, ledger, rows
from ingest.archive import Archived
from ingest.refusal import FileRefused
from ingest.report import BatchResult

log = logging.getLogger(__name__)


@dataclass
class Batch:
    """One file, API page or database batch on its way to the ledger."""

    source: str
    source_file: str
    archived: Archived
    refusal: FileRefused | None = None
    duplicate_of: str | None = None  # stored_at of the batch already loaded with these bytes
    known_versions: int = 0  # portal items whose (id, updated_at) was already loaded: skipped
    # complaints and decisions the batch brings (a complaints file, portal items), judged
    judged: list[complaints.Judged] = field(default_factory=list)


def _judge(batch: Batch, counts: rows.BatchCounts | None) -> BatchResult:
    result = BatchResult(
        source=batch.source,
        source_file=batch.source_file,
        sha256=batch.archived.sha256,
        outcome="loaded",
        reason_code="ok",
        reason="",
        stored_at=str(batch.duplicate_of or batch.archived.stored_at),
    )
    if batch.refusal is not None:
        result.outcome, result.reason_code = "refused", batch.refusal.code
        result.reason = batch.refusal.reason
        return result
    if batch.duplicate_of is not None:
        result.outcome, result.reason_code = "duplicate", "duplicate_file"
        result.reason = (
            f"exact copy (sha256 {batch.archived.sha256[:12]}…) of a batch already loaded; "
            "its rows were not loaded again"
        )
        return result
    counts = counts or rows.BatchCounts()
    for judged in batch.judged:  # complaints and decisions count as rows, with their answers
        own = judged.counts
        counts = rows.BatchCounts(
            counts.rows_total + own.rows_total,
            counts.rows_loaded + own.rows_loaded,
            counts.rows_refused + own.rows_refused,
            sorted(set(counts.periods) | set(own.periods)),
            sorted(set(counts.first_reasons) | set(own.first_reasons)),
        )
    result.rows_total, result.rows_loaded = counts.rows_total, counts.rows_loaded
    result.rows_refused, result.periods = counts.rows_refused, counts.periods
    codes = ", ".join(counts.first_reasons)
    if counts.rows_total == 0 and batch.known_versions:
        result.outcome, result.reason_code = "duplicate", "known_versions"
        result.reason = (
            f"all {batch.known_versions} answer versions (id and updated_at) were already "
            "loaded; nothing loaded again"
        )
        return result
    if counts.rows_total == 0:
        result.outcome, result.reason_code = "refused", "empty_file"
        result.reason = "the batch holds a header but no answer rows"
    elif counts.rows_loaded == 0:
        result.outcome, result.reason_code = "refused", "all_rows_refused"
        result.reason = (
            f"all {counts.rows_total} rows refused ({codes}); see `dti quarantine`, "
            "correct them and send the file again"
        )
    elif counts.rows_refused:
        result.outcome, result.reason_code = "partial", "rows_refused"
        result.reason = (
            f"{counts.rows_refused} of {counts.rows_total} rows refused ({codes}); the other "
            f"{counts.rows_loaded} loaded. See `dti quarantine`; send the corrected rows again"
        )
    else:
        result.reason = f"all {counts.rows_total} rows loaded"
    if batch.known_versions:
        result.reason += (
            f"; {batch.known_versions} answer versions already loaded were not loaded again"
        )
    return result


def commit(
    con: duckdb.DuckDBPyConnection,
    batches: list[Batch],
    in_transaction: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
) -> list[BatchResult]:
    """Records ``batches`` atomically: their collected rows (judged on the way into ``raw``),
    ledger rows and, through ``in_transaction``, a source's watermark."""
    names = [
        [b.archived.sha256, b.source_file]
        for b in batches
        if b.refusal is None and b.duplicate_of is None
    ]
    if names:
        con.executemany("insert into batch_names values (?, ?)", names)
    archive.make_durable()
    # The order of rows inside raw tables means nothing (source_row does): writing them in
    # parallel without keeping the scan's order is faster.
    con.execute("set preserve_insertion_order = false")
    con.execute("begin transaction")
    try:
        counts = rows.load_collected(con)
        for b in batches:
            if b.refusal is None and b.duplicate_of is None:
                for judged in b.judged:
                    complaints.append(con, b.archived.sha256, b.source, b.source_file, judged)
        results = [_judge(b, counts.get(b.archived.sha256)) for b in batches]
        # A copy of a batch judged in this very commit shares its fate: "duplicate" only means
        # "already loaded", so the copy of a file whose rows were all refused is refused too.
        originals = {
            r.sha256: r for b, r in zip(batches, results, strict=True) if b.duplicate_of is None
        }
        for result in results:
            original = originals.get(result.sha256)
            if result.outcome == "duplicate" and original and original.outcome == "refused":
                result.outcome, result.reason_code = "refused", original.reason_code
                result.reason = f"copy of {original.source_file}, refused: {original.reason}"
        ledger.record(
            con,
            [(r, b.archived.size_bytes) for b, r in zip(batches, results, strict=True)],
        )
        if in_transaction is not None:
            in_transaction(con)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    finally:
        con.execute("reset preserve_insertion_order")
        rows.reset(con)
    for result in results:
        log.log(
            logging.WARNING if result.outcome == "refused" else logging.INFO,
            "%s %s %s: %s (%s)",
            result.source,
            result.source_file,
            result.sha256[:12],
            result.outcome,
            result.reason,
        )
    return results
