"""dti_publish — write the next release of each validated period, then push it to the DTI site.

Runs on ``dti_marts_validated``, for every period validated and not released since
(``pipeline.backlog``): the release job of ``pipeline.jobs`` validates each again just before
its release is written (a later transform may have rebuilt the marts since; unchanged data
reuses the passing verdict).

When ``DTI_PUBLISH_REQUIRES_APPROVAL`` is true each period's release is built as a draft and
this run ends there: it starts one ``dti_approve`` run per draft, where a person decides on
that period alone (Required actions); nothing waits here, so the next publication is never
held by a prompt, and a run with no new draft asks nobody. Without approval the releases are
current at once and pushed. The ``dti_bundle`` event is emitted only after a current release is
pushed (or, without ``DTI_PUBLISH_URL``, once it is current in ``DTI_OUT``).
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

orchestration = load_orchestration_settings()
# read at parse time: whether the releases wait for a decision at all
requires_approval = load_settings().approval_required


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
        "period": Param(
            None, type=["null", "integer"], description="period; empty = every period owed"
        ),
    },
)
def dti_publish() -> None:
    # in the pool: the gates again and the release, with no writer in between
    @task(pool=DUCKDB_POOL)
    def write_bundle(**context) -> dict:
        from orchestration import tasks

        return tasks.release(load_settings(), context["params"].get("period"), requires_approval)

    built = write_bundle()
    if requires_approval:
        from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator

        @task
        def approval_runs(built: dict) -> list[dict]:
            from orchestration import tasks

            return tasks.approval_runs(built)

        # one dti_approve run per draft; none when nothing new was written
        TriggerDagRunOperator.partial(
            task_id="ask_approval", trigger_dag_id="dti_approve", skip_when_already_exists=True
        ).expand_kwargs(approval_runs(built))
    else:

        @task(outlets=[BUNDLE])
        def push_to_site(built: dict, **context) -> list[str | None]:
            from orchestration import tasks

            settings = load_settings()
            pushed = [tasks.push_bundle(settings, p) for p in built["periods"]]
            extra = tasks.bundle_event_extra(settings, built["periods"])
            context["outlet_events"][BUNDLE].extra = extra
            return pushed

        push_to_site(built)


dti_publish()
