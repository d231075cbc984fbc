"""The portal API client against a misbehaving server on loopback: it never sends the token
elsewhere, never waits past its deadlines, never reads a page past its cap and never loops."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest

from ingest import ingest_sources, portal_api
from testkit.portal_server import Portal, item
from tests.ingest.hostile_portal import Hostile, start

TOKEN = "s3cret-token"


def stamp(n: int) -> str:
    return f"2023-05-02T00:00:{n:02d}.000000+00:00"


def pull(tmp_settings, mode: str, **limits):
    """Pulls from a hostile server in ``mode``; returns (hostile, report, seconds taken)."""
    hostile = Hostile(mode, Portal(token=TOKEN, items=[item(n, stamp(n)) for n in range(1, 12)]))
    servers = start(hostile)
    settings = dataclasses.replace(
        tmp_settings,
        portal_api_url=hostile.url,
        portal_api_token=TOKEN,
        portal_request_seconds=limits.pop("request_s", 2.0),
        portal_pull_seconds=limits.pop("pull_s", 60.0),
        **limits,
    )
    started = time.monotonic()
    try:
        report = ingest_sources(settings, ("portal_api",))
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
    return hostile, report, time.monotonic() - started


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch):
    monkeypatch.setattr(
        portal_api,
        "DEFAULT_OPTIONS",
        portal_api.ApiOptions(page_size=5, timeout_s=30, max_attempts=3, backoff_s=0.05),
    )


def test_a_redirect_to_another_origin_is_not_followed_and_gets_no_token(settings, query):
    hostile, report, seconds = pull(settings, "redirect_away")
    assert hostile.elsewhere_requests == []
    assert report.errors and "another origin" in report.errors[0]
    assert "DTI_PORTAL_API_URL" in report.errors[0] and TOKEN not in report.errors[0]
    assert query("select count(*) from raw.submission_rows") == [(0,)]
    assert seconds < 3


def test_a_redirect_within_the_portal_is_followed(settings, query):
    hostile, report, _ = pull(settings, "redirect_home")
    assert not report.errors and report.rows_loaded == 11
    assert any(path.startswith("/moved/") and auth for path, auth in hostile.requests)


@pytest.mark.parametrize("mode", ["slow_body", "slow_headers"])
def test_a_slow_loris_server_is_cut_off_at_the_pull_deadline(settings, mode):
    # each read gets a byte within its 30 s read timeout: only the total deadlines stop it
    _, report, seconds = pull(settings, mode, request_s=1.0, pull_s=2.5)
    assert report.errors and "DTI_PORTAL_PULL_SECONDS" in report.errors[0]
    assert seconds < 2.5 + 2.0  # the deadline, and opening the warehouse


def test_a_slow_request_is_cut_off_at_the_request_deadline_and_retried(settings):
    _, report, seconds = pull(settings, "slow_body", request_s=0.5, pull_s=30)
    assert report.errors and "still failing after 3 attempts" in report.errors[0]
    assert "DTI_PORTAL_REQUEST_SECONDS" in report.errors[0]
    assert seconds < 3 * 0.5 + 3 * 0.05 + 2.0


@pytest.mark.parametrize("mode", ["flood", "flood_declared"])
def test_a_page_over_the_cap_is_refused_after_reading_at_most_the_cap(settings, query, mode):
    hostile, report, seconds = pull(settings, mode, portal_max_page_bytes=256 * 1024)
    assert report.errors and "too_large" in report.errors[0]
    assert hostile.bytes_sent < 64 * 1024 * 1024  # the client stopped reading long before 1 GB
    (code, size, stored), *_ = query(
        "select reason_code, size_bytes, stored_at from raw.load_ledger"
    )
    assert code == "too_large" and size <= 256 * 1024
    assert Path(stored).stat().st_size == size
    assert seconds < 5


@pytest.mark.parametrize("mode", ["repeat", "backwards"])
def test_a_page_that_does_not_advance_the_watermark_stops_the_pull_in_the_ledger(
    settings, query, mode
):
    _, report, _ = pull(settings, mode)
    assert report.errors and "watermark_not_advancing" in report.errors[0]
    assert query(
        "select outcome, reason_code from raw.load_ledger order by received_at, rowid"
    ) == [("loaded", "ok"), ("refused", "watermark_not_advancing")]
    assert query("select count(distinct submission_id), count(*) from raw.submission_rows") == [
        (5, 5)
    ]
    assert query("select watermark_id from raw.watermarks") == [("ans-00005",)]


def test_endless_pages_stop_at_the_page_cap(settings, query):
    _, report, _ = pull(settings, "endless", portal_max_pages=4)
    assert report.errors and "DTI_PORTAL_MAX_PAGES" in report.errors[0]
    assert report.loaded == 4
    assert query("select count(*) from raw.submission_rows") == [(4,)]


def test_a_page_nested_too_deep_is_refused_not_a_crash(settings, query):
    _, report, _ = pull(settings, "deep")
    assert report.errors and "bad_json" in report.errors[0]
    assert query("select reason_code from raw.load_ledger") == [("bad_json",)]


def test_the_token_is_written_nowhere(settings, tmp_path):
    for mode in ("redirect_away", "repeat", "flood"):
        pull(settings, mode, portal_max_page_bytes=64 * 1024)
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes(), path
