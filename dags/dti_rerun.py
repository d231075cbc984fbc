"""dti_rerun — rerun whole periods through dti_transform and dti_publish; Airflow's backfill
drives it.

dti_transform and dti_publish run on asset events, and Airflow backfills only DAGs with a time
schedule: this DAG is their time-scheduled door. Each run names periods and emits
``dti_raw_submissions`` with them, so dti_transform rebuilds and validates those periods and
dti_publish writes their next releases (none when the results did not change). A backfill's
runs name one period each, the year of their logical date::

    airflow backfill create --dag-id dti_rerun --from-date 2023-01-01 --to-date 2025-01-01

reruns 2023, 2024 and 2025; a period without answers in the warehouse is left out. Triggered
by hand with the ``periods`` param it reruns those periods at once. The yearly schedule is
there for the backfill to count years by: a scheduled run does nothing.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import CronTriggerTimetable, Param, dag, task

from dti.settings import load_orchestration_settings, load_settings
from orchestration.assets import RAW
from orchestration.config import DUCKDB_POOL, TAGS, default_args


@dag(
    dag_id="dti_rerun",
    # one logical date per year, 1 January UTC: its year is the period
    schedule=CronTriggerTimetable("0 0 1 1 *", timezone="UTC"),
    start_date=datetime(2020, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(load_orchestration_settings()),
    tags=[*TAGS, "backfill"],
    doc_md=__doc__,
    params={
        "periods": Param(
            None,
            type=["null", "array"],
            items={"type": "integer"},
            description="periods to rerun; empty = the year of the run's logical date",
        ),
    },
)
def dti_rerun() -> None:
    @task(pool=DUCKDB_POOL, outlets=[RAW])  # reads the warehouse: not while a writer holds it
    def announce_periods(**context) -> dict:
        from airflow.sdk.exceptions import AirflowSkipException

        from orchestration import tasks

        run = context["dag_run"]
        if run.run_type == "scheduled":
            raise AirflowSkipException("a scheduled run reruns nothing: backfill or trigger")
        periods = tasks.periods_to_rerun(
            load_settings(), context["params"].get("periods"), context.get("logical_date")
        )
        if not periods:
            raise AirflowSkipException("no period of this run has answers: nothing to rerun")
        extra = tasks.rerun_event_extra(periods, run.run_type)
        context["outlet_events"][RAW].extra = extra
        return extra

    announce_periods()


dti_rerun()
