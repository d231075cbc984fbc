"""The portal database source against the real PostgreSQL on loopback."""

from __future__ import annotations

import dataclasses
import datetime as dt
import subprocess
import uuid

import psycopg2
import pytest

from ingest import ingest_sources, portal_db
from tests.ingest.test_portal_api import _run_child

SERVER = "host=127.0.0.1 port=5432 user=postgres connect_timeout=5"
T0 = dt.datetime(2023, 5, 2, 2, 0, tzinfo=dt.UTC)


def _admin(sql: str) -> None:
    con = psycopg2.connect(f"{SERVER} dbname=postgres")
    con.autocommit = True
    try:
        con.cursor().execute(sql)
    finally:
        con.close()


@pytest.fixture(scope="module")
def postgres_up() -> None:
    try:
        _admin("select 1")
    except psycopg2.OperationalError:
        subprocess.run(["bash", "scripts/ensure_services.sh"], check=True, capture_output=True)


@pytest.fixture
def portal_dsn(postgres_up):
    name = f"dti_test_ingest_{uuid.uuid4().hex[:10]}"
    _admin(f"create database {name}")
    dsn = f"{SERVER} dbname={name}"
    with psycopg2.connect(dsn) as con, con.cursor() as cur:
        cur.execute(
            """create table portal_submissions (
                   id bigint primary key,
                   updated_at timestamptz not null,
                   period integer, unit_code text, indicator_code text, value text,
                   evidence_ref text, stage text, submitted_at timestamptz)"""
        )
        # ids 1..23, three per updated_at instant: batches are cut by (updated_at, id), and
        # ids compare as numbers (9 < 10), not as text
        for n in range(1, 24):
            cur.execute(
                "insert into portal_submissions values (%s, %s, 2023, 'SO-SNV', 'NTS.4', %s, "
                "%s, 'self', %s)",
                [n, T0 + dt.timedelta(seconds=n // 3), str(n), f"Văn bản {n}", T0],
            )
    con.close()
    yield dsn
    _admin(f"drop database if exists {name} with (force)")


@pytest.fixture
def db_settings(settings, portal_dsn, monkeypatch):
    monkeypatch.setattr(portal_db, "DEFAULT_OPTIONS", portal_db.DbOptions(batch_size=5))
    return dataclasses.replace(settings, portal_db_dsn=portal_dsn)


def ids(query) -> list[int]:
    return [
        int(r[0])
        for r in query(
            "select submission_id from raw.submission_rows where source = 'portal_db' "
            "order by cast(submission_id as int)"
        )
    ]


def test_rows_are_pulled_in_batches_by_watermark_then_only_changes(db_settings, query):
    report = ingest_sources(db_settings, ("portal_db",))

    assert not report.errors
    assert (report.loaded, report.rows_loaded) == (5, 23)
    assert ids(query) == list(range(1, 24))
    assert query("select evidence_ref from raw.submission_rows where submission_id = '7'") == [
        ("Văn bản 7",)
    ]
    assert query("select count(distinct stored_at) from raw.load_ledger") == [(5,)]

    with psycopg2.connect(db_settings.portal_db_dsn) as con, con.cursor() as cur:
        cur.execute("update portal_submissions set value = '99', updated_at = now() where id = 4")
        cur.execute(
            "insert into portal_submissions values (24, now(), 2023, 'SO-SNV', 'NTS.1', 'có', "
            "null, 'appraisal', timestamptz '2024-02-26 14:00+07')"  # within period 2023's range
        )
    con.close()
    again = ingest_sources(db_settings, ("portal_db",))

    assert (again.rows_loaded, again.rows_refused) == (2, 0)
    assert query(
        "select value from raw.submission_rows where submission_id = '4' order by loaded_at"
    ) == [("4",), ("99",)]
    assert ingest_sources(db_settings, ("portal_db",)).files_seen == 0


def test_a_crash_mid_pull_resumes_without_duplicates_or_gaps(db_settings, query):
    child = _run_child(db_settings, "portal_db", die_on=3)  # dies inside batch 3's transaction
    assert child.wait(timeout=60) == 9

    assert ids(query) == list(range(1, 11))
    assert query("select watermark_id from raw.watermarks where source = 'portal_db'") == [("10",)]
    report = ingest_sources(db_settings, ("portal_db",))
    assert not report.errors
    assert ids(query) == list(range(1, 24))


def test_an_unreachable_database_is_reported_with_what_to_do(settings, monkeypatch):
    monkeypatch.setattr(
        portal_db, "DEFAULT_OPTIONS", portal_db.DbOptions(max_attempts=2, backoff_s=0.01)
    )
    unreachable = dataclasses.replace(
        settings, portal_db_dsn="host=127.0.0.1 port=9 user=postgres dbname=x connect_timeout=1"
    )
    report = ingest_sources(unreachable, ("portal_db",))
    assert report.errors and "DTI_PORTAL_DB_DSN" in report.errors[0]
