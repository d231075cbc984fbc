"""Answer versions in ``raw``: the migration of an older warehouse and re-deliveries."""

from __future__ import annotations

import duckdb

from ingest import open_warehouse
from ingest.portal_common import known_versions

OLD_DDL = """
create schema raw;
create table raw.submission_rows (
    period integer not null, unit_code varchar not null, indicator_code varchar not null,
    value varchar, evidence_ref varchar, stage varchar not null,
    submitted_at timestamptz not null, submission_id varchar not null, source varchar not null,
    batch_sha256 varchar not null, source_row integer, loaded_at timestamptz not null
);
insert into raw.submission_rows values (2023, 'SO-SNV', 'NTS.4', '40', null, 'self',
    '2024-01-20 09:00:00+07', 'ans-1', 'portal_api', 'b1', 1, '2024-01-20 10:00:00+07');
"""


def test_an_older_warehouse_gets_the_version_column_and_keeps_its_rows(settings) -> None:
    con = duckdb.connect(str(settings.warehouse))
    con.execute(OLD_DDL)
    con.close()

    open_warehouse(settings).close()
    open_warehouse(settings).close()  # twice: the migration is idempotent

    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        columns = [r[0] for r in con.execute("describe raw.submission_rows").fetchall()]
        rows = con.execute(
            "select submission_id, value, source_updated_at from raw.submission_rows"
        ).fetchall()
    finally:
        con.close()
    # the same columns, in the same order, as a warehouse created today
    today = settings.with_paths(warehouse=settings.warehouse.with_name("today.duckdb"))
    open_warehouse(today).close()
    con = duckdb.connect(str(today.warehouse), read_only=True)
    try:
        created = [r[0] for r in con.execute("describe raw.submission_rows").fetchall()]
    finally:
        con.close()
    assert columns == created
    assert "source_updated_at" in columns and "complaint_id" in columns
    assert rows == [("ans-1", "40", None)]


def test_known_versions_are_the_same_id_and_instant_or_repeats(settings) -> None:
    con = open_warehouse(settings)
    try:
        con.execute(
            """insert into raw.submission_rows (period, unit_code, indicator_code, value,
               evidence_ref, stage, submitted_at, submission_id, source, batch_sha256,
               source_row, loaded_at, source_updated_at)
               values (2023, 'SO-SNV', 'NTS.4', '40', null,
               'self', '2024-01-20 09:00:00+07', 'ans-1', 'portal_api', 'b1', 1, now(),
               '2024-01-20T02:00:00+00:00')"""
        )
        items = [
            {"id": "ans-1", "updated_at": "2024-01-20T09:00:00+07:00"},  # same instant: known
            {"id": "ans-1", "updated_at": "2024-01-21T02:00:00+00:00"},  # a revision: new
            {"id": "ans-2", "updated_at": "2024-01-20T02:00:00+00:00"},  # another id: new
            {"id": "ans-1", "updated_at": "2024-01-21T02:00:00Z"},  # repeats item 2
        ]
        assert known_versions(con, "portal_api", items) == {1, 4}
        assert known_versions(con, "portal_db", items) == {4}  # versions are per source
        assert known_versions(con, "portal_api", []) == set()
    finally:
        con.close()
