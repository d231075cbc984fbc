"""Scale-out without Docker: the scheduler with the CeleryExecutor and a real Celery worker.

The same services as the compose ``celery`` profile, on loopback: tasks go through the Redis
broker to ``airflow celery worker`` and their states come back through the metadata database
(Celery's ``celery_taskmeta``). A dropped file is published through the worker, and the DuckDB
warehouse tasks never overlap although the worker has two slots: the one-slot pool holds.
"""

from __future__ import annotations

import secrets
import socket
from collections.abc import Iterator

import pytest

from testkit.airflow_stack import (
    E2EStack,
    drop_submission,
    results_unit,
    running_stack,
    units_of,
    wait_for,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def e2e(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2EStack]:
    # A queue of this stack's own: another stack's worker on the same Redis never takes its tasks.
    queue = f"dti_e2e_{secrets.token_hex(4)}"
    with running_stack(
        tmp_path_factory.mktemp("airflow_celery"),
        _free_port(),
        env={"AIRFLOW__OPERATORS__DEFAULT_QUEUE": queue},
        executor="CeleryExecutor",
        worker_log_port=_free_port(),
    ) as stack:
        yield stack


def test_a_dropped_file_is_published_through_a_celery_worker(e2e: E2EStack) -> None:
    unit = units_of("so_nganh")[0]
    drop_submission(e2e.inbox, unit)

    scored = wait_for(
        f"{unit} scored in results.json",
        lambda: (u := results_unit(e2e.out, unit)) and u.get("status") == "scored" and u,
        420,
        e2e.stack,
    )
    assert scored["total_score"] > 0
    e2e.wait_idle(300)

    ran = e2e.query(
        "select dag_id, task_id, state, queue from task_instance "
        "where dag_id in ('dti_ingest', 'dti_transform', 'dti_publish') and state = 'success'"
    )
    tasks = {(dag, task) for dag, task, _, _ in ran}
    assert ("dti_ingest", "ingest_submissions") in tasks
    assert ("dti_transform", "transform") in tasks
    assert ("dti_publish", "write_bundle") in tasks
    assert {q for *_, q in ran} == {e2e.cfg.extra_env["AIRFLOW__OPERATORS__DEFAULT_QUEUE"]}
    # Celery's result backend recorded every one of them: they ran on the worker, not locally.
    done = e2e.query("select count(*) from celery_taskmeta where status = 'SUCCESS'")[0][0]
    assert done >= len(ran)
    worker_log = e2e.stack.log_path("celery-worker").read_text(errors="replace")
    assert "dti_transform" in worker_log and "'transform'" in worker_log

    # The DuckDB writers took the single slot of dti_duckdb one after the other.
    spans = e2e.query(
        "select start_date, end_date from task_instance where pool = 'dti_duckdb' "
        "and start_date is not null order by start_date"
    )
    for (_, previous_end), (start, _) in zip(spans, spans[1:], strict=False):
        assert start >= previous_end, "two warehouse tasks ran at once"
    assert e2e.failure_notes() == []
