"""The approval prompt of one period's draft, as an Airflow operator.

Airflow's ``ApprovalOperator`` returns the person's answer as its result, but on *Reject* it
first skips the tasks downstream, which in Airflow 3 raises (``DownstreamTasksSkipped``):
the result is never pushed, and whoever records the rejection would not know who rejected
and why. So the answer is pushed first, under its own key, whatever it is.

Who may answer is the council's business (``DTI_APPROVERS``): the prompt is assigned, when it
is parked, to the named approvers who have not approved this draft yet (Airflow's
``assigned_users``; the API server refuses anyone else's answer). It is read from the request
the task before wrote, not from the registry when the DAG file is parsed (no I/O at parse time,
and a key revoked since is not offered the prompt).
"""

from __future__ import annotations

from typing import Any

from airflow.providers.standard.operators.hitl import ApprovalOperator

DECISION_KEY = "decision"


class DraftApproval(ApprovalOperator):
    """``ApprovalOperator`` that keeps the answer (options, reason, who) for the tasks after it,
    and is assigned to the approvers that ``request_task_id``'s result names
    (``approvers``: ``[{"id", "name"}]``; None or absent, or no ``request_task_id``: anyone
    who may act on the DAG)."""

    def __init__(self, *, request_task_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.request_task_id = request_task_id

    def execute(self, context: Any) -> Any:
        request = (
            context["ti"].xcom_pull(task_ids=self.request_task_id) or {}
            if self.request_task_id
            else {}
        )
        approvers = request.get("approvers")
        if approvers:
            self.assigned_users = [{"id": str(a["id"]), "name": str(a["name"])} for a in approvers]
        return super().execute(context)

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        context["ti"].xcom_push(
            key=DECISION_KEY,
            value={
                "chosen_options": event.get("chosen_options"),
                "params_input": event.get("params_input") or {},
                "responded_by_user": event.get("responded_by_user"),
            },
        )
        return super().execute_complete(context, event)
