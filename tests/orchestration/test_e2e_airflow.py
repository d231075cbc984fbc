"""End to end on a real Airflow: submissions become a republished bundle with nobody clicking.

One stack (API server, scheduler with LocalExecutor, DAG processor, triggerer, PostgreSQL
metadata DB, Redis) serves the scenarios in order: a file with its ``.ready`` flag, a portal
submission announced on Redis, a file dropped while the triggerer was down that only the
cron sweep can find, and a publication that waits for a person's approval before the push.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import pytest

from orchestration.assets import INBOX_NAME, PORTAL_NAME, RAW
from testkit.airflow_stack import (
    NEVER,
    E2EStack,
    FakeSite,
    answer_approval,
    approval_details,
    drop_submission,
    insert_portal_answers,
    redis_publish,
    results_unit,
    running_stack,
    units_of,
    wait_for,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

SWEEP_EVERY_15_S = "* * * * * */15"
PIPELINE_TIMEOUT = 240  # seconds from an event to the republished bundle, generous for 2 cores


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def e2e(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2EStack]:
    with running_stack(tmp_path_factory.mktemp("airflow_e2e"), _free_port()) as stack:
        yield stack


def _raw_events_with(e2e: E2EStack, predicate) -> list[dict]:
    return [
        e
        for e in e2e.asset_events(RAW.name)
        if any(predicate(b) for b in e["extra"].get("batches", []))
    ]


def _wait_scored(e2e: E2EStack, unit_code: str) -> dict:
    return wait_for(
        f"{unit_code} scored in results.json",
        lambda: (u := results_unit(e2e.out, unit_code)) and u.get("status") == "scored" and u,
        PIPELINE_TIMEOUT,
        e2e.stack,
    )


def test_ready_flag_in_inbox_republishes_the_bundle(e2e: E2EStack) -> None:
    unit = units_of("so_nganh")[0]
    assert results_unit(e2e.out, unit) is None or results_unit(e2e.out, unit)["status"] != "scored"
    started = time.monotonic()
    path = drop_submission(e2e.inbox, unit)

    scored = _wait_scored(e2e, unit)
    elapsed = time.monotonic() - started

    assert scored["total_score"] > 0
    watcher = [
        e
        for e in e2e.asset_events(INBOX_NAME)
        if path.name + ".ready" in e["extra"]["payload"]["flags"]
    ]
    assert watcher, "the inbox watcher did not announce the flag"
    loaded = _raw_events_with(
        e2e, lambda b: b["source_file"] == path.name and b["source"] == "inbox"
    )
    assert len(loaded) == 1, "the file must be loaded exactly once"
    assert "inbox" in loaded[0]["extra"]["reason"].split("+")
    assert loaded[0]["extra"]["periods"] == [2023]
    runs = {r["run_id"]: r for r in e2e.dag_runs("dti_ingest")}
    assert runs[loaded[0]["run_id"]]["run_type"] == "asset_triggered"
    assert not [r for r in e2e.dag_runs("dti_ingest") if r["run_type"] == "manual"]
    e2e.wait_idle()
    assert e2e.failure_notes() == []
    print(f"inbox drop -> bundle: {elapsed:.1f}s")


def test_portal_announcement_on_redis_republishes_the_bundle(e2e: E2EStack) -> None:
    unit = units_of("so_nganh")[1]
    insert_portal_answers(e2e, unit)
    started = time.monotonic()
    listeners = redis_publish(
        e2e.cfg.dti_env["DTI_REDIS_CHANNEL"], {"period": 2023, "unit_code": unit}
    )
    assert listeners == 1, "the Redis watcher is not subscribed"

    scored = _wait_scored(e2e, unit)
    elapsed = time.monotonic() - started

    assert scored["total_score"] > 0
    announced = [e for e in e2e.asset_events(PORTAL_NAME) if unit in e["extra"]["payload"]["data"]]
    assert len(announced) == 1
    loaded = _raw_events_with(e2e, lambda b: b["source"] == "portal_db")
    assert len(loaded) == 1, "the portal rows must be loaded exactly once"
    assert "portal" in loaded[0]["extra"]["reason"].split("+")
    # No inbox file was loaded a second time by the portal-triggered run.
    inbox_files = [
        b["source_file"]
        for e in e2e.asset_events(RAW.name)
        for b in e["extra"]["batches"]
        if b["source"] == "inbox"
    ]
    assert len(inbox_files) == len(set(inbox_files))
    e2e.wait_idle()
    assert e2e.failure_notes() == []
    print(f"redis announcement -> bundle: {elapsed:.1f}s")


def test_sweep_loads_a_submission_whose_event_was_lost(e2e: E2EStack) -> None:
    unit = units_of("quan_huyen")[0]
    # The triggerer is down while the unit delivers: no watcher sees the flag...
    e2e.stack.stop("triggerer", "dag-processor")
    path = drop_submission(e2e.inbox, unit)
    time.sleep(1)
    # ...and when it is back the flag is part of its baseline, so no event is ever sent. The
    # sweep runs every 15 s from now on (every 15 min in production; cron with seconds).
    e2e.restart("triggerer", "dag-processor", DTI_SWEEP_CRON=SWEEP_EVERY_15_S)

    scored = _wait_scored(e2e, unit)

    assert scored["total_score"] > 0
    flag = path.name + ".ready"
    assert not [e for e in e2e.asset_events(INBOX_NAME) if flag in e["extra"]["payload"]["flags"]]
    loaded = _raw_events_with(e2e, lambda b: b["source_file"] == path.name)
    assert len(loaded) == 1
    assert loaded[0]["extra"]["reason"] == "sweep"
    runs = {r["run_id"]: r for r in e2e.dag_runs("dti_ingest")}
    assert runs[loaded[0]["run_id"]]["run_type"] == "scheduled"
    e2e.wait_idle()
    assert e2e.failure_notes() == []


def _live_release(e2e: E2EStack) -> int:
    """The current release of 2023; 0 before the first (this test run alone)."""
    manifest = e2e.out / "2023" / "manifest.json"
    if not manifest.exists():
        return 0
    return json.loads(manifest.read_bytes())["release"]["number"]


def _manifests(folder) -> list[dict]:
    return [json.loads((p / "manifest.json").read_bytes()) for p in sorted(folder.iterdir())]


def _wait_parked(e2e: E2EStack, after: str | None = None) -> str:
    parked = wait_for(
        "the approval task waiting for a person",
        lambda: [
            r
            for r in e2e.query(
                "select run_id from task_instance where dag_id = 'dti_publish' "
                "and task_id = 'approve_publication' and state = 'awaiting_input'"
            )
            if r[0] != after
        ],
        PIPELINE_TIMEOUT,
        e2e.stack,
    )
    return parked[0][0]


def _task_state(e2e: E2EStack, run_id: str, task_id: str) -> str:
    (state,) = wait_for(
        f"{task_id} done",
        lambda: e2e.query(
            "select state from task_instance where dag_id = 'dti_publish' "
            "and task_id = %s and run_id = %s "
            "and state in ('success', 'failed', 'skipped', 'upstream_failed')",
            (task_id, run_id),
        ),
        120,
        e2e.stack,
    )
    return state[0]


def _assert_nothing_published(e2e: E2EStack, site: FakeSite, live: int, unit: str) -> None:
    """The current release is still ``live`` and nothing reached the site."""
    assert _live_release(e2e) == live
    assert (results_unit(e2e.out, unit) or {}).get("status") != "scored"
    assert not [r for r in site.requests if r[0] in ("PUT", "POST")]


def test_publication_waits_for_approval_when_the_setting_asks(e2e: E2EStack) -> None:
    site = FakeSite()
    try:
        # The setting shapes dti_publish (parsed by the DAG processor) and the push settings
        # reach the tasks (run by the scheduler's LocalExecutor): restart both with them, the
        # DAG processor first so that no sweep run is in flight when the scheduler stops.
        e2e.restart(
            "dag-processor",
            DTI_PUBLISH_REQUIRES_APPROVAL="true",
            DTI_PUBLISH_URL=site.url,
            DTI_PUBLISH_TOKEN=FakeSite.TOKEN,
            DTI_SWEEP_CRON=NEVER,
        )
        wait_for(
            "dti_publish and dti_ingest re-parsed",
            lambda: (
                e2e.query(
                    "select 1 from serialized_dag where dag_id = 'dti_publish' "
                    "and data::text like '%%approve_publication%%'"
                )
                and e2e.query(
                    "select 1 from dag where dag_id = 'dti_ingest' and timetable_summary like %s",
                    (f"%{NEVER}%",),
                )
            ),
            120,
            e2e.stack,
        )
        e2e.wait_idle()
        e2e.restart("scheduler")
        live_before = _live_release(e2e)

        # 1. A draft is built; Reject keeps the current release and records the rejection.
        rejected_unit = units_of("quan_huyen")[1]
        drop_submission(e2e.inbox, rejected_unit)
        run_id = _wait_parked(e2e)
        details = approval_details(e2e.cfg, run_id)
        draft = live_before + 1
        assert details["subject"] == f"Approve DTI release {draft} of 2023"
        assert f"/.releases/2023/{draft}/index.html" in details["body"]
        if live_before:  # (this test run alone publishes a first release: nothing to compare)
            assert rejected_unit in details["body"]  # not submitted → a level and a rank
        assert "Validation warnings" in details["body"]
        _assert_nothing_published(e2e, site, live_before, rejected_unit)
        time.sleep(15)  # a person opens Required actions (an instant answer races, see README)
        assert answer_approval(e2e.cfg, run_id, "Reject") == 200
        assert _task_state(e2e, run_id, "record_rejection") == "success"
        assert _task_state(e2e, run_id, "push_to_site") == "skipped"
        _assert_nothing_published(e2e, site, live_before, rejected_unit)
        rejected = _manifests(e2e.out / ".releases" / "2023" / "rejected")
        assert [m["release"]["status"] for m in rejected] == ["rejected"]

        # 2. The next draft takes the same number; Approve makes it current and pushes it.
        unit = units_of("quan_huyen")[2]
        drop_submission(e2e.inbox, unit)
        run_id = _wait_parked(e2e, after=run_id)
        assert approval_details(e2e.cfg, run_id)["subject"] == (
            f"Approve DTI release {draft} of 2023"
        )
        _assert_nothing_published(e2e, site, live_before, unit)
        time.sleep(15)
        assert answer_approval(e2e.cfg, run_id) == 200
        assert _task_state(e2e, run_id, "push_to_site") == "success"
        assert _live_release(e2e) == draft
        assert results_unit(e2e.out, unit)["status"] == "scored"
        release = json.loads((e2e.out / "2023" / "manifest.json").read_text(encoding="utf-8"))
        assert release["release"]["status"] == "approved"
        assert release["release"]["approved_by"]
        commits = [path for method, path in site.requests if method == "POST"]
        assert len(commits) == 1 and commits[0].startswith("/api/bundles/2023/")
        assert commits[0].endswith("/commit")
        # the stand-in site now shows the approved release
        shown = site.root / "live" / "2023" / "results.json"
        assert shown.read_bytes() == (e2e.out / "2023" / "results.json").read_bytes()
        e2e.wait_idle()
        assert e2e.failure_notes() == []
    finally:
        site.close()
