"""dti_reminders — tell the ICT department, before a period's deadline, who has not answered.

Every day at ``DTI_REMINDER_CRON`` (Vietnamese time) it looks for the periods whose deadline
(``periods.csv``) is one of ``DTI_REMINDER_DAYS`` days away and sends ``DTI_MAIL_TO`` the units
still missing answers and the indicators each has left (what ``dti missing`` prints).
Triggered with a ``period`` it sends that period's list at once.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import CronTriggerTimetable, Param, dag, task

from dti.settings import load_orchestration_settings, load_settings
from orchestration.config import DUCKDB_POOL, TAGS, default_args

orchestration = load_orchestration_settings()


@dag(
    dag_id="dti_reminders",
    schedule=CronTriggerTimetable(orchestration.reminder_cron, timezone="Asia/Ho_Chi_Minh"),
    start_date=datetime(2024, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(orchestration),
    tags=[*TAGS, "reminders"],
    doc_md=__doc__,
    params={
        "period": Param(None, type=["null", "integer"], description="send now for this period"),
    },
)
def dti_reminders() -> None:
    @task(pool=DUCKDB_POOL)  # reads the warehouse: not while a writer holds it
    def send_reminders(**context) -> list[dict]:
        from orchestration import tasks

        # a scheduled run's day; a run triggered by hand (no data interval) is today
        today = tasks.local_day(context.get("data_interval_end") or context.get("logical_date"))
        return tasks.send_reminders(
            load_settings(),
            load_orchestration_settings().reminder_days,
            context["params"].get("period"),
            today,
        )

    send_reminders()


dti_reminders()
