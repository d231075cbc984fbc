"""What the two portal sources share: rows of a page or batch collected as one ledger batch."""

from __future__ import annotations

import logging

import duckdb

from ingest import batches, complaints, ledger, rows, watermarks
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


def known_versions(con: duckdb.DuckDBPyConnection, source: str, items: list[dict]) -> set[int]:
    """The item numbers (from 1) of answer versions already loaded from ``source`` — same
    ``id`` and same ``updated_at`` (as instants) as a row of ``raw.submission_rows`` — or
    repeated earlier in ``items``: a re-delivery, not loaded twice (docs/spec/submissions.md §8).
    """
    if not items:
        return set()
    ids = [as_text(item.get("id")) for item in items]
    stamps = [as_text(item.get("updated_at")) for item in items]
    found = con.execute(
        """with given as (
               select unnest($ids::varchar[]) as id, unnest($stamps::varchar[]) as stamp,
                      unnest(range(1, len($ids) + 1)) as n
           ),
           keyed as (
               select n, trim(id) as id, try_cast(stamp as timestamptz) as updated_at
               from given
           )
           select n from keyed as k
           where k.updated_at is not null and (
               exists (
                   select 1 from raw.submission_rows as r
                   where r.source = $source and r.submission_id = k.id
                     and r.source_updated_at = k.updated_at
               )
               or k.n > (
                   select min(e.n) from keyed as e
                   where e.id = k.id and e.updated_at = k.updated_at
               )
           )""",
        {"ids": ids, "stamps": stamps, "source": source},
    ).fetchall()
    return {int(r[0]) for r in found}


def _kind(item: dict) -> str | None:
    """``complaints`` or ``decisions`` for a portal item of that ``kind``, else ``None`` (an
    answer): docs/spec/complaints.md §4."""
    return {"complaint": complaints.COMPLAINTS, "decision": complaints.DECISIONS}.get(
        str(item.get("kind") or "").strip().lower()
    )


def _judge_complaint_items(
    con: duckdb.DuckDBPyConnection, source: str, batch: Batch, items: list[dict]
) -> None:
    """The page's complaints, then its decisions (which may name a complaint of the same
    page), judged like a complaints file's; a complaint's id defaults to the item's ``id``.
    Their corrected answers are numbered after the page's items."""
    judged: list[complaints.Judged] = []
    for kind in (complaints.COMPLAINTS, complaints.DECISIONS):
        mine = [
            (n, {**item, "complaint_id": item.get("complaint_id") or item.get("id")})
            if kind == complaints.COMPLAINTS
            else (n, item)
            for n, item in enumerate(items, start=1)
            if _kind(item) == kind
        ]
        if not mine:
            continue
        known = complaints.known_items(con, source, kind, [i for _, i in mine])
        batch.known_versions += len(known)
        fresh = [pair for k, pair in enumerate(mine) if k not in known]
        if not fresh:
            continue
        one = complaints.judge(
            con, kind, [i for _, i in fresh], judged, numbers=[n for n, _ in fresh],
            answers_after=len(items) + sum(len(j.answers) for j in judged),
        )  # fmt: skip
        judged.append(one)
        complaints.collect_answers(con, batch.archived.sha256, source, one)
    batch.judged = judged


def commit_items(
    con: duckdb.DuckDBPyConnection,
    source: str,
    source_file: str,
    stored: Archived,
    items: list[dict] | None,
    mark: watermarks.Watermark | None,
    refusal: FileRefused | None = None,
    watermark_source: str | None = None,
) -> BatchResult:
    """Collects ``items`` and commits them with the watermark ``mark`` in one transaction;
    ``watermark_source``: the watermark's key when it is not ``source`` (a source that pulls
    several feeds, as the portal database's complaints)."""
    batch = Batch(source, source_file, stored, refusal=refusal)
    if refusal is None:
        loaded = ledger.already_loaded(con, [stored.sha256])
        if stored.sha256 in loaded:
            batch.duplicate_of = loaded[stored.sha256]
        else:
            every = items or []
            _judge_complaint_items(con, source, batch, every)
            # answers: every item that is not a complaint or a decision (the numbers of the
            # rows keep the item's place in the page)
            numbered = [(n, i) for n, i in enumerate(every, start=1) if _kind(i) is None]
            known_of = known_versions(con, source, [i for _, i in numbered])
            known = {numbered[k - 1][0] for k in known_of}
            batch.known_versions += len(known)
            records = [
                {
                    "batch_sha256": stored.sha256,
                    "source": source,
                    "source_row": n,
                    **{f: as_text(item.get(f)) for f in ITEM_FIELDS},
                    "submission_id": as_text(item.get("id")),
                    "source_updated_at": as_text(item.get("updated_at")),
                }
                for n, item in numbered
                if n not in known
            ]
            if records:
                rows.collect_records(con, records)

    def advance(c: duckdb.DuckDBPyConnection) -> None:
        if mark is not None:
            watermarks.put(c, watermark_source or source, mark, stored.sha256)

    (result,) = batches.commit(con, [batch], in_transaction=advance)
    return result
