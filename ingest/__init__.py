"""Ingestion: every submission kept, every refusal explained, everything valid loaded.

``ingest_sources`` is the one entry point (the CLI, the DAGs and the tests call it). Sources:
``inbox`` (files), ``portal_api`` (HTTP, by watermark), ``portal_db`` (PostgreSQL, by
watermark). Everything lands in the warehouse's ``raw`` schema; see ``ingest.schema``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from dti.settings import Settings
from ingest.report import BatchResult, IngestReport

if TYPE_CHECKING:  # `dti --help` and every command that reads no warehouse need not load DuckDB
    import duckdb

__all__ = ["BatchResult", "IngestReport", "SOURCES", "ingest_sources", "open_warehouse"]

log = logging.getLogger(__name__)

SOURCES = ("inbox", "portal_api", "portal_db")


def open_warehouse(settings: Settings, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A connection to the warehouse with the ``raw`` schema in place; the caller closes it."""
    from ingest.lock import connect
    from ingest.schema import ensure_raw_schema

    if read_only and not settings.warehouse.exists():
        raise FileNotFoundError(
            f"warehouse {settings.warehouse} does not exist yet; run `dti ingest` first"
        )
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    con = connect(settings.warehouse, read_only=read_only)
    try:
        con.execute("set enable_progress_bar = false")
        # Submissions without an offset are Vietnamese local time (+07:00, no DST since 1975).
        con.execute("set TimeZone = 'Asia/Ho_Chi_Minh'")
        if not read_only:
            ensure_raw_schema(con)
    except BaseException:
        con.close()
        raise
    return con


def ingest_sources(settings: Settings, sources: tuple[str, ...] = ("inbox",)) -> IngestReport:
    """Loads what each source has that is new into ``raw.*``; returns what happened.

    A portal source that cannot finish (unreachable, bad token) is reported in
    ``report.errors``; the other sources still run and its watermark keeps what was committed.
    """
    from ingest import archive, inbox, portal_api, portal_db, rows
    from ingest.portal_common import PortalError
    from ingest.registry import load_registry

    unknown = [s for s in sources if s not in SOURCES]
    if unknown:
        raise ValueError(f"unknown source(s) {unknown}; choose from {', '.join(SOURCES)}")
    report = IngestReport()
    pullers = {
        "inbox": inbox.ingest_inbox,
        "portal_api": portal_api.pull,
        "portal_db": portal_db.pull,
    }
    con = open_warehouse(settings)
    try:
        # the warehouse is open for writing: no other intake can be writing to the archive
        archive.sweep_incoming(settings.archive)
        load_registry(con, settings.seeds_dir)
        rows.create_incoming(con)
        for source in sources:
            try:
                pullers[source](con, settings, report)
            except PortalError as exc:
                log.error("%s: %s", source, exc)
                report.errors.append(f"{source}: {exc}")
    finally:
        con.close()
    log.info("ingest: %s", report.summary())
    return report
