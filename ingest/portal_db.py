"""The portal database source: an incremental SQL pull from PostgreSQL by watermark.

Contract (docs/spec/submissions.md §5.3): table ``portal_submissions`` (first on the DSN's search_path)
with ``id`` (unique, text or integer), ``updated_at timestamptz not null`` (set on every insert
and update), and the row fields ``period, unit_code, indicator_code, value, evidence_ref,
stage, submitted_at``. Rows are read in ``(updated_at, id)`` order after the watermark, one
batch per transaction, each batch archived as JSON lines and committed with its watermark.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from dataclasses import dataclass

import duckdb

from dti.settings import Settings
from ingest import archive, watermarks
from ingest.portal_common import ITEM_FIELDS, PortalError, commit_items
from ingest.report import IngestReport

log = logging.getLogger(__name__)

SOURCE = "portal_db"
TABLE = "portal_submissions"
# Optional tables of complaints and decisions (docs/spec/complaints.md §4), each pulled by its
# own watermark (``portal_db/<table>``) and read only where the portal has them. The kind
# each row is read as, its id column and the columns kept:
COMPLAINT_TABLES = {
    "portal_complaints": (
        "complaint",
        ("complaint_id", "period", "unit_code", "indicator_code", "text", "evidence_ref",
         "filed_at"),
    ),
    "portal_decisions": (
        "decision",
        ("complaint_id", "decision", "reason", "decided_by", "decided_at", "answers"),
    ),
}  # fmt: skip


@dataclass(frozen=True)
class DbOptions:
    batch_size: int = 20_000
    connect_timeout_s: int = 10
    max_attempts: int = 5
    backoff_s: float = 1.0


DEFAULT_OPTIONS = DbOptions()

# ``id`` keeps its own type: ordering by a text cast would put 10 before 9 and open a gap
# between the keyset filter (native type) and the order of the batch.
_COLUMNS = ("id", "updated_at", *ITEM_FIELDS)


def _text(value: object) -> object:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if value is None or isinstance(value, str | list | dict):
        return value  # a json column (a decision's answers) stays as read
    return str(value)


def _fetch(
    dsn: str,
    mark: watermarks.Watermark | None,
    options: DbOptions,
    table: str = TABLE,
    columns: tuple[str, ...] = _COLUMNS,
) -> list[dict]:
    import psycopg2

    where, params = "", []
    if mark is not None:
        where = "where (updated_at, id) > (%s::timestamptz, %s)"
        params = [mark.updated_at, mark.id]
    # every column, then the contract's: the reasons (note, appraiser, reason) are optional
    # columns an older portal table does not have
    query = f"select * from {table} {where} order by updated_at, id limit %s"
    for attempt in range(1, options.max_attempts + 1):
        try:
            pg = psycopg2.connect(dsn, connect_timeout=options.connect_timeout_s)
            try:
                pg.set_session(readonly=True)
                with pg.cursor() as cur:
                    cur.execute(query, [*params, options.batch_size])
                    names = [d.name for d in cur.description]
                    keep = [(i, n) for i, n in enumerate(names) if n in columns]
                    return [{n: _text(r[i]) for i, n in keep} for r in cur.fetchall()]
            finally:
                pg.close()
        except psycopg2.OperationalError as exc:
            if attempt == options.max_attempts:
                raise PortalError(
                    f"portal database unreachable after {attempt} attempts ({exc}); check "
                    "DTI_PORTAL_DB_DSN; the next run resumes from the watermark"
                ) from exc
            time.sleep(options.backoff_s * 2 ** (attempt - 1))
        except psycopg2.Error as exc:
            raise PortalError(
                f"portal database query failed ({exc}); the table {table} must follow the "
                "contract in docs/operating.md"
            ) from exc
    raise AssertionError("unreachable")


def pull(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    report: IngestReport,
    options: DbOptions | None = None,
) -> None:
    options = options or DEFAULT_OPTIONS  # read at call time: tests and operators may tune it
    if not settings.portal_db_dsn:
        raise PortalError("portal_db source needs DTI_PORTAL_DB_DSN to be set")
    _pull_table(con, settings, report, options, TABLE, _COLUMNS, None)
    for table, (kind, columns) in COMPLAINT_TABLES.items():
        if _has_table(settings.portal_db_dsn, table, options):
            _pull_table(con, settings, report, options, table, ("id", "updated_at", *columns), kind)


def _has_table(dsn: str, table: str, options: DbOptions) -> bool:
    """Whether the portal has ``table`` (a portal without complaints has none)."""
    import psycopg2

    try:
        pg = psycopg2.connect(dsn, connect_timeout=options.connect_timeout_s)
        try:
            with pg.cursor() as cur:
                cur.execute("select to_regclass(%s) is not null", [table])
                return bool(cur.fetchone()[0])
        finally:
            pg.close()
    except psycopg2.Error as exc:
        raise PortalError(f"portal database: cannot look for {table} ({exc})") from exc


def _pull_table(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    report: IngestReport,
    options: DbOptions,
    table: str,
    columns: tuple[str, ...],
    kind: str | None,
) -> None:
    """Pulls ``table`` batch by batch after its watermark; ``kind``: its rows are complaints
    or decisions (``portal_common``), else answers."""
    key = SOURCE if kind is None else f"{SOURCE}/{table}"
    mark = watermarks.get(con, key)
    while True:
        found = _fetch(settings.portal_db_dsn, mark, options, table, columns)
        if not found:
            return
        if kind is not None:
            found = [{**row, "kind": kind} for row in found]
        body = "".join(
            json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in found
        ).encode("utf-8")
        stored = archive.store_bytes(settings.archive, body)
        after = f"after {mark.updated_at} / {mark.id}" if mark else "from the start"
        name = f"{table} {after} ({len(found)} rows)"
        new_mark = watermarks.Watermark(str(found[-1]["updated_at"]), str(found[-1]["id"]))
        report.add(commit_items(con, SOURCE, name, stored, found, new_mark, watermark_source=key))
        mark = new_mark
        if len(found) < options.batch_size:
            return
