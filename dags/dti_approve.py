"""dti_approve — one period's draft release: a person approves or rejects it, then the push.

Started by ``dti_publish`` once per draft it wrote (``conf``: period, release, bundle_sha256),
never on a schedule. The prompt (Required actions) is in Vietnamese: the release and what it
replaces, the units that change, the validation, the link to the draft. **Approve** makes that
draft current — only if its bundle is still the one shown — and pushes it to the DTI site;
**Reject** keeps the current release and records who rejected it and why (the reason field).
A draft that no longer waits (decided meanwhile, or rebuilt: its own run asks) parks no prompt.

With a council (``DTI_APPROVERS``), only the named approvers who have not approved the draft
yet may answer; while it is short of ``DTI_APPROVAL_QUORUM`` approvals, an approval starts the
next run of this DAG for the same draft (the next approver's prompt) and nothing is pushed.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import Param, dag, task

from dti.settings import load_orchestration_settings, load_settings
from orchestration.assets import BUNDLE
from orchestration.config import TAGS, default_args

orchestration = load_orchestration_settings()


@dag(
    dag_id="dti_approve",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    max_active_runs=16,  # one prompt per period may wait at once
    default_args=default_args(orchestration),
    tags=[*TAGS, "publish", "approval"],
    doc_md=__doc__,
    params={
        "period": Param(2023, type="integer", description="period of the draft"),
        "release": Param(1, type="integer", description="number of the draft"),
        "bundle_sha256": Param(
            "", type="string", description="the draft's bundle checksum (dti release list)"
        ),
    },
)
def dti_approve() -> None:
    from orchestration.approval import DECISION_KEY, DraftApproval
    from orchestration.notify import DtiNotifier

    @task
    def describe_draft(**context) -> dict:
        from orchestration import tasks

        return tasks.draft_prompt(load_settings(), context["params"])

    prompt = "ti.xcom_pull(task_ids='describe_draft')"
    decide = DraftApproval(
        task_id="approve_release",
        request_task_id="describe_draft",  # who may answer: the approvers it names
        subject="{{ " + prompt + "['subject'] }}",
        body="{{ " + prompt + "['body'] }}",
        params={
            "reason": Param(
                "",
                type="string",
                title="Lý do",
                description="lý do phê duyệt hoặc từ chối (ghi vào bản công bố)",
            )
        },
        response_timeout=orchestration.approval_timeout,
        retries=0,
        # what to approve and where, to DTI_MAIL_TO / the webhook
        notifiers=[DtiNotifier("approval")],
    )

    @task
    def make_current(**context) -> dict:
        from orchestration import tasks

        ti = context["ti"]
        return tasks.approve_draft(
            load_settings(),
            ti.xcom_pull(task_ids="describe_draft"),
            ti.xcom_pull(task_ids="approve_release", key=DECISION_KEY),
        )

    # Reject skips make_current (ApprovalOperator skips its direct downstream): this runs
    # then, and reads its inputs from XCom so that its only upstream is make_current.
    @task(trigger_rule="all_skipped")
    def record_rejection(**context) -> dict:
        from orchestration import tasks

        ti = context["ti"]
        return tasks.reject_draft(
            load_settings(),
            ti.xcom_pull(task_ids="describe_draft"),
            ti.xcom_pull(task_ids="approve_release", key=DECISION_KEY),
        )

    # short of the quorum: the next approver's prompt, as one more run of this DAG
    @task
    def next_approval(**context) -> list[dict]:
        from orchestration import tasks

        ti = context["ti"]
        return tasks.next_approval_runs(
            ti.xcom_pull(task_ids="describe_draft"), ti.xcom_pull(task_ids="make_current")
        )

    @task(outlets=[BUNDLE])
    def push_to_site(**context) -> str | None:
        from airflow.sdk.exceptions import AirflowSkipException

        from orchestration import tasks

        decided = context["ti"].xcom_pull(task_ids="make_current") or {}
        if decided.get("approvals_missing"):
            raise AirflowSkipException(
                f"bản {decided.get('number')} chờ thêm {decided['approvals_missing']} phê duyệt"
            )
        settings = load_settings()
        period = int(context["params"]["period"])
        pushed = tasks.push_bundle(settings, period)
        context["outlet_events"][BUNDLE].extra = tasks.bundle_event_extra(settings, [period])
        return pushed

    from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator

    current = make_current()
    describe_draft() >> decide >> current >> push_to_site()
    current >> record_rejection()
    TriggerDagRunOperator.partial(
        task_id="ask_next_approver", trigger_dag_id="dti_approve"
    ).expand_kwargs(current >> next_approval())


dti_approve()
