"""Loading is transactional: a crash leaves no half batch and loses no file."""

from __future__ import annotations

from ingest import ingest_sources
from tests.ingest.conftest import csv_text
from tests.ingest.test_portal_api import _run_child


def test_a_crash_before_commit_leaves_nothing_half_loaded_and_the_files_in_the_inbox(
    settings, drop, query
):
    for n in range(3):
        drop(
            f"unit-{n}.csv",
            csv_text(*[f"2023,SO-SNV,NTS.4,{n}{k},,self,2023-05-02" for k in range(4)]),
        )

    child = _run_child(settings, "inbox", die_on=1)  # dies after writing, before the commit
    assert child.wait(timeout=60) == 9

    assert query("select count(*) from raw.submission_rows") == [(0,)]
    assert query("select count(*) from raw.load_ledger") == [(0,)]
    assert sorted(p.name for p in settings.inbox.glob("*.csv")) == [
        "unit-0.csv",
        "unit-1.csv",
        "unit-2.csv",
    ]
    assert len(list(settings.archive.glob("*/*"))) == 3  # bytes were archived first

    report = ingest_sources(settings)

    assert (report.loaded, report.duplicate, report.rows_loaded) == (3, 0, 12)
    assert query("select count(*), count(distinct submission_id) from raw.submission_rows") == [
        (12, 12)
    ]
