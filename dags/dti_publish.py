"""dti_publish — write the next release of each validated period, then push it to the DTI site.

Runs on ``dti_marts_validated``, for every period validated and not released since
(``pipeline.backlog``); each is validated again just before its release is written (a later
transform may have rebuilt the marts since; unchanged data reuses the passing verdict).

When ``DTI_PUBLISH_REQUIRES_APPROVAL`` is true the release is built as a draft and a person
decides in the Airflow UI (Required actions): Approve makes it current and pushes it, Reject
keeps the current release and records the rejection. The ``dti_bundle`` event is emitted only
after a current release is pushed (or, without ``DTI_PUBLISH_URL``, once it is current in
``DTI_OUT``).
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
# read at parse time: whether the approval step is part of the DAG at all
requires_approval = load_settings().publish_requires_approval


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

        return tasks.publish_owed(
            load_settings(),
            context["params"].get("period"),
            context.get("triggering_asset_events") or {},
            requires_approval,
        )

    @task(outlets=[BUNDLE])
    def push_to_site(built: dict, **context) -> list[str | None]:
        from orchestration import tasks

        settings = load_settings()
        pushed = [tasks.push_bundle(settings, p) for p in built["periods"]]
        extra = tasks.bundle_event_extra(settings, built["periods"])
        context["outlet_events"][BUNDLE].extra = extra
        return pushed

    built = write_bundle()
    if requires_approval:
        from airflow.providers.standard.operators.hitl import ApprovalOperator

        from orchestration.notify import DtiNotifier

        prompt = "ti.xcom_pull(task_ids='write_bundle')"
        approve = ApprovalOperator(
            task_id="approve_publication",
            subject="{{ " + prompt + "['subject'] }}",
            body="{{ " + prompt + "['body'] }}",
            response_timeout=orchestration.approval_timeout,
            retries=0,
            # what to approve and where, to DTI_MAIL_TO / the webhook
            notifiers=[DtiNotifier("approval")],
        )

        @task
        def make_current(built: dict, **context) -> list[dict]:
            from orchestration import tasks

            decision = context["ti"].xcom_pull(task_ids="approve_publication")
            return tasks.approve_releases(load_settings(), built, decision)

        # Reject skips make_current (ApprovalOperator skips its direct downstream): this
        # runs then, and reads its inputs from XCom so that its only upstream is make_current.
        @task(trigger_rule="all_skipped")
        def record_rejection(**context) -> list[dict]:
            from orchestration import tasks

            ti = context["ti"]
            built = ti.xcom_pull(task_ids="write_bundle")
            decision = ti.xcom_pull(task_ids="approve_publication")
            return tasks.reject_releases(load_settings(), built, decision)

        current = make_current(built)
        built >> approve >> current >> push_to_site(built)
        current >> record_rejection()
    else:
        push_to_site(built)


annotate_lineage(dti_publish(), load_settings())
