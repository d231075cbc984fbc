"""Fixed names of the Airflow deployment and the task defaults of every DTI DAG.

What an operator tunes (sweep schedule, polling, retries, approval) is read from the
environment with every other setting, in ``dti.settings``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dti.settings import OrchestrationSettings

DUCKDB_POOL = "dti_duckdb"
REDIS_CONN_ID = "dti_redis"
OWNER = "dti-data"
TAGS = ("dti",)


def default_args(orchestration: OrchestrationSettings) -> dict:
    """Task defaults of every DTI DAG: owner, retries with exponential backoff, callbacks
    (the failure note, then the notice to the people of ``DTI_MAIL_TO``)."""
    from orchestration.callbacks import on_task_failure, on_task_retry
    from orchestration.notify import DtiNotifier

    return {
        "owner": OWNER,
        "retries": orchestration.retries,
        "retry_delay": orchestration.retry_delay,
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": orchestration.max_retry_delay,
        "on_failure_callback": [on_task_failure, DtiNotifier("failure")],
        "on_retry_callback": on_task_retry,
    }


def run_deadline(orchestration: OrchestrationSettings):
    """The alert a DAG run raises when it is still going ``DTI_RUN_DEADLINE_MINUTES`` after it
    was queued; its callback (the overdue notice) runs in the triggerer."""
    from airflow.sdk import AsyncCallback, DeadlineAlert, DeadlineReference

    from orchestration.notify import DtiNotifier

    return DeadlineAlert(
        reference=DeadlineReference.DAGRUN_QUEUED_AT,
        interval=orchestration.run_deadline,
        callback=AsyncCallback(DtiNotifier, kwargs={"kind": "overdue"}),
        name="dti_run_overdue",
    )
