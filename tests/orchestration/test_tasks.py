"""What the DAG tasks decide: sources, periods from asset events, event payloads, failures."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from dti.settings import Settings
from orchestration import tasks
from orchestration.assets import INBOX_NAME, MARTS, PORTAL_NAME, RAW
from orchestration.callbacks import describe_failure, on_task_failure, report_path_of
from pipeline import steps as pipeline


@dataclass
class Event:  # the fields of an AssetEvent the tasks read
    extra: dict[str, Any]
    timestamp: datetime = field(default_factory=lambda: datetime.now(UTC))


def _ledger(settings: Settings, rows: list[tuple]) -> None:
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(settings.warehouse))
    try:
        con.execute("create schema if not exists raw")
        con.execute(
            "create table if not exists raw.load_ledger (batch_sha256 varchar, source varchar, "
            "source_file varchar, size_bytes bigint, received_at timestamptz, outcome varchar, "
            "reason_code varchar, reason varchar, rows_total integer, rows_loaded integer, "
            "rows_refused integer, stored_at varchar, periods integer[])"
        )
        for sha, source, name, outcome, loaded, periods in rows:
            con.execute(
                "insert into raw.load_ledger values (?, ?, ?, 10, now(), ?, null, null, ?, ?, 0, "
                "'/archive', ?)",
                [sha, source, name, outcome, loaded, loaded, periods],
            )
    finally:
        con.close()


def test_configured_sources_follow_the_settings(settings: Settings) -> None:
    assert tasks.configured_sources(settings) == ("inbox",)
    both = Settings(**{**settings.__dict__, "portal_api_url": "http://p", "portal_db_dsn": "x"})
    assert tasks.configured_sources(both) == ("inbox", "portal_api", "portal_db")


def test_ingest_reports_only_the_batches_this_run_added(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    _ledger(settings, [("old", "inbox", "a.csv", "loaded", 5, [2023])])

    def fake_ingest(s: Settings, sources: tuple[str, ...]) -> str:
        assert sources == ("inbox",)
        _ledger(
            s,
            [
                ("new", "inbox", "b.csv", "loaded", 3, [2023, 2024]),
                ("old", "inbox", "a copy.csv", "duplicate", 0, []),
                ("bad", "inbox", "c.csv", "refused", 0, []),
            ],
        )
        return "report"

    monkeypatch.setattr(pipeline, "ingest_sources", fake_ingest)
    outcome = tasks.ingest(settings, ("inbox",))

    assert [b["source_file"] for b in outcome.batches] == ["b.csv", "a copy.csv", "c.csv"]
    assert [b["source_file"] for b in outcome.loaded] == ["b.csv"]
    assert outcome.periods == [2023, 2024]
    extra = outcome.event_extra("inbox")
    assert extra["periods"] == [2023, 2024] and extra["rows_loaded"] == 3
    assert extra["batches"][0]["batch_sha256"] == "new"
    json.dumps(extra)  # an asset event's extra must be JSON


def test_ingest_of_nothing_new_loads_nothing(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline, "ingest_sources", lambda s, sources: None)
    outcome = tasks.ingest(settings, ("inbox",))
    assert outcome.loaded == [] and outcome.periods == []


class _Asset:
    def __init__(self, name: str) -> None:
        self.name = name


def test_trigger_reason_names_the_watcher_or_the_sweep() -> None:
    inbox, portal = _Asset(INBOX_NAME), _Asset(PORTAL_NAME)
    assert tasks.trigger_reason("scheduled", {}) == "sweep"
    assert tasks.trigger_reason("asset_triggered", {inbox: [Event({})]}) == "inbox"
    assert tasks.trigger_reason("asset_triggered", {portal: [Event({})]}) == "portal"
    both = {inbox: [Event({})], portal: [Event({})]}
    assert tasks.trigger_reason("asset_triggered", both) == "inbox+portal"
    assert tasks.trigger_reason("manual", {}) == "manual"


def _answer_loaded(settings: Settings, period: int) -> None:
    from ingest import open_warehouse

    con = open_warehouse(settings)
    try:
        con.execute(
            "insert into raw.submission_rows (period, unit_code, indicator_code, value, stage, "
            "submitted_at, submission_id, source, batch_sha256, loaded_at) "
            "values (?, 'A', 'I1', '1', 'self', now(), 's', 'inbox', 'sha', now())",
            [period],
        )
    finally:
        con.close()


def test_periods_come_from_the_param_or_the_warehouse_not_only_the_events(
    settings: Settings,
) -> None:
    from airflow.sdk.exceptions import AirflowSkipException

    from pipeline import backlog

    loaded = {"batches": [{"batch_sha256": "x"}]}
    _answer_loaded(settings, 2023)
    _answer_loaded(settings, 2024)
    # the event of 2024 was left out of this run's window: the warehouse still names it
    resolved = tasks.resolve_periods(settings, None, {RAW: [Event(loaded | {"periods": [2023]})]})
    assert resolved["periods"] == [2023, 2024] and resolved["answers_through"]
    assert tasks.resolve_periods(settings, 2022, {}) == {"periods": [2022], "answers_through": None}

    backlog.validated(settings, resolved["periods"], resolved["answers_through"])
    # the next run's event was covered by the run before: nothing to do, not a failure
    with pytest.raises(AirflowSkipException):
        tasks.resolve_periods(settings, None, {RAW: [Event(loaded | {"periods": [2024]})]})
    # a rerun (no batch) asks for its periods again
    rerun = tasks.rerun_event_extra([2021], "backfill")
    assert tasks.resolve_periods(settings, None, {RAW: [Event(rerun)]})["periods"] == [2021]


def test_marts_event_carries_every_gate_run_per_period() -> None:
    extra = tasks.marts_event_extra(
        [2023], {"2023": {"suite": "framework"}}, {"2023": {"suite": "submissions"}}, {}
    )
    assert extra == {
        "periods": [2023],
        "validation_runs": {"2023": [{"suite": "framework"}, {"suite": "submissions"}]},
    }


def test_publish_takes_every_period_owed_and_those_the_events_name() -> None:
    events = {MARTS: [Event({"periods": [2023]}), Event({"periods": [2024]})]}
    assert tasks.periods_to_publish(None, events, [2022]) == [2022, 2023, 2024]
    assert tasks.periods_to_publish(None, {}, [2025]) == [2025]
    assert tasks.periods_to_publish(2021, events, [2025]) == [2021]
    with pytest.raises(ValueError, match="period"):
        tasks.periods_to_publish(None, {}, [])


def test_publish_validates_again_what_changed_since_the_transform(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from pipeline import backlog
    from tests.expectations.gate_warehouse import PERIOD, build_warehouse, execute

    build_warehouse(settings.warehouse)
    released: list[dict] = []
    monkeypatch.setattr(
        tasks,
        "build_releases",
        lambda s, runs, approval_required: released.append(runs) or {"periods": list(runs)},
    )
    backlog.validated(settings, [PERIOD], None)
    first = tasks.validate_again(settings, [PERIOD])[PERIOD]  # the transform's gates

    # unchanged marts: every verdict is the transform's, reused
    tasks.publish_owed(settings, None, {}, approval_required=False)
    (runs,) = released
    assert [r.statistics.get("reused_from") for r in runs[PERIOD]] == [r.run_id for r in first]
    assert backlog.periods_to_publish(settings) == {}

    # a later transform rebuilt the marts, and its gates have not run yet: not published
    execute(
        settings, "update marts.fct_unit_scores set level = 'nang_cao' where unit_code = 'QH-NB'"
    )
    backlog.validated(settings, [PERIOD], None)
    with pytest.raises(AirflowFailException, match="level_matches_thresholds"):
        tasks.publish_owed(settings, None, {}, approval_required=False)
    assert len(released) == 1
    assert list(backlog.periods_to_publish(settings)) == [PERIOD]  # still owed


def test_a_failed_gate_fails_without_retry_and_names_its_report(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from expectations.gate import GateFailed, ValidationRun

    run = ValidationRun(
        run_id="r1",
        suite="scores",
        checkpoint="scores",
        period=2023,
        success=False,
        critical_failures=["expect_column_values_to_not_be_null(total_score): 2 rows"],
        report_path="/reports/marts.html",
    )

    def failing(s: Settings, stage: str, period: int) -> ValidationRun:
        raise GateFailed(run)

    monkeypatch.setattr(pipeline, "validate_checkpoint", failing)
    with pytest.raises(AirflowFailException) as caught:
        tasks.run_gate(settings, "scores", [2023])
    assert "suite 'scores'" in str(caught.value)
    assert report_path_of(caught.value) == "/reports/marts.html"


def test_failure_callback_says_what_failed_and_where_the_report_is(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DTI_WAREHOUSE", str(settings.warehouse))

    class TI:
        dag_id, task_id, run_id, try_number = "dti_transform", "gate_scores", "r/1", 3
        log_url = "http://127.0.0.1:8080/log"

    error = RuntimeError("validation gate failed")
    error.report_path = "/reports/marts.html"  # type: ignore[attr-defined]
    context = {"ti": TI(), "exception": error, "params": {"period": 2023}}

    note = describe_failure(context)
    assert "dti_transform.gate_scores failed" in note.message()
    assert note.report == "/reports/marts.html" and note.period == 2023

    on_task_failure(context)
    written = list((settings.work_dir / "airflow_failures").glob("*.json"))
    assert len(written) == 1
    saved = json.loads(written[0].read_text())
    assert saved["error"] == "RuntimeError: validation gate failed"
    assert saved["report"] == "/reports/marts.html"


def test_failure_without_a_report_points_to_the_task_log(tmp_path: Path) -> None:
    class TI:
        dag_id, task_id, run_id, try_number = "dti_ingest", "ingest_submissions", "r", 1
        log_url = "http://127.0.0.1:8080/log"

    note = describe_failure({"ti": TI(), "exception": OSError("disk full")})
    assert note.report == "task log http://127.0.0.1:8080/log"


def test_push_is_skipped_without_a_site(settings: Settings) -> None:
    assert tasks.push_bundle(settings, 2023) is None


def test_approval_builds_a_draft_and_the_decision_makes_it_current_or_not(
    settings: Settings,
) -> None:
    from tests.publish.publish_marts_fixture import make_warehouse, small_units
    from tests.publish.test_releases import _republish_with_corrected_appraisal

    make_warehouse(settings.warehouse, 2023, small_units())
    runs = {2023: []}  # the gate runs matter to the push, not to the lifecycle
    first = tasks.build_releases(settings, runs, approval_required=False)
    assert first["drafts"] == [] and first["subject"] == "No new DTI release to approve"
    live = settings.out / "2023"
    assert tasks.bundle_event_extra(settings, [2023]) == {
        "bundles": {"2023": str(live)},
        "releases": {"2023": 1},
    }

    _republish_with_corrected_appraisal(settings)
    built = tasks.build_releases(settings, runs, approval_required=True)
    assert built["drafts"] == [{"period": 2023, "number": 2}]
    assert built["subject"] == "Approve DTI release 2 of 2023"
    assert "SO-B" in built["body"] and "hạng 4 → 2" in built["body"]
    before = (live / "results.json").read_bytes()

    rejected = tasks.reject_releases(settings, built, {"responded_by_user": {"name": "An"}})
    assert rejected[0]["status"] == "rejected" and rejected[0]["rejected_by"] == "An"
    assert (live / "results.json").read_bytes() == before

    built = tasks.build_releases(settings, runs, approval_required=True)
    approved = tasks.approve_releases(settings, built, {"responded_by_user": {"id": "admin"}})
    assert approved[0]["approved_by"] == "admin"
    assert tasks.bundle_event_extra(settings, [2023])["releases"] == {"2023": 2}
    assert (live / "results.json").read_bytes() != before
