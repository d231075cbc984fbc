"""dti_transform — build the dbt models and pass the validation checkpoints in order.

Runs on ``dti_raw_submissions`` for every period with answers loaded since the last
validation (the warehouse's record, not only the events: see ``pipeline.backlog``) and every
period a rerun names: one task, the transform job of ``pipeline.jobs`` (the one `dti run`
runs), which holds the warehouse from its first step to its last — seed the registry, gates
``framework`` and ``submissions``, the dbt build, gates ``counted_answers`` and ``scores``.
Emits ``dti_marts_validated`` with the periods and the validation runs that gated them. A run
whose events the run before already covered is skipped. A failed gate fails at once (no
retry) and its callback names the suite and the report.
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
    # in the pool: the warehouse has one writer
    @task(pool=DUCKDB_POOL, outlets=[MARTS])
    def transform(**context) -> dict:
        from orchestration import tasks

        extra = tasks.transform(
            load_settings(),
            context["params"].get("period"),
            context.get("triggering_asset_events") or {},
            bool(context["params"]["full_refresh"]),
        )
        context["outlet_events"][MARTS].extra = extra
        return extra

    transform()


dti_transform()
