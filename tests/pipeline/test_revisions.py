"""Revisions are history: portal answers revised twice and then corrected by the council are
published with their final value, every version stays in ``raw``, and a re-delivery of a
version already loaded is not loaded twice (docs/spec/submissions.md §8).

Runs against the loopback HTTP portal (testkit/portal_server.py) and the real PostgreSQL
on 127.0.0.1:5432 (tests/ingest/test_portal_db.py's fixtures), then the whole pipeline.
"""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal

import psycopg2
import pytest

from dti.settings import SEEDS_DIR
from ingest import ingest_sources, portal_api, portal_db
from pipeline import jobs
from pipeline.sample import write_sample
from testkit import portal_server
from testkit.reference_scoring import read_inbox, score_period
from tests.ingest.test_portal_db import _admin, postgres_up  # noqa: F401 (fixture)

PERIOD = 2023
SUBMITTED = "2024-01-20T09:00:00+07:00"  # after the sample's answers, before the deadline


@pytest.fixture
def portal():
    state = portal_server.Portal()
    server, _ = portal_server.start(state)
    yield state
    server.shutdown()


@pytest.fixture
def portal_dsn(postgres_up):  # noqa: F811
    import uuid

    name = f"dti_test_revisions_{uuid.uuid4().hex[:10]}"
    _admin(f"create database {name}")
    dsn = f"host=127.0.0.1 port=5432 user=postgres connect_timeout=5 dbname={name}"
    with psycopg2.connect(dsn) as con, con.cursor() as cur:
        cur.execute(
            """create table portal_submissions (
                   id bigint primary key, updated_at timestamptz not null,
                   period integer, unit_code text, indicator_code text, value text,
                   evidence_ref text, stage text, submitted_at timestamptz)"""
        )
    con.close()
    yield dsn
    _admin(f"drop database if exists {name} with (force)")


def _pg(dsn: str, sql: str, params: list) -> None:
    with psycopg2.connect(dsn) as con, con.cursor() as cur:
        cur.execute(sql, params)
    con.close()


def _api_item(n: int, updated_at: str, value: str, stage: str = "self") -> dict:
    return portal_server.item(
        n, updated_at, unit_code="SO-SNV", indicator_code="NTS.4", value=value, stage=stage,
        submitted_at=SUBMITTED,
    )  # fmt: skip


def _pull(settings) -> object:
    report = ingest_sources(settings, ("portal_api", "portal_db"))
    assert not report.errors, report.errors
    return report


def test_revised_twice_then_corrected_is_published_with_its_final_value(
    settings, portal, portal_dsn, monkeypatch
) -> None:
    monkeypatch.setattr(portal_api, "DEFAULT_OPTIONS", portal_api.ApiOptions(backoff_s=0.01))
    monkeypatch.setattr(portal_db, "DEFAULT_OPTIONS", portal_db.DbOptions(backoff_s=0.01))
    settings = dataclasses.replace(
        settings,
        portal_api_url=portal.url,
        portal_api_token=portal.token,
        portal_db_dsn=portal_dsn,
    )
    write_sample(settings.inbox, period=PERIOD)
    api_versions: list[dict] = []  # every version the API served, as the reference sees it
    db_versions: list[dict] = []

    def api(item: dict) -> None:
        portal.items = [i for i in portal.items if i["id"] != item["id"]] + [item]
        api_versions.append(item)

    def db(n: int, updated_at: str, value: str, stage: str = "self", new: bool = False) -> None:
        fields = {
            "period": PERIOD, "unit_code": "SO-STTTT", "indicator_code": "HTS.1",
            "value": value, "evidence_ref": f"Văn bản {n}", "stage": stage,
            "submitted_at": SUBMITTED,
        }  # fmt: skip
        if new:
            _pg(
                portal_dsn,
                "insert into portal_submissions values (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [n, updated_at, *fields.values()],
            )
        else:  # the reproduction: a revision is an UPDATE of the same id
            _pg(
                portal_dsn,
                "update portal_submissions set value = %s, updated_at = %s where id = %s",
                [value, updated_at, n],
            )
        db_versions.append({**fields, "submission_id": str(n), "source_updated_at": updated_at})

    # the answer, then two revisions under the same id, each pulled
    api(_api_item(1, "2024-01-20T02:00:00+00:00", "40"))
    db(42, "2024-01-20T02:00:00+00:00", "40", new=True)
    _pull(settings)
    api(_api_item(1, "2024-01-21T02:00:00+00:00", "60"))
    db(42, "2024-01-21T02:00:00+00:00", "60")
    _pull(settings)
    api(_api_item(1, "2024-01-22T02:00:00.5+00:00", "75"))
    db(42, "2024-01-22T02:00:00.5+00:00", "75")
    _pull(settings)

    # a re-delivery: both sources pulled again from the start (watermarks deleted) serve the
    # version already loaded together with the council's correction (a new answer, stage
    # appraisal): only the correction loads
    import duckdb

    con = duckdb.connect(str(settings.warehouse))
    con.execute("delete from raw.watermarks")
    con.close()
    api(_api_item(2, "2024-02-01T02:00:00+00:00", "90", stage="appraisal"))
    db(43, "2024-02-01T02:00:00+00:00", "90", stage="appraisal", new=True)
    report = _pull(settings)
    outcomes = {(r.source, r.outcome, r.rows_loaded) for r in report.results}
    # the API page held version 3 of ans-00001 (known) and the new appraisal answer
    assert ("portal_api", "loaded", 1) in outcomes, outcomes
    api_page = next(r for r in report.results if r.source == "portal_api")
    assert "1 answer versions already loaded" in api_page.reason
    assert ("portal_db", "loaded", 1) in outcomes, outcomes

    # a pull with nothing new changes nothing; the same API page again is a duplicate
    con = duckdb.connect(str(settings.warehouse))
    con.execute("delete from raw.watermarks where source = 'portal_api'")
    con.close()
    again = _pull(settings)
    assert {(r.source, r.outcome) for r in again.results} == {("portal_api", "duplicate")}

    (summary,) = jobs.run(settings, [PERIOD])

    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        versions = con.execute(
            """select source, submission_id, value, stage, source_updated_at
               from raw.submission_rows where source like 'portal%'
               order by source, submission_id, source_updated_at"""
        ).fetchall()
        counted = con.execute(
            """select unit_code, stage, value, versions from intermediate.int_answers_latest
               where (unit_code, indicator_code) in (('SO-SNV', 'NTS.4'), ('SO-STTTT', 'HTS.1'))
                 and period = 2023 order by unit_code, stage"""
        ).fetchall()
        final = con.execute(
            """select unit_code, final_points, self_points from marts.fct_indicator_points
               where (unit_code, indicator_code) in (('SO-SNV', 'NTS.4'), ('SO-STTTT', 'HTS.1'))
                 and period = 2023 order by unit_code"""
        ).fetchall()
    finally:
        con.close()

    # every version is in raw, once
    assert [(s, i, v, st) for s, i, v, st, _ in versions] == [
        ("portal_api", "ans-00001", "40", "self"),
        ("portal_api", "ans-00001", "60", "self"),
        ("portal_api", "ans-00001", "75", "self"),
        ("portal_api", "ans-00002", "90", "appraisal"),
        ("portal_db", "42", "40", "self"),
        ("portal_db", "42", "60", "self"),
        ("portal_db", "42", "75", "self"),
        ("portal_db", "43", "90", "appraisal"),
    ]
    # the latest version of the self answer counts, the council's correction overrides it
    assert [(u, s, v) for u, s, v, _ in counted] == [
        ("SO-SNV", "appraisal", "90"),
        ("SO-SNV", "self", "75"),
        ("SO-STTTT", "appraisal", "90"),
        ("SO-STTTT", "self", "75"),
    ]
    assert [(u, Decimal(f), Decimal(s)) for u, f, s in final] == [
        ("SO-SNV", Decimal("9"), Decimal("7.5")),
        ("SO-STTTT", Decimal("9"), Decimal("7.5")),
    ]

    # and the published results are the reference scorer's over every version
    rows = read_inbox(settings.inbox / "processed")
    for version in api_versions:
        rows.append({**version, "submission_id": version["id"],
                     "source_updated_at": version["updated_at"]})  # fmt: skip
    rows += db_versions
    expected = score_period(rows, PERIOD, SEEDS_DIR)
    published = json.loads((summary.bundle_dir / "results.json").read_text(encoding="utf-8"))
    assert _essentials(published["units"]) == _essentials(expected)


def _essentials(units: list[dict]) -> list[tuple]:
    return [
        (
            u["unit_code"],
            u["status"],
            _d(u["total_score"]),
            _d(u["self_score"]),
            _d(u["percent"]),
            u["level"],
            u["rank"],
        )  # fmt: skip
        for u in units
    ]


def _d(value) -> Decimal | None:
    return None if value is None else Decimal(str(value))
