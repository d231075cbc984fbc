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
from dti.vocabulary import CHECKPOINTS
from orchestration import tasks
from orchestration.assets import INBOX_NAME, PORTAL_NAME, RAW
from orchestration.callbacks import describe_failure, on_task_failure, report_path_of
from pipeline import jobs
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


@dataclass
class _Run:  # the fields of a ValidationRun the tasks read
    checkpoint: str
    period: int
    report_path: str = "/reports/r.html"

    def to_manifest(self) -> dict[str, Any]:
        return {"checkpoint": self.checkpoint, "period": self.period}


def _stub_transform_steps(monkeypatch: pytest.MonkeyPatch, done: list | None = None) -> list:
    """The transform job's steps replaced by recorders: what the task decides, not dbt or GX."""
    done = [] if done is None else done
    monkeypatch.setattr(pipeline, "seed_registry", lambda s: done.append("seed"))
    monkeypatch.setattr(pipeline, "build_models", lambda s, **k: done.append("build"))
    monkeypatch.setattr(
        pipeline,
        "validate_checkpoint",
        lambda s, checkpoint, period: done.append((checkpoint, period)) or _Run(checkpoint, period),
    )
    return done


def test_periods_come_from_the_param_or_the_warehouse_not_only_the_events(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.sdk.exceptions import AirflowSkipException

    from pipeline import backlog

    done = _stub_transform_steps(monkeypatch)
    loaded = {"batches": [{"batch_sha256": "x"}]}
    _answer_loaded(settings, 2023)
    _answer_loaded(settings, 2024)
    # the param's period alone: the others stay owed
    assert tasks.transform(settings, 2022, {}, False)["periods"] == [2022]
    assert backlog.answers_to_validate(settings)[0] == [2023, 2024]
    # the event of 2024 was left out of this run's window: the warehouse still names it
    extra = tasks.transform(settings, None, {RAW: [Event(loaded | {"periods": [2023]})]}, False)
    assert extra["periods"] == [2023, 2024]
    assert [r["checkpoint"] for r in extra["validation_runs"]["2024"]] == list(CHECKPOINTS)
    assert done.count("build") == 2 and done.count("seed") == 2
    assert backlog.answers_to_validate(settings)[0] == []  # the mark moved past both
    assert sorted(backlog.periods_to_publish(settings)) == [2022, 2023, 2024]
    # the next run's event was covered by the run before: nothing to do, not a failure
    with pytest.raises(AirflowSkipException):
        tasks.transform(settings, None, {RAW: [Event(loaded | {"periods": [2024]})]}, False)
    # a rerun (no batch) asks for its periods again
    rerun = tasks.rerun_event_extra([2021], "backfill")
    assert tasks.transform(settings, None, {RAW: [Event(rerun)]}, False)["periods"] == [2021]
    json.dumps(extra)  # an asset event's extra must be JSON


def test_marts_event_carries_every_gate_run_per_period() -> None:
    extra = tasks.marts_event_extra(
        [2023], {"2023": [{"suite": "framework"}, {"suite": "submissions"}], "2024": []}
    )
    assert extra == {
        "periods": [2023],
        "validation_runs": {"2023": [{"suite": "framework"}, {"suite": "submissions"}]},
    }


def test_publish_validates_again_what_changed_since_the_transform(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from pipeline import backlog
    from tests.expectations.gate_warehouse import PERIOD, build_warehouse, execute

    build_warehouse(settings.warehouse)
    released: list[list] = []

    def publish_bundle(s: Settings, period: int, validation_runs: list, **kwargs) -> Path:
        released.append(validation_runs)
        return s.out / str(period)

    monkeypatch.setattr(pipeline, "publish_bundle", publish_bundle)
    assert tasks.release(settings, None, approval_required=False)["periods"] == []  # none owed
    backlog.validated(settings, [PERIOD], None)
    first = jobs.transform(settings, [PERIOD]).validation_runs[PERIOD]  # the transform's gates

    # unchanged marts: every verdict is the transform's, reused
    built = tasks.release(settings, None, approval_required=False)
    assert built == {
        "periods": [PERIOD],
        "written": {str(PERIOD): str(settings.out / str(PERIOD))},
        "drafts": [],
    }
    (runs,) = released
    assert [r.statistics.get("reused_from") for r in runs] == [r.run_id for r in first]
    assert backlog.periods_to_publish(settings) == {}

    # a later transform rebuilt the marts, and its gates have not run yet: not published
    execute(
        settings, "update marts.fct_unit_scores set level = 'nang_cao' where unit_code = 'QH-NB'"
    )
    backlog.validated(settings, [PERIOD], None)
    with pytest.raises(AirflowFailException, match="level_matches_thresholds"):
        tasks.release(settings, None, approval_required=False)
    assert len(released) == 1
    assert list(backlog.periods_to_publish(settings)) == [PERIOD]  # still owed
    # the param's period is released whether owed or not
    monkeypatch.setattr(pipeline, "validate_checkpoint", lambda s, c, p: _Run(c, p))
    assert tasks.release(settings, 2019, approval_required=False)["periods"] == [2019]


def test_a_failed_gate_fails_without_retry_and_names_its_report(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from expectations.gate import GateFailed, ValidationRun
    from pipeline import backlog

    run = ValidationRun(
        run_id="r1",
        suite="scores",
        checkpoint="scores",
        period=2023,
        success=False,
        critical_failures=["expect_column_values_to_not_be_null(total_score): 2 rows"],
        report_path="/reports/marts.html",
    )

    def failing(s: Settings, checkpoint: str, period: int) -> Any:
        if checkpoint == "scores":
            raise GateFailed(run)
        return _Run(checkpoint, period)

    done = _stub_transform_steps(monkeypatch)
    monkeypatch.setattr(pipeline, "validate_checkpoint", failing)
    with pytest.raises(AirflowFailException) as caught:
        tasks.transform(settings, 2023, {}, False)
    assert "suite 'scores'" in str(caught.value)
    assert report_path_of(caught.value) == "/reports/marts.html"
    assert done == ["seed", "build"]
    assert backlog.periods_to_publish(settings) == {}  # nothing validated, nothing owed


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


def test_approval_asks_one_run_per_draft_and_the_decision_names_who_and_why(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

    from pipeline import backlog
    from tests.publish.publish_marts_fixture import make_warehouse, small_units
    from tests.publish.test_releases import _republish_with_corrected_appraisal

    make_warehouse(settings.warehouse, 2023, small_units())
    # the gate runs matter to the push, not to the lifecycle
    monkeypatch.setattr(pipeline, "validate_checkpoint", lambda s, c, p: _Run(c, p))
    backlog.validated(settings, [2023], None)
    first = tasks.release(settings, None, approval_required=False)
    assert first["drafts"] == [] and tasks.approval_runs(first) == []  # nobody is asked
    live = settings.out / "2023"
    assert tasks.bundle_event_extra(settings, [2023]) == {
        "bundles": {"2023": str(live)},
        "releases": {"2023": 1},
    }

    _republish_with_corrected_appraisal(settings)
    built = tasks.release(settings, 2023, approval_required=True)
    (draft,) = built["drafts"]
    assert draft["period"] == 2023 and draft["number"] == 2
    (ask,) = tasks.approval_runs(built)
    assert ask["conf"] == {"period": 2023, "release": 2, "bundle_sha256": draft["bundle_sha256"]}
    assert ask["trigger_run_id"] == f"approve__2023__2__{draft['bundle_sha256'][:12]}"
    request = tasks.draft_prompt(settings, ask["conf"])
    assert "2023" in request["subject"] and "SO-B" in request["body"]
    before = (live / "results.json").read_bytes()

    decision = {"responded_by_user": {"id": "an", "name": "Nguyễn An"}}
    rejected = tasks.reject_draft(
        settings, request, decision | {"params_input": {"reason": "chờ giải trình"}}
    )
    assert rejected["status"] == "rejected" and rejected["rejected_by"] == "Nguyễn An (an)"
    assert rejected["reason"] == "chờ giải trình"
    assert (live / "results.json").read_bytes() == before
    with pytest.raises(AirflowSkipException):  # that draft no longer waits: no prompt parked
        tasks.draft_prompt(settings, ask["conf"])
    with pytest.raises(AirflowSkipException):  # the prompt was never parked: nothing to record
        tasks.reject_draft(settings, None, None)

    built = tasks.release(settings, 2023, approval_required=True)
    (ask,) = tasks.approval_runs(built)
    request = tasks.draft_prompt(settings, ask["conf"])
    approved = tasks.approve_draft(settings, request, {"responded_by_user": {"id": "admin"}})
    assert approved["approved_by"] == "admin"
    assert tasks.bundle_event_extra(settings, [2023])["releases"] == {"2023": 2}
    assert (live / "results.json").read_bytes() != before
    # a second click on an approval already made changes nothing
    assert (
        tasks.approve_draft(settings, request, {"responded_by_user": {"id": "b"}})["approved_by"]
        == "admin"
    )
    # a prompt whose draft was rebuilt since refuses the approval and says why
    stale = dict(request, number=3, bundle_sha256="0" * 64)
    with pytest.raises(AirflowFailException, match="không có bản nháp số 3"):
        tasks.approve_draft(settings, stale, {"responded_by_user": {"id": "admin"}})


def test_the_answer_to_a_prompt_is_kept_also_when_it_is_reject() -> None:
    """Airflow skips the tasks after a Reject by raising: the answer must be kept before."""
    from airflow.providers.common.compat.sdk import DownstreamTasksSkipped
    from airflow.providers.standard.operators.empty import EmptyOperator
    from airflow.sdk import DAG

    from orchestration.approval import DECISION_KEY, DraftApproval

    with DAG("approval_test", schedule=None):
        decide = DraftApproval(task_id="approve_release", subject="s", body="b")
        decide >> EmptyOperator(task_id="make_current")

    class TI:
        pushed: dict = {}
        map_index = -1
        task_id, dag_id, run_id = "approve_release", "approval_test", "r"

        def xcom_push(self, key: str, value: Any) -> None:
            self.pushed[key] = value

    ti = TI()
    event = {
        "chosen_options": ["Reject"],
        "params_input": {"reason": "chờ giải trình"},
        "responded_by_user": {"id": "an", "name": "Nguyễn An"},
        "responded_at": datetime.now(UTC),
        "timedout": False,
    }
    with pytest.raises(DownstreamTasksSkipped):
        decide.execute_complete({"ti": ti, "task": decide}, event)
    decision = ti.pushed[DECISION_KEY]
    assert decision["params_input"] == {"reason": "chờ giải trình"}
    assert tasks._responder(decision) == "Nguyễn An (an)" and tasks._reason(decision)
