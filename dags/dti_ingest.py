"""dti_ingest — load new submissions the moment they are ready, and sweep for missed ones.

Runs on a new ``*.ready`` flag in the inbox, on a portal announcement on Redis, and on a cron
sweep that pulls every configured source (so an event lost while the triggerer was down is
still loaded). Emits ``dti_raw_submissions`` with the periods and batches it loaded; a run
that found nothing new is skipped and emits nothing.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable, Param, dag, task

from dti.settings import load_orchestration_settings, load_settings
from orchestration.assets import RAW, inbox_asset, portal_announcements_asset
from orchestration.config import (
    DUCKDB_POOL,
    TAGS,
    default_args,
    run_deadline,
)

orchestration = load_orchestration_settings()


@dag(
    dag_id="dti_ingest",
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable(orchestration.sweep_cron, timezone="UTC"),
        assets=inbox_asset(load_settings(), orchestration)
        | portal_announcements_asset(orchestration),
    ),
    start_date=datetime(2024, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(orchestration),
    deadline=run_deadline(orchestration),
    tags=[*TAGS, "ingest"],
    doc_md=__doc__,
    params={
        "sources": Param(
            None,
            type=["null", "array"],
            description="sources to pull (inbox, portal_api, portal_db); empty = all configured",
        ),
    },
)
def dti_ingest() -> None:
    @task(pool=DUCKDB_POOL, outlets=[RAW])
    def ingest_submissions(**context) -> dict:
        from airflow.sdk.exceptions import AirflowSkipException

        from orchestration import tasks

        settings = load_settings()
        sources = context["params"].get("sources") or tasks.configured_sources(settings)
        reason = tasks.trigger_reason(
            context["dag_run"].run_type, context.get("triggering_asset_events") or {}
        )
        outcome = tasks.ingest(settings, sources)
        extra = outcome.event_extra(reason)
        if not outcome.loaded:
            raise AirflowSkipException(f"nothing new from {', '.join(sources)} ({reason})")
        context["outlet_events"][RAW].extra = extra
        return extra

    ingest_submissions()


dti_ingest()
