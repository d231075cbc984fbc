"""dti_transform — build the dbt models and pass the validation checkpoints in order.

Runs on ``dti_raw_submissions`` for every period with answers loaded since the last
validation (the warehouse's record, not only the events: see ``pipeline.backlog``): seeds the
registry, gates ``framework`` and ``submissions``, builds every dbt model, gates
``counted_answers`` and ``scores``; emits ``dti_marts_validated`` with the periods and the
validation runs that gated them. A run whose events the run before already covered is skipped. A failed gate fails at once (no retry) and
its callback names the suite and the report.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import Param, dag, task

from dti.settings import load_orchestration_settings, load_settings
from orchestration.assets import MARTS, RAW
from orchestration.config import (
    DUCKDB_POOL,
    TAGS,
    default_args,
    run_deadline,
)
from orchestration.lineage import annotate as annotate_lineage


@dag(
    dag_id="dti_transform",
    schedule=[RAW],
    start_date=datetime(2024, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(load_orchestration_settings()),
    deadline=run_deadline(load_orchestration_settings()),
    tags=[*TAGS, "dbt", "validation"],
    doc_md=__doc__,
    params={
        "period": Param(
            None, type=["null", "integer"], description="period; empty = every period owed"
        ),
        "full_refresh": Param(False, type="boolean", description="rebuild incremental models"),
    },
)
def dti_transform() -> None:
    # in the pool: it reads the warehouse, which a writer may hold
    @task(pool=DUCKDB_POOL)
    def resolve_periods(**context) -> dict:
        from orchestration import tasks

        return tasks.resolve_periods(
            load_settings(),
            context["params"].get("period"),
            context.get("triggering_asset_events") or {},
        )

    @task(pool=DUCKDB_POOL)
    def seed_registry() -> None:
        from orchestration import tasks

        tasks.seed_registry(load_settings())

    @task(pool=DUCKDB_POOL)
    def gate(checkpoint: str, resolved: dict) -> dict:
        from orchestration import tasks

        return tasks.run_gate(load_settings(), checkpoint, resolved["periods"])

    @task(pool=DUCKDB_POOL)
    def build_models(resolved: dict, **context) -> None:
        from orchestration import tasks

        full_refresh = bool(context["params"]["full_refresh"])
        tasks.build_models(load_settings(), resolved["periods"], full_refresh)

    @task(pool=DUCKDB_POOL, outlets=[MARTS])
    def gate_scores(
        resolved: dict, framework: dict, submissions: dict, counted_answers: dict, **context
    ):
        from orchestration import tasks

        extra = tasks.gate_scores(
            load_settings(), resolved, framework, submissions, counted_answers
        )
        context["outlet_events"][MARTS].extra = extra
        return extra

    resolved = resolve_periods()
    seeded = seed_registry()
    framework = gate.override(task_id="gate_framework")("framework", resolved)
    submissions = gate.override(task_id="gate_submissions")("submissions", resolved)
    built = build_models(resolved)
    counted_answers = gate.override(task_id="gate_counted_answers")("counted_answers", resolved)
    resolved >> seeded >> framework >> submissions >> built >> counted_answers
    gate_scores(resolved, framework, submissions, counted_answers)


annotate_lineage(dti_transform(), load_settings())
