"""What the two portal sources share: rows of a page or batch collected as one ledger batch."""

from __future__ import annotations

import logging

import duckdb

from ingest import batches, ledger, rows, watermarks
from ingest.archive import Archived
from ingest.batches import Batch
from ingest.refusal import FileRefused
from ingest.report import BatchResult
from ingest.values import as_text

log = logging.getLogger(__name__)

ITEM_FIELDS = (
    "period",
    "unit_code",
    "indicator_code",
    "value",
    "evidence_ref",
    "stage",
    "submitted_at",
    "note",
    "appraiser",
    "reason",
)


class PortalError(Exception):
    """A portal source could not finish; its watermark is where the next run resumes."""


def commit_items(
    con: duckdb.DuckDBPyConnection,
    source: str,
    source_file: str,
    stored: Archived,
    items: list[dict] | None,
    mark: watermarks.Watermark | None,
    refusal: FileRefused | None = None,
) -> BatchResult:
    """Collects ``items`` and commits them with the watermark ``mark`` in one transaction."""
    batch = Batch(source, source_file, stored, refusal=refusal)
    if refusal is None:
        loaded = ledger.already_loaded(con, [stored.sha256])
        if stored.sha256 in loaded:
            batch.duplicate_of = loaded[stored.sha256]
        else:
            records = [
                {
                    "batch_sha256": stored.sha256,
                    "source": source,
                    "source_row": n,
                    **{f: as_text(item.get(f)) for f in ITEM_FIELDS},
                    "submission_id": as_text(item.get("id")),
                }
                for n, item in enumerate(items or [], start=1)
            ]
            if records:
                rows.collect_records(con, records)

    def advance(c: duckdb.DuckDBPyConnection) -> None:
        if mark is not None:
            watermarks.put(c, source, mark, stored.sha256)

    (result,) = batches.commit(con, [batch], in_transaction=advance)
    return result
