"""The approval prompt of one period's draft, as an Airflow operator.

Airflow's ``ApprovalOperator`` returns the person's answer as its result, but on *Reject* it
first skips the tasks downstream, which in Airflow 3 raises (``DownstreamTasksSkipped``):
the result is never pushed, and whoever records the rejection would not know who rejected
and why. So the answer is pushed first, under its own key, whatever it is.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.standard.operators.hitl import ApprovalOperator

DECISION_KEY = "decision"


class DraftApproval(ApprovalOperator):
    """``ApprovalOperator`` that keeps the answer (options, reason, who) for the tasks after it."""

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
