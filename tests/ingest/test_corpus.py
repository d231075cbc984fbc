"""The corpus of bad and odd inputs: each refusal recorded with its reason and its bytes kept,
every good row loaded, nothing lost."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from ingest import ingest_sources
from tests.ingest.corpus import MIXED_ROWS, corpus

MAX_FILE_BYTES = 256 * 1024


@pytest.fixture
def outcome(settings, drop):
    """Drops the whole corpus, ingests once, returns (settings, corpus, report)."""
    settings = dataclasses.replace(settings, max_file_bytes=MAX_FILE_BYTES)
    files = corpus(MAX_FILE_BYTES)
    for name, data, _, _ in files:
        drop(name, data)
    return settings, files, ingest_sources(settings)


def test_every_file_gets_one_ledger_entry_with_its_outcome_and_reason(outcome, query):
    settings, files, report = outcome
    ledger = {
        name: (result, code, reason)
        for name, result, code, reason in query(
            "select source_file, outcome, reason_code, reason from raw.load_ledger"
        )
    }
    assert len(ledger) == len(files) == report.files_seen
    for name, _, expected_outcome, expected_code in files:
        got_outcome, got_code, reason = ledger[name]
        assert (got_outcome, got_code) == (expected_outcome, expected_code), (name, reason)
        assert reason, name


def test_refusal_reasons_say_what_is_wrong_and_what_to_do(outcome, query):
    reasons = dict(query("select source_file, reason from raw.load_ledger"))
    assert "Windows-1258" in reasons["windows-1258.csv"]
    assert "line 2" in reasons["windows-1258.csv"]
    assert "UTF-8" in reasons["windows-1258.csv"] and "send it again" in reasons["windows-1258.csv"]
    assert "UTF-16" in reasons["utf16.csv"]
    assert "stage" in reasons["no-stage.csv"]
    assert "truncated" in reasons["truncated.json"]
    assert "zip bomb" in reasons["bomb.xlsx"]
    assert "Line: 3" in reasons["ragged.csv"] or "line 3" in reasons["ragged.csv"].lower()


def test_every_byte_is_kept_in_the_archive_under_its_sha256(outcome, query):
    import hashlib

    settings, files, _ = outcome
    sent = {name: data for name, data, _, _ in files}
    for name, sha, stored_at, size in query(
        "select source_file, batch_sha256, stored_at, size_bytes from raw.load_ledger"
    ):
        stored = Path(stored_at)
        assert stored.read_bytes() == sent[name], name
        assert size == len(sent[name])
        if name == "huge.csv":  # over the cap: never read, moved to quarantine as it is
            assert stored == settings.inbox / "quarantine" / name
            continue
        assert stored.is_absolute() and stored.is_relative_to(settings.archive)
        assert hashlib.sha256(sent[name]).hexdigest() == sha == stored.name
    # the copy points at the original's bytes: stored once; the file over the cap not at all
    assert len(list(settings.archive.glob("*/*"))) == len({d for _, d, _, _ in files}) - 1


def test_nothing_is_left_behind_or_lost_in_the_inbox(outcome):
    settings, files, _ = outcome
    assert sorted(p.name for p in settings.inbox.iterdir() if p.is_file()) == []
    for name, data, result, code in files:
        folder = "processed" if result in ("loaded", "duplicate") else "quarantine"
        kept = settings.inbox / folder / name
        assert kept.read_bytes() == data, name
        assert (settings.inbox / folder / (name + ".ready")).exists()
        if result != "loaded":
            note = json.loads((settings.inbox / folder / (name + ".reason.json")).read_text())
            assert (note["outcome"], note["reason_code"]) == (result, code)


def test_each_bad_row_is_quarantined_with_its_reason_and_the_good_rows_load(outcome, query):
    _, _, report = outcome
    quarantined = dict(
        query(
            "select source_row, reason_code from raw.quarantine_rows "
            "where source_file = 'mixed.csv'"
        )
    )
    expected_bad = {n: code for n, (_, code) in enumerate(MIXED_ROWS, start=1) if code}
    assert quarantined == expected_bad
    loaded = [
        r[0]
        for r in query(
            "select source_row from raw.submission_rows r join raw.load_ledger l "
            "using (batch_sha256) where l.source_file = 'mixed.csv' order by 1"
        )
    ]
    assert loaded == [n for n, (_, code) in enumerate(MIXED_ROWS, start=1) if code is None]
    (raw_value,) = query(
        "select value from raw.quarantine_rows where source_file = 'mixed.csv' "
        "and reason_code = 'value_out_of_range' and source_row = 35"
    )[0]
    assert raw_value == "100,01"
    (reason,) = query(
        "select reason from raw.quarantine_rows where source_file = 'mixed.csv' "
        "and reason_code = 'thousands_separator' and value = '1.000'"
    )[0]
    assert "có dấu phân cách hàng nghìn" in reason and "không dấu chấm hay dấu phẩy: 1000" in reason
    assert report.rows_refused == query("select count(*) from raw.quarantine_rows")[0][0]


def test_row_counts_add_up_for_every_batch(outcome, query):
    _, _, report = outcome
    assert query(
        "select count(*) from raw.load_ledger where rows_total <> rows_loaded + rows_refused"
    ) == [(0,)]
    periods = dict(query("select source_file, periods from raw.load_ledger"))
    assert (periods["mixed.csv"], periods["good.csv"], periods["empty.csv"]) == ([2023], [2023], [])
    assert periods["good - bản sao.csv"] == []  # a copy loads nothing
    assert (
        query("select sum(rows_loaded) from raw.load_ledger")[0][0]
        == report.rows_loaded
        == query("select count(*) from raw.submission_rows")[0][0]
    )
    assert (
        query(
            "select l.source_file, l.rows_refused, count(q.source_row) from raw.load_ledger l "
            "left join raw.quarantine_rows q using (batch_sha256) "
            "group by all having l.rows_refused <> count(q.source_row)"
        )
        == []
    )


def test_json_nan_infinity_and_overflowing_numbers_are_refused_row_by_row(outcome, query):
    assert query(
        "select source_row, reason_code, value from raw.quarantine_rows "
        "where source_file = 'nan.json' order by 1"
    ) == [(1, "not_finite", "NaN"), (2, "not_finite", "Infinity"), (4, "unreadable_value", "1e400")]
    assert query(
        "select r.indicator_code, r.value from raw.submission_rows r join raw.load_ledger l "
        "using (batch_sha256) where l.source_file in ('nan.json', 'with-nan.xlsx') order by 1"
    ) == [("NTS.1", "1"), ("NTS.4", "75.5")]


def test_a_second_run_finds_nothing_new_and_a_resent_copy_is_a_duplicate(outcome, drop, query):
    settings, files, _ = outcome
    assert ingest_sources(settings).files_seen == 0
    good = dict((n, d) for n, d, _, _ in files)["good.csv"]
    drop("good (gửi lại).csv", good)
    report = ingest_sources(settings)
    assert (report.duplicate, report.rows_loaded) == (1, 0)
    assert query(
        "select count(*) from raw.submission_rows r join raw.load_ledger l using (batch_sha256) "
        "where l.source_file = 'good.csv'"
    ) == [(1,)]
    (stored,) = query(
        "select distinct stored_at from raw.load_ledger where source_file like 'good%'"
    )
    assert Path(stored[0]).read_bytes() == good


def test_a_period_without_framework_is_refused(settings, drop, query, tmp_path):
    import shutil

    project = tmp_path / "dbt_project"
    shutil.copytree(settings.seeds_dir, project / "seeds")
    with (project / "seeds" / "units.csv").open("a", encoding="utf-8") as fh:
        fh.write("SO-MOI,Sở Mới,so_nganh,,2021,\n")
    drop(
        "early.csv",
        "period,unit_code,indicator_code,value,stage,submitted_at\n"
        "2022,SO-MOI,NTS.1,1,self,2022-05-02\n2023,SO-MOI,NTS.1,1,self,2023-05-02\n",
    )

    report = ingest_sources(dataclasses.replace(settings, dbt_project_dir=project))

    assert (report.partial, report.rows_loaded) == (1, 1)
    assert query("select reason_code, reason from raw.quarantine_rows") == [
        (
            "no_framework",
            "no framework version covers period 2022 for block so_nganh (frameworks.csv)",
        )
    ]


def test_every_loaded_row_is_scored_by_the_reference_scorer(outcome, query):
    """What ingest lets through, the scoring contract can score: the independent reference
    scorer (testkit/reference_scoring.py) reads every loaded value and scores the period."""
    from testkit import reference_scoring as ref

    settings = outcome[0]

    columns = "period, unit_code, indicator_code, value, evidence_ref, stage, submitted_at, "
    columns += "submission_id"
    loaded = [
        dict(zip(columns.split(", "), row, strict=True))
        for row in query(f"select {columns} from raw.submission_rows")
    ]
    registry = ref.load_registry(settings.seeds_dir)
    for row in loaded:
        unit = next(u for u in registry.units if u.code == row["unit_code"])
        framework = registry.framework_for(unit.block, row["period"])
        (indicator,) = [
            i
            for i in registry.indicators[(framework.version, unit.block)]
            if i.code == row["indicator_code"]
        ]
        if row["value"] not in (None, ""):
            ref.indicator_points(indicator, row["value"])  # raises if it cannot be scored

    results = {u["unit_code"]: u for u in ref.score_period(loaded, 2023, settings.seeds_dir)}
    for unit_code in {r["unit_code"] for r in loaded}:
        assert results[unit_code]["status"] == "scored"


def test_the_corpus_exercises_every_refusal_reason_the_code_knows():
    from ingest.refusal import FILE_REASONS
    from ingest.rows import ROW_REASONS

    # the limits, links and workbook rules: tests/ingest/test_hostile_inbox.py
    assert {code for _, _, _, code in corpus(MAX_FILE_BYTES)} - {"ok"} <= set(FILE_REASONS)
    # no_framework needs a registry with a unit older than every framework: its own test
    assert {code for _, code in MIXED_ROWS if code} | {"no_framework"} == set(ROW_REASONS)
