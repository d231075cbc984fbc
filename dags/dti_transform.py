"""dti_transform — build the dbt models and pass the gates, stage by stage.

Runs on ``dti_raw_submissions``: seeds the registry, gates ``framework`` and ``raw``, builds
every dbt model, gates ``staging`` and ``marts``; emits ``dti_marts_validated`` with the
periods and the validation runs that gated them. A failed gate fails at once (no retry) and
its callback names the suite and the report.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import Param, dag, task

from dti.orchestration.assets import MARTS, RAW
from dti.orchestration.config import (
    DUCKDB_POOL,
    TAGS,
    default_args,
)
from dti.settings import load_orchestration_settings, load_settings


@dag(
    dag_id="dti_transform",
    schedule=[RAW],
    start_date=datetime(2024, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(load_orchestration_settings()),
    tags=[*TAGS, "dbt", "validation"],
    doc_md=__doc__,
    params={
        "period": Param(None, type=["null", "integer"], description="period; empty = from events"),
        "full_refresh": Param(False, type="boolean", description="rebuild incremental models"),
    },
)
def dti_transform() -> None:
    @task
    def resolve_periods(**context) -> list[int]:
        from dti.orchestration import tasks

        return tasks.resolve_periods(
            context["params"].get("period"), context.get("triggering_asset_events") or {}
        )

    @task(pool=DUCKDB_POOL)
    def seed_registry() -> None:
        from dti.orchestration import tasks

        tasks.seed_registry(load_settings())

    @task(pool=DUCKDB_POOL)
    def gate(stage: str, periods: list[int]) -> dict:
        from dti.orchestration import tasks

        return tasks.run_gate(load_settings(), stage, periods)

    @task(pool=DUCKDB_POOL)
    def build_models(periods: list[int], **context) -> None:
        from dti.orchestration import tasks

        tasks.build_models(load_settings(), periods, bool(context["params"]["full_refresh"]))

    @task(pool=DUCKDB_POOL, outlets=[MARTS])
    def gate_marts(periods: list[int], framework: dict, raw: dict, staging: dict, **context):
        from dti.orchestration import tasks

        marts = tasks.run_gate(load_settings(), "marts", periods)
        extra = tasks.marts_event_extra(periods, framework, raw, staging, marts)
        context["outlet_events"][MARTS].extra = extra
        return extra

    periods = resolve_periods()
    seeded = seed_registry()
    framework = gate.override(task_id="gate_framework")("framework", periods)
    raw = gate.override(task_id="gate_raw")("raw", periods)
    built = build_models(periods)
    staging = gate.override(task_id="gate_staging")("staging", periods)
    periods >> seeded >> framework >> raw >> built >> staging
    gate_marts(periods, framework, raw, staging)


dti_transform()
