"""The inbox folder: files are read once their ``<name>.ready`` flag exists.

Each ready file is archived first, then judged and recorded, and only after the commit moved
with its flag to ``processed/`` (loaded, duplicate) or ``quarantine/`` (refused, partial) with
a ``<name>.reason.json`` beside it. Files are handled in chunks so that CSV files sharing a
header are read by one DuckDB scan.
"""

from __future__ import annotations

import json
import logging
import os
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import duckdb

from dti.settings import Settings
from dti.vocabulary import READY_SUFFIX
from ingest import archive, batches, csv_files, json_files, ledger, rows, xlsx_files
from ingest.batches import Batch
from ingest.refusal import FileRefused
from ingest.report import BatchResult, IngestReport

log = logging.getLogger(__name__)

SOURCE = "inbox"
PROCESSED_DIR = "processed"
QUARANTINE_DIR = "quarantine"
CHUNK_BYTES = 256 * 1024 * 1024
CHUNK_FILES = 2000


@dataclass
class InboxFile:
    path: Path
    flag: Path
    batch: Batch | None = None
    layout: csv_files.CsvLayout | None = None
    parsed_rows: list[dict[str, object]] | None = None


def display_name(path: Path) -> str:
    """The file name as received, as NFC text (undecodable bytes shown as escapes)."""
    raw = os.fsencode(path.name)
    return unicodedata.normalize("NFC", raw.decode("utf-8", errors="backslashreplace"))


def ready_files(inbox: Path) -> list[InboxFile]:
    """Top-level files whose flag exists, in the order they became ready (flag time, then name).

    Arrival order decides which of two identical files is the original and which the copy.
    """
    if not inbox.is_dir():
        return []
    found = []
    for flag in inbox.iterdir():
        if not flag.name.endswith(READY_SUFFIX) or not flag.is_file():
            continue
        target = flag.with_name(flag.name[: -len(READY_SUFFIX)])
        if target.is_file():
            found.append(InboxFile(target, flag))
        else:
            log.warning("flag %s has no file beside it; waiting for the file", flag)
    found.sort(key=lambda f: (f.flag.stat().st_mtime_ns, f.path.name))
    return found


def _prepare(item: InboxFile, settings: Settings) -> None:
    """Archives the file's bytes, then reads or refuses it (nothing is written to raw yet)."""
    name = display_name(item.path)
    size = item.path.stat().st_size
    if size > settings.max_file_bytes:
        stored = archive.store_file(settings.archive, item.path)
        item.batch = Batch(SOURCE, name, stored)
        item.batch.refusal = FileRefused(
            "too_large",
            f"{size:,} bytes is over the cap of {settings.max_file_bytes:,} "
            "(DTI_MAX_FILE_BYTES); split the file",
        )
        return
    data = item.path.read_bytes()
    item.batch = Batch(SOURCE, name, archive.store_bytes(settings.archive, data))
    suffix = item.path.suffix.lower()
    try:
        if suffix == ".csv":
            item.layout = csv_files.inspect(data)
        elif suffix == ".json":
            item.parsed_rows = json_files.read_rows(data)
        elif suffix == ".xlsx":
            item.parsed_rows = xlsx_files.read_rows(
                item.batch.archived.stored_at, settings.max_file_bytes
            )
        else:
            raise FileRefused(
                "unsupported_type",
                f"'{suffix or 'no extension'}' files are not read; send .csv, .xlsx or .json",
            )
    except FileRefused as refusal:
        item.batch.refusal = refusal


def _bad_csv_reason(exc: Exception) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    detail = "; ".join(ln for ln in lines[:3])
    return f"not a well-formed CSV ({detail}); the file may be truncated: send it again complete"


def _diagnose_csv(item: InboxFile, exc: Exception) -> FileRefused:
    """Why DuckDB could not read a CSV: a code page problem is named, else the parse error."""
    data = item.batch.archived.stored_at.read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as bad:
        return FileRefused("not_utf8", csv_files.not_utf8_reason(data, bad))
    return FileRefused("bad_csv", _bad_csv_reason(exc))


def _collect_csv(con: duckdb.DuckDBPyConnection, items: list[InboxFile]) -> None:
    """Collects CSV files, one scan per header layout; a malformed file is refused alone."""
    groups: dict[csv_files.CsvLayout, list[InboxFile]] = defaultdict(list)
    for item in items:
        groups[item.layout].append(item)
    for layout, group in groups.items():
        files = [
            csv_files.CsvFile(
                i.batch.archived.sha256, i.batch.source_file, i.batch.archived.stored_at
            )
            for i in group
        ]
        try:
            csv_files.collect(con, layout, files, SOURCE)
            continue
        except (duckdb.Error, csv_files.CsvInterleaved) as exc:
            if len(group) == 1 and isinstance(exc, duckdb.Error):
                group[0].batch.refusal = _diagnose_csv(group[0], exc)
                continue
            log.info("reading %d CSV files one by one (%s)", len(group), exc)
        for item, one in zip(group, files, strict=True):
            try:
                csv_files.collect(con, layout, [one], SOURCE)
            except duckdb.Error as exc:
                item.batch.refusal = _diagnose_csv(item, exc)


def _collect_parsed(con: duckdb.DuckDBPyConnection, items: list[InboxFile]) -> None:
    records = []
    for item in items:
        for row in item.parsed_rows or []:
            records.append(
                {
                    "batch_sha256": item.batch.archived.sha256,
                    "source": SOURCE,
                    **row,
                    "submission_id": None,
                }
            )
    if records:
        rows.collect_records(con, records)


def _free_name(folder: Path, name: str, sha256: str) -> Path:
    target = folder / name
    if not target.exists() and not (folder / (name + READY_SUFFIX)).exists():
        return target
    stem, dot, ext = name.rpartition(".")
    base = f"{stem}.{sha256[:12]}{dot}{ext}" if dot and stem else f"{name}.{sha256[:12]}"
    target, n = folder / base, 1
    while target.exists():
        target, n = folder / f"{base}.{n}", n + 1
    return target


def _move(item: InboxFile, result: BatchResult, con: duckdb.DuckDBPyConnection) -> Path:
    """Moves a recorded file and its flag out of the inbox (its bytes are in the archive)."""
    keep = result.outcome in ("loaded", "duplicate")
    folder = item.path.parent / (PROCESSED_DIR if keep else QUARANTINE_DIR)
    folder.mkdir(exist_ok=True)
    target = _free_name(folder, item.path.name, result.sha256)
    os.replace(item.path, target)
    os.replace(item.flag, target.with_name(target.name + READY_SUFFIX))
    if result.outcome != "loaded":
        refused_rows = con.execute(
            """select source_row, reason_code, reason from raw.quarantine_rows
               where batch_sha256 = ? order by source_row limit 1000""",
            [result.sha256],
        ).fetchall()
        note = {
            "source_file": result.source_file,
            "sha256": result.sha256,
            "outcome": result.outcome,
            "reason_code": result.reason_code,
            "reason": result.reason,
            "rows_total": result.rows_total,
            "rows_loaded": result.rows_loaded,
            "rows_refused": result.rows_refused,
            "stored_at": result.stored_at,
            "refused_rows": [
                {"row": r, "reason_code": c, "reason": why} for r, c, why in refused_rows
            ],
        }
        note_path = target.with_name(target.name + ".reason.json")
        note_path.write_text(json.dumps(note, ensure_ascii=False, indent=2), encoding="utf-8")
    return target


def _chunks(items: list[InboxFile]) -> list[list[InboxFile]]:
    chunks: list[list[InboxFile]] = [[]]
    size = 0
    for item in items:
        item_size = item.path.stat().st_size
        if chunks[-1] and (size + item_size > CHUNK_BYTES or len(chunks[-1]) >= CHUNK_FILES):
            chunks.append([])
            size = 0
        chunks[-1].append(item)
        size += item_size
    return [c for c in chunks if c]


def ingest_inbox(con: duckdb.DuckDBPyConnection, settings: Settings, report: IngestReport) -> None:
    """Archives, judges, records and moves every ready file, one transaction per chunk.

    A crash after a chunk's commit but before its files are moved leaves them in the inbox;
    the next run records them as duplicates of themselves (nothing loads twice).
    """
    items = ready_files(settings.inbox)
    if not items:
        log.info("inbox %s: no file with a .ready flag", settings.inbox)
        return
    for chunk in _chunks(items):
        for item in chunk:
            _prepare(item, settings)
        loaded = ledger.already_loaded(con, [i.batch.archived.sha256 for i in chunk])
        collected: dict[str, str] = {}
        for item in chunk:
            batch = item.batch
            if batch.refusal is not None:
                continue
            sha = batch.archived.sha256
            if sha in loaded or sha in collected:
                batch.duplicate_of = loaded.get(sha) or collected[sha]
            else:
                collected[sha] = str(batch.archived.stored_at)
        live = [i for i in chunk if i.batch.refusal is None and i.batch.duplicate_of is None]
        _collect_csv(con, [i for i in live if i.layout is not None])
        _collect_parsed(con, [i for i in live if i.parsed_rows is not None])
        refused_here = {i.batch.archived.sha256: i.batch.refusal for i in live if i.batch.refusal}
        for item in chunk:  # a copy of a file refused in this very chunk is refused alike
            sha = item.batch.archived.sha256
            if item.batch.duplicate_of is not None and sha in refused_here and sha not in loaded:
                item.batch.duplicate_of, item.batch.refusal = None, refused_here[sha]
        results = batches.commit(con, [i.batch for i in chunk])
        for item, result in zip(chunk, results, strict=True):
            report.add(result)
            _move(item, result, con)
