"""dti_publish — write the bundle of each validated period, then push it to the DTI site.

Runs on ``dti_marts_validated``. When ``DTI_PUBLISH_REQUIRES_APPROVAL`` is true a person
approves in the Airflow UI (Required actions) before the push; without ``DTI_PUBLISH_URL``
the push is skipped and the bundle stays in ``DTI_OUT``.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import Param, dag, task

from dti.settings import load_orchestration_settings, load_settings
from orchestration.assets import BUNDLE, MARTS
from orchestration.config import (
    DUCKDB_POOL,
    TAGS,
    default_args,
    run_deadline,
)
from orchestration.lineage import annotate as annotate_lineage

orchestration = load_orchestration_settings()


@dag(
    dag_id="dti_publish",
    schedule=[MARTS],
    start_date=datetime(2024, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(orchestration),
    deadline=run_deadline(orchestration),
    tags=[*TAGS, "publish"],
    doc_md=__doc__,
    params={
        "period": Param(None, type=["null", "integer"], description="period; empty = from events"),
    },
)
def dti_publish() -> None:
    @task(pool=DUCKDB_POOL, outlets=[BUNDLE])
    def write_bundle(**context) -> list[int]:
        from orchestration import tasks

        settings = load_settings()
        periods = tasks.runs_to_publish(
            context["params"].get("period"), context.get("triggering_asset_events") or {}
        )
        written = {str(p): tasks.write_bundle(settings, p, runs) for p, runs in periods.items()}
        context["outlet_events"][BUNDLE].extra = {"bundles": written}
        return sorted(periods)

    @task
    def push_to_site(periods: list[int]) -> list[str | None]:
        from orchestration import tasks

        settings = load_settings()
        return [tasks.push_bundle(settings, p) for p in periods]

    periods = write_bundle()
    if orchestration.publish_requires_approval:
        from airflow.providers.standard.operators.hitl import ApprovalOperator

        from orchestration.notify import DtiNotifier

        approve = ApprovalOperator(
            task_id="approve_publication",
            subject="Publish the DTI results of {{ ti.xcom_pull(task_ids='write_bundle') }}?",
            body=(
                "The bundle is in `DTI_OUT` and passed every gate. Approve to push it to "
                "the DTI site; reject to keep it local."
            ),
            response_timeout=orchestration.approval_timeout,
            retries=0,
            # what to approve and where, to DTI_MAIL_TO / the webhook
            notifiers=[DtiNotifier("approval")],
        )
        periods >> approve >> push_to_site(periods)
    else:
        push_to_site(periods)


annotate_lineage(dti_publish(), load_settings())
