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


def test_the_local_stack_logs_in_the_admin_and_each_approver_with_fab(tmp_path: Path) -> None:
    from orchestration.stack import AUTH_MANAGERS, StackConfig

    registry = tmp_path / "approvers.csv"
    registry.write_text(
        "approver_id,full_name,public_key,valid_from,revoked_at\n"
        "an,Nguyễn Văn An,,,\nbinh,Trần Thị Bình,,,\n",
        encoding="utf-8",
    )
    cfg = StackConfig(
        home=tmp_path / "home", isolated=True, dti_env={"DTI_APPROVERS": str(registry)}
    )
    env = cfg.env()
    assert env["AIRFLOW__CORE__AUTH_MANAGER"] == AUTH_MANAGERS["fab"]
    assert not any(k.startswith("AIRFLOW__CORE__SIMPLE_AUTH") for k in env)
    logins = cfg.logins()
    assert [(x["username"], x["role"]) for x in logins] == [
        ("admin", "Admin"), ("an", "User"), ("binh", "User")
    ]  # fmt: skip
    assert logins[2]["firstname"] == "Bình" and logins[2]["lastname"] == "Trần Thị"
    # a password per approver, kept in AIRFLOW_HOME (readable by its owner only)
    assert logins[1]["password"] == cfg.approver_password("an") != logins[2]["password"]
    assert (cfg.home / ".password_an").stat().st_mode & 0o777 == 0o600
    simple = StackConfig(home=tmp_path / "home", isolated=True, auth_manager="simple").env()
    assert simple["AIRFLOW__CORE__AUTH_MANAGER"] == AUTH_MANAGERS["simple"]
    assert simple["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] == "admin:admin"
