"""The DAG files: they import, chain through assets, and carry owners, retries, pools, callbacks."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dti.settings import PROJECT_ROOT
from orchestration.assets import BUNDLE, INBOX_NAME, MARTS, PORTAL_NAME, RAW
from orchestration.callbacks import on_task_failure
from orchestration.config import DUCKDB_POOL, OWNER, REDIS_CONN_ID
from orchestration.notify import DtiNotifier

DAGS_FOLDER = PROJECT_ROOT / "dags"
DAG_IDS = {
    "dti_ingest", "dti_transform", "dti_publish", "dti_approve", "dti_reminders", "dti_rerun",
}  # fmt: skip
PIPELINE_DAG_IDS = ("dti_ingest", "dti_transform", "dti_publish")
WAREHOUSE_TASKS = {
    "dti_ingest": {"ingest_submissions"},
    "dti_transform": {"transform"},
    "dti_publish": {"write_bundle"},
    "dti_reminders": {"send_reminders"},
    "dti_rerun": {"announce_periods"},
}


def _asset_names(condition) -> list[str]:
    """Asset names of a schedule condition (``AssetAny``/``AssetAll`` hold ``objects``)."""
    objects = getattr(condition, "objects", None)
    if objects is None:
        return [condition.name]
    return [name for obj in objects for name in _asset_names(obj)]


def _assets(outlets: list) -> list[str]:
    """The Airflow assets among a task's outlets (the others are OpenLineage datasets)."""
    from airflow.sdk import Asset

    return [o.name for o in outlets if isinstance(o, Asset)]


def _load(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **env: str) -> dict:
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("DTI_INBOX", str(tmp_path / "inbox"))
    monkeypatch.setenv("DTI_WAREHOUSE", str(tmp_path / "wh" / "warehouse.duckdb"))
    monkeypatch.setenv("DTI_OUT", str(tmp_path / "out"))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    bag = DagBag(dag_folder=str(DAGS_FOLDER))
    assert bag.import_errors == {}
    return bag.dags


@pytest.fixture
def dags(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict:
    return _load(monkeypatch, tmp_path)


def test_dag_files_import_without_touching_the_pipeline_folders(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    dags = _load(monkeypatch, tmp_path)
    assert set(dags) == DAG_IDS
    # No top-level work: parsing creates nothing and opens no warehouse.
    assert list(tmp_path.iterdir()) == []


# What a DAG file must not import at parse time: the pipeline and its libraries (the tasks
# import them), and the clients only a worker or the triggerer needs (the OpenLineage client
# and its HTTP stack, the Redis provider and its async client, the queue providers).
HEAVY = (
    "great_expectations", "dbt", "duckdb", "pandas", "numpy", "pipeline", "publish", "ingest",
    "openlineage", "requests", "httpx", "redis", "airflow.providers.openlineage",
    "airflow.providers.redis", "airflow.providers.common.messaging",
)  # fmt: skip

# One process imports Airflow once, then forks a child per DAG file: each file is imported
# from the same warm start, as the DAG processor's parsing children do, and reports the
# seconds it took and the modules it added.
_PARSE_EACH = """
import importlib.util, json, os, sys, time
from pathlib import Path
import airflow.sdk
for path in sorted(Path(sys.argv[1]).glob("*.py")):
    read, write = os.pipe()
    if os.fork() == 0:
        os.close(read)
        before = set(sys.modules)
        started = time.perf_counter()
        spec = importlib.util.spec_from_file_location("dag_" + path.stem, path)
        spec.loader.exec_module(importlib.util.module_from_spec(spec))
        seconds = time.perf_counter() - started
        added = sorted(set(sys.modules) - before)
        os.write(write, json.dumps([path.name, seconds, added]).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as answer:
        print(answer.read().decode())
    os.wait()
"""


def test_parsing_a_dag_file_imports_nothing_heavy(tmp_path: Path) -> None:
    """The DAG processor parses these files again and again: each imports only Airflow's SDK and
    our settings, assets and configuration; the tasks import the rest when they run."""
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path), "DTI_WAREHOUSE": str(tmp_path / "w.duckdb")}
    done = subprocess.run(
        [sys.executable, "-c", _PARSE_EACH, str(DAGS_FOLDER)],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    parsed = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("[")]
    assert {name for name, _, _ in parsed} == {f"{dag_id}.py" for dag_id in DAG_IDS}
    cheapest = min(seconds for _, seconds, _ in parsed)
    for name, seconds, added in parsed:  # the figures, for a reader of -s or of a failure
        print(
            f"{name:<20} {seconds * 1000:7.0f} ms  ×{seconds / cheapest:4.1f}  {len(added)} modules"
        )
    heavy = {
        name: sorted({m for m in added for h in HEAVY if m == h or m.startswith(h + ".")})
        for name, _, added in parsed
    }
    assert heavy == {name: [] for name, _, _ in parsed}


def test_no_cycles_and_every_dag_serialises(dags: dict) -> None:
    from airflow.serialization.serialized_objects import DagSerialization

    for dag in dags.values():
        dag.check_cycle()
        restored = DagSerialization.from_dict(DagSerialization.to_dict(dag))
        assert {t.task_id for t in restored.tasks} == {t.task_id for t in dag.tasks}


def test_owners_tags_retries_and_callbacks(dags: dict) -> None:
    for dag in dags.values():
        assert "dti" in dag.tags
        # one run at a time, but a prompt per period may wait beside another period's
        assert dag.max_active_runs == (16 if dag.dag_id == "dti_approve" else 1)
        assert dag.catchup is False
        for task in dag.tasks:
            assert task.owner == OWNER, task.task_id
            # a person's answer is not retried: a second prompt would ask again
            assert task.retries >= (0 if task.task_id == "approve_release" else 1), task.task_id
            assert task.retry_exponential_backoff > 0
            assert task.max_retry_delay is not None
            assert on_task_failure in task.on_failure_callback, task.task_id
            notices = [c for c in task.on_failure_callback if isinstance(c, DtiNotifier)]
            assert [n.kind for n in notices] == ["failure"], task.task_id


def test_a_pipeline_run_past_its_deadline_raises_an_alert(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from datetime import timedelta

    from airflow.sdk import AsyncCallback, DeadlineReference
    from airflow.serialization.serialized_objects import DagSerialization

    dags = _load(monkeypatch, tmp_path, DTI_RUN_DEADLINE_MINUTES="45")
    for dag_id in PIPELINE_DAG_IDS:
        (alert,) = dags[dag_id].deadline
        assert alert.reference == DeadlineReference.DAGRUN_QUEUED_AT
        assert alert.interval == timedelta(minutes=45)
        assert isinstance(alert.callback, AsyncCallback)  # run by the triggerer
        assert alert.callback.path == "orchestration.notify.DtiNotifier"
        assert alert.callback.kwargs == {"kind": "overdue"}
        assert DagSerialization.to_dict(dags[dag_id])["dag"]["deadline"]


def test_reminders_run_daily_in_vietnamese_time(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    dag = _load(monkeypatch, tmp_path, DTI_REMINDER_CRON="30 7 * * 1-5")["dti_reminders"]
    assert dag.timetable.expression == "30 7 * * 1-5"
    assert str(dag.timetable.timezone) == "Asia/Ho_Chi_Minh"
    assert dag.params["period"] is None


def test_a_reminder_run_triggered_by_hand_has_no_data_interval(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A manual run's context has no data interval; with no warehouse yet nothing is sent."""
    dag = _load(monkeypatch, tmp_path)["dti_reminders"]
    send = dag.get_task("send_reminders").python_callable
    assert send(params={"period": None}, logical_date=None) == []
    assert send(params={"period": 2023}) == []


def test_warehouse_tasks_share_the_single_slot_pool(dags: dict) -> None:
    for dag_id, task_ids in WAREHOUSE_TASKS.items():
        for task in dags[dag_id].tasks:
            expected = DUCKDB_POOL if task.task_id in task_ids else "default_pool"
            assert task.pool == expected, (dag_id, task.task_id)


def test_assets_chain_ingest_to_transform_to_publish(dags: dict) -> None:
    ingest, transform, publish = (dags[d] for d in ("dti_ingest", "dti_transform", "dti_publish"))
    assert _assets(ingest.get_task("ingest_submissions").outlets) == [RAW.name]
    assert _asset_names(transform.timetable.asset_condition) == [RAW.name]
    assert _assets(transform.get_task("transform").outlets) == [MARTS.name]
    assert _asset_names(publish.timetable.asset_condition) == [MARTS.name]
    # the bundle event only once a current release is pushed, never for a draft
    assert _assets(publish.get_task("push_to_site").outlets) == [BUNDLE.name]
    assert _assets(publish.get_task("write_bundle").outlets) == []


def test_a_backfill_of_dti_rerun_names_one_period_per_year(dags: dict) -> None:
    """dti_transform cannot be backfilled (its schedule is an asset); dti_rerun can, and each
    of its backfill runs announces the year of its logical date on the raw asset."""
    from datetime import UTC, datetime

    from airflow.serialization.serialized_objects import DagSerialization

    def serialized(dag_id: str):  # what `airflow backfill create` reads (airflow.models.backfill)
        return DagSerialization.from_dict(DagSerialization.to_dict(dags[dag_id]))

    rerun = dags["dti_rerun"]
    assert _assets(rerun.get_task("announce_periods").outlets) == [RAW.name]
    assert not serialized("dti_transform").timetable.periodic
    assert serialized("dti_rerun").timetable.periodic
    infos = serialized("dti_rerun").iter_dagrun_infos_between(
        datetime(2023, 1, 1, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC)
    )
    assert [info.logical_date.year for info in infos] == [2023, 2024, 2025]
    assert rerun.params["periods"] is None


def test_ingest_runs_on_both_watchers_and_a_cron_sweep(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    dags = _load(monkeypatch, tmp_path, DTI_SWEEP_CRON="*/7 * * * *")
    timetable = dags["dti_ingest"].timetable
    assert timetable.timetable.expression == "*/7 * * * *"
    assets = {a.name: a for a in timetable.asset_condition.objects}
    assert set(assets) == {INBOX_NAME, PORTAL_NAME}

    inbox_path, inbox_kwargs = assets[INBOX_NAME].watchers[0].trigger.serialize()
    assert inbox_path == "orchestration.triggers.ReadyFlagTrigger"
    assert inbox_kwargs["directory"] == str(tmp_path / "inbox")

    portal_path, portal_kwargs = assets[PORTAL_NAME].watchers[0].trigger.serialize()
    assert portal_path == "orchestration.triggers.PortalAnnouncementTrigger"
    assert portal_kwargs["redis_conn_id"] == REDIS_CONN_ID
    assert portal_kwargs["channels"] == ["dti.submissions"]
    for classpath in (inbox_path, portal_path):  # what the triggerer imports
        module, name = classpath.rsplit(".", 1)
        assert getattr(importlib.import_module(module), name)


def test_params_period_and_full_refresh(dags: dict) -> None:
    params = dags["dti_transform"].params
    assert params["period"] is None
    assert params["full_refresh"] is False
    assert dags["dti_publish"].params["period"] is None
    assert dags["dti_ingest"].params["sources"] is None


def test_publish_asks_one_approval_run_per_draft_only_when_the_setting_asks(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from airflow.providers.standard.operators.hitl import ApprovalOperator

    plain = _load(monkeypatch, tmp_path)["dti_publish"]
    assert {t.task_id for t in plain.tasks} == {"write_bundle", "push_to_site"}

    dags = _load(monkeypatch, tmp_path, DTI_PUBLISH_REQUIRES_APPROVAL="true")
    gated = dags["dti_publish"]
    # the publication ends with the drafts: one dti_approve run each, nothing waits here
    assert {t.task_id for t in gated.tasks} == {"write_bundle", "approval_runs", "ask_approval"}
    ask = gated.get_task("ask_approval")
    assert ask.partial_kwargs["trigger_dag_id"] == "dti_approve"
    assert ask.upstream_task_ids == {"approval_runs"}
    assert not any(isinstance(t, ApprovalOperator) for t in gated.tasks)

    approval = dags["dti_approve"]
    assert type(approval.timetable).__name__ == "NullTimetable"  # started by dti_publish only
    approve = approval.get_task("approve_release")
    assert isinstance(approve, ApprovalOperator)
    assert approve.upstream_task_ids == {"describe_draft"}
    assert approve.downstream_task_ids == {"make_current"}
    assert set(approve.params) == {"reason"}  # the approver says why, for Reject as for Approve
    assert approve.response_timeout is not None
    assert approval.get_task("make_current").downstream_task_ids == {
        "push_to_site",
        "record_rejection",
        "next_approval",
    }
    # short of the quorum, the next approver's prompt is the next run of this DAG
    ask_next = approval.get_task("ask_next_approver")
    assert ask_next.partial_kwargs["trigger_dag_id"] == "dti_approve"
    assert ask_next.upstream_task_ids == {"next_approval"}
    assert approve.request_task_id == "describe_draft"  # whom it is assigned to
    assert approval.get_task("record_rejection").upstream_task_ids == {"make_current"}
    assert approval.get_task("record_rejection").trigger_rule == "all_skipped"
    assert [o.name for o in approval.get_task("push_to_site").outlets] == [BUNDLE.name]
    assert [n.kind for n in approve.notifiers] == ["approval"]
