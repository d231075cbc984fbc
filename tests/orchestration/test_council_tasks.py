"""The council in Airflow's terms: whom a prompt is assigned to, who answered, the next prompt
while a draft is short of its quorum (orchestration/approval.py, orchestration/tasks.py)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from orchestration import tasks
from orchestration.approval import DraftApproval

REQUEST = {"period": 2023, "number": 2, "bundle_sha256": "ab" * 32}


def test_the_prompt_is_assigned_to_the_approvers_the_request_names(monkeypatch) -> None:
    parked: dict[str, Any] = {}

    def park(self, context):
        parked["assigned"] = self.assigned_users

    monkeypatch.setattr("airflow.providers.standard.operators.hitl.HITLOperator.execute", park)
    operator = DraftApproval(
        task_id="approve_release", subject="s", request_task_id="describe_draft"
    )

    class TI:
        def __init__(self, request):
            self.request = request

        def xcom_pull(self, task_ids):
            assert task_ids == "describe_draft"
            return self.request

    owed = [{"id": "binh", "name": "Trần Thị Bình"}, {"id": "chi", "name": "Lê Minh Chi"}]
    operator.execute({"ti": TI({**REQUEST, "approvers": owed})})
    assert parked["assigned"] == owed
    # no council: nobody in particular (anyone who may act on the DAG)
    fresh = DraftApproval(task_id="approve_release", subject="s", request_task_id="describe_draft")
    fresh.execute({"ti": TI({**REQUEST, "approvers": None})})
    assert parked["assigned"] is None


def test_a_draft_short_of_its_quorum_asks_the_next_approver_once() -> None:
    waiting = {"approvals_missing": 1, "approved_by_ids": ["an"]}
    (run,) = tasks.next_approval_runs(REQUEST, waiting)
    assert run["trigger_run_id"] == f"approve__2023__2__{'ab' * 6}__2"
    assert run["conf"] == {"period": 2023, "release": 2, "bundle_sha256": "ab" * 32}
    assert tasks.next_approval_runs(REQUEST, {"approvals_missing": 0}) == []
    assert tasks.next_approval_runs(REQUEST, None) == []  # rejected: make_current skipped


def test_with_a_council_the_decider_is_the_login(settings, tmp_path: Path) -> None:
    registry = tmp_path / "approvers.csv"
    registry.write_text(
        "approver_id,full_name,public_key,valid_from,revoked_at\nan,Nguyễn Văn An,,,\n",
        encoding="utf-8",
    )
    decision = {"responded_by_user": {"id": "7", "name": "an"}}  # FAB: id is a row number
    assert tasks._decider(dataclasses.replace(settings, approvers=registry), decision) == "an"
    assert tasks._decider(settings, decision) == "an (7)"  # no council: as before
