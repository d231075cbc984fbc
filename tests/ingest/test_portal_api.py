"""The portal HTTP API source against a real HTTP server on loopback."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from ingest import ingest_sources, portal_api
from testkit.portal_server import Portal, item, start

HERE = Path(__file__).parent


def stamp(n: int) -> str:
    return f"2023-05-02T{n // 3600:02d}:{n // 60 % 60:02d}:{n % 60:02d}.000000+00:00"


@pytest.fixture
def portal():
    # Several items share an updated_at, so pages must be cut by (updated_at, id).
    portal = Portal(items=[item(n, stamp(n // 3)) for n in range(1, 24)])
    server, _ = start(portal)
    yield portal
    server.shutdown()
    server.server_close()


@pytest.fixture
def api_settings(settings, portal, monkeypatch):
    monkeypatch.setattr(
        portal_api,
        "DEFAULT_OPTIONS",
        portal_api.ApiOptions(page_size=5, timeout_s=0.5, max_attempts=4, backoff_s=0.05),
    )
    return dataclasses.replace(settings, portal_api_url=portal.url, portal_api_token=portal.token)


def loaded_ids(query) -> list[str]:
    return [
        r[0]
        for r in query(
            "select submission_id from raw.submission_rows where source = 'portal_api' order by 1"
        )
    ]


def test_pages_are_pulled_by_watermark_and_only_new_items_come_next_time(
    api_settings, portal, query
):
    report = ingest_sources(api_settings, ("portal_api",))

    assert not report.errors
    assert (report.loaded, report.rows_loaded) == (5, 23)
    assert loaded_ids(query) == [f"ans-{n:05d}" for n in range(1, 24)]
    assert all(r.startswith("/api/submissions?") for r in portal.requests)
    assert "updated_since" not in portal.requests[0]
    assert query("select watermark, watermark_id from raw.watermarks") == [
        (stamp(23 // 3), "ans-00023")
    ]
    assert query(
        "select evidence_ref from raw.submission_rows where submission_id = 'ans-00007'"
    ) == [("Báo cáo số 7",)]

    portal.items.append(item(3, stamp(99), value="55"))  # item 3 revised
    portal.items.append(item(24, stamp(100)))
    again = ingest_sources(api_settings, ("portal_api",))

    assert (again.loaded, again.rows_loaded) == (1, 2)
    assert query(
        "select value from raw.submission_rows where submission_id = 'ans-00003' order by loaded_at"
    ) == [("3",), ("55",)]


def test_every_page_is_archived_and_in_the_ledger(api_settings, query):
    ingest_sources(api_settings, ("portal_api",))
    pages = query(
        "select source, source_file, stored_at, rows_total from raw.load_ledger order by received_at"
    )
    assert [p[3] for p in pages] == [5, 5, 5, 5, 3]
    first = json.loads(Path(pages[0][2]).read_bytes())
    assert [i["id"] for i in first["items"]] == [f"ans-{n:05d}" for n in range(1, 6)]
    assert pages[1][1].startswith("api/submissions?updated_since=")


def test_5xx_timeouts_and_dropped_connections_are_retried_with_backoff(api_settings, portal, query):
    portal.faults = {1: "503", 2: "slow", 3: "drop", 5: "503"}
    portal.slow_s = 1.5

    report = ingest_sources(api_settings, ("portal_api",))

    assert not report.errors
    assert report.rows_loaded == 23
    assert len(loaded_ids(query)) == len(set(loaded_ids(query))) == 23


def test_a_portal_that_stays_down_is_reported_and_resumed_later(api_settings, portal, query):
    portal.faults = {n: "503" for n in range(3, 9)}  # pages 1-2 succeed, then down

    report = ingest_sources(api_settings, ("portal_api",))

    assert report.errors and "still failing after 4 attempts" in report.errors[0]
    assert report.rows_loaded == 10
    portal.faults = {}
    resumed = ingest_sources(api_settings, ("portal_api",))
    assert not resumed.errors and resumed.rows_loaded == 13
    assert loaded_ids(query) == [f"ans-{n:05d}" for n in range(1, 24)]


def test_a_wrong_token_is_reported_with_what_to_do(api_settings, query):
    report = ingest_sources(
        dataclasses.replace(api_settings, portal_api_token="wrong"), ("portal_api",)
    )
    assert report.errors and "DTI_PORTAL_API_TOKEN" in report.errors[0]
    assert query("select count(*) from raw.submission_rows") == [(0,)]


def test_bad_items_from_the_api_are_quarantined_with_the_page(api_settings, portal, query):
    portal.items = [
        item(1, stamp(1)),
        item(2, stamp(2), value="NaN"),
        item(3, stamp(3), unit_code="SO-KHONG-CO"),
    ]
    report = ingest_sources(api_settings, ("portal_api",))
    assert (report.partial, report.rows_loaded, report.rows_refused) == (1, 1, 2)
    assert query(
        "select submission_id, reason_code from raw.quarantine_rows order by source_row"
    ) == [("ans-00002", "not_finite"), ("ans-00003", "unknown_unit")]


def _run_child(settings, source: str, die_on: int | None = None) -> subprocess.Popen:
    raw = {k: str(v) if isinstance(v, Path) else v for k, v in dataclasses.asdict(settings).items()}
    args = [sys.executable, str(HERE / "pull_in_subprocess.py"), json.dumps(raw), source]
    if die_on:
        args.append(str(die_on))
    return subprocess.Popen(args, cwd=HERE.parent.parent)


def test_a_crash_mid_pull_resumes_without_duplicates_or_gaps(api_settings, portal, query):
    child = _run_child(api_settings, "portal_api")
    portal.victim_pid = child.pid
    portal.faults = {3: "kill"}  # killed while asking for page 3: pages 1 and 2 committed
    assert child.wait(timeout=60) == -9

    assert len(loaded_ids(query)) == 10
    report = ingest_sources(api_settings, ("portal_api",))
    assert not report.errors
    assert loaded_ids(query) == [f"ans-{n:05d}" for n in range(1, 24)]
    assert query("select count(*) from raw.load_ledger") == [(5,)]


def test_a_crash_inside_the_load_transaction_leaves_no_half_page(api_settings, query):
    child = _run_child(api_settings, "portal_api", die_on=2)  # dies before page 2 commits
    assert child.wait(timeout=60) == 9

    assert len(loaded_ids(query)) == 5
    assert query("select count(*) from raw.load_ledger") == [(1,)]
    assert query("select watermark_id from raw.watermarks") == [("ans-00005",)]
    ingest_sources(api_settings, ("portal_api",))
    assert loaded_ids(query) == [f"ans-{n:05d}" for n in range(1, 24)]
