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
    backfill,
    create_backfill,
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


def _manifests(folder) -> list[dict]:
    return [json.loads((p / "manifest.json").read_bytes()) for p in sorted(folder.iterdir())]


def _parked(e2e: E2EStack) -> dict[int, str]:
    """``{period: run id}`` of the dti_approve runs whose prompt waits for a person."""
    rows = e2e.query(
        "select run_id from task_instance where dag_id = 'dti_approve' "
        "and task_id = 'approve_release' and state = 'awaiting_input'"
    )
    return {int(run_id.split("__")[1]): run_id for (run_id,) in rows}


def _wait_parked(e2e: E2EStack, periods: set[int], before: set[str] = frozenset()) -> dict:
    return wait_for(
        f"a prompt for each of {sorted(periods)}",
        lambda: (
            parked
            if set(parked := {p: r for p, r in _parked(e2e).items() if r not in before}) == periods
            else None
        ),
        PIPELINE_TIMEOUT,
        e2e.stack,
    )


def _task_state(e2e: E2EStack, run_id: str, task_id: str, dag_id: str = "dti_approve") -> str:
    (state,) = wait_for(
        f"{task_id} done",
        lambda: e2e.query(
            "select state from task_instance where dag_id = %s "
            "and task_id = %s and run_id = %s "
            "and state in ('success', 'failed', 'skipped', 'upstream_failed')",
            (dag_id, task_id, run_id),
        ),
        120,
        e2e.stack,
    )
    return state[0]


def _live(e2e: E2EStack, period: int) -> int:
    manifest = e2e.out / str(period) / "manifest.json"
    if not manifest.exists():
        return 0
    return json.loads(manifest.read_bytes())["release"]["number"]


def _assert_nothing_published(e2e: E2EStack, site: FakeSite, live: dict, units: dict) -> None:
    """The current releases are still ``live`` and nothing reached the site."""
    for period, number in live.items():
        assert _live(e2e, period) == number
        assert (results_unit(e2e.out, units[period], period) or {}).get("status") != "scored"
    assert not [r for r in site.requests if r[0] in ("PUT", "POST")]


def test_each_period_waits_for_its_own_decision_when_the_setting_asks(e2e: E2EStack) -> None:
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
            DTI_DRAFTS_URL="http://127.0.0.1:8766",
            DTI_SWEEP_CRON=NEVER,
        )
        wait_for(
            "dti_publish and dti_ingest re-parsed",
            lambda: (
                e2e.query(
                    "select 1 from serialized_dag where dag_id = 'dti_publish' "
                    "and data::text like '%%ask_approval%%'"
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
        live = {2023: _live(e2e, 2023), 2024: _live(e2e, 2024)}
        assert live[2024] == 0  # no answer of 2024 so far

        # 1. Two periods dropped together: a prompt for each, decided apart.
        units = {2023: units_of("quan_huyen")[1], 2024: units_of("quan_huyen")[2]}
        for period, unit in units.items():
            drop_submission(e2e.inbox, unit, period)
        parked = _wait_parked(e2e, {2023, 2024})
        drafts = {p: live[p] + 1 for p in parked}
        for period, run_id in parked.items():
            details = approval_details(e2e.cfg, run_id)
            assert str(period) in details["subject"] and f"{drafts[period]}" in details["subject"]
            link = f"http://127.0.0.1:8766/.releases/{period}/{drafts[period]}/index.html"
            assert link in details["body"], details["body"]
            other = 2023 if period == 2024 else 2024
            assert f"/.releases/{other}/" not in details["body"]  # one period, one prompt
            assert "reason" in details["params"]
        _assert_nothing_published(e2e, site, live, units)
        time.sleep(
            15
        )  # a person opens Required actions (an instant answer races, see docs/operating.md)
        assert answer_approval(e2e.cfg, parked[2024], "Approve", "đã rà soát kỳ 2024") == 200
        assert answer_approval(e2e.cfg, parked[2023], "Reject", "chờ giải trình của quận") == 200
        assert _task_state(e2e, parked[2024], "push_to_site") == "success"
        assert _task_state(e2e, parked[2023], "record_rejection") == "success"
        assert _task_state(e2e, parked[2023], "push_to_site") == "skipped"

        assert _live(e2e, 2024) == drafts[2024] and _live(e2e, 2023) == live[2023]
        assert results_unit(e2e.out, units[2024], 2024)["status"] == "scored"
        approved = json.loads((e2e.out / "2024" / "manifest.json").read_bytes())["release"]
        assert approved["status"] == "approved" and approved["approved_by"]
        assert approved["approval_reason"] == "đã rà soát kỳ 2024"
        (rejected,) = _manifests(e2e.out / ".releases" / "2023" / "rejected")
        assert rejected["release"]["status"] == "rejected" and rejected["release"]["rejected_by"]
        assert rejected["release"]["reason"] == "chờ giải trình của quận"
        commits = [path for method, path in site.requests if method == "POST"]
        assert len(commits) == 1 and commits[0].startswith("/api/bundles/2024/")
        shown = site.root / "live" / "2024" / "results.json"
        assert shown.read_bytes() == (e2e.out / "2024" / "results.json").read_bytes()
        e2e.wait_idle()

        # 2. A backfill that brings nothing new parks no prompt and holds nothing up.
        asked = {r["run_id"] for r in e2e.dag_runs("dti_approve")}
        published = len(e2e.dag_runs("dti_publish"))
        created = create_backfill(
            e2e.cfg, "dti_rerun", "2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z"
        )
        wait_for(
            "the backfill's publication",
            lambda: len(e2e.dag_runs("dti_publish")) > published,
            PIPELINE_TIMEOUT,
            e2e.stack,
        )
        e2e.wait_idle()  # nothing waits for a person: every run is done
        wait_for(  # the scheduler marks a backfill complete on its next loop after its runs
            "the backfill marked complete",
            lambda: backfill(e2e.cfg, created["id"])["completed_at"],
            120,
            e2e.stack,
        )
        assert {r["run_id"] for r in e2e.dag_runs("dti_approve")} == asked
        assert {r["state"] for r in e2e.dag_runs("dti_publish")} == {"success"}

        # 3. The next submission is published as soon as it is built, its draft asked at once.
        unit = units_of("quan_huyen")[3]
        drop_submission(e2e.inbox, unit, 2023)
        (run_id,) = _wait_parked(e2e, {2023}, before=asked).values()
        assert int(run_id.split("__")[2]) == live[2023] + 1  # the rejected number, again
        time.sleep(15)
        assert answer_approval(e2e.cfg, run_id, "Approve", "") == 200
        assert _task_state(e2e, run_id, "push_to_site") == "success"
        assert _live(e2e, 2023) == live[2023] + 1
        assert results_unit(e2e.out, unit)["status"] == "scored"
        e2e.wait_idle()
        assert e2e.failure_notes() == []
    finally:
        site.close()
