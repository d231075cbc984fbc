"""The auth manager of the DTI stacks: Flask AppBuilder's (real users, passwords, roles; the one
Airflow's own docker-compose uses), with one change for the council's prompts.

An approval prompt is assigned to the named approvers by their login (``approver_id`` of
``DTI_APPROVERS``, the FAB user's ``username``), because that is the name the registry, the
manifest and a person know. FAB's ``get_id`` is the row number of the user in the metadata
database, which Airflow compares by default; a number no one chose would have to be looked up
from each task. So a prompt's assignee is matched on the username, and only on it.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.fab.auth_manager.fab_auth_manager import FabAuthManager


class CouncilAuthManager(FabAuthManager):
    def is_authorized_hitl_task(self, *, assigned_users: set[str], user: Any) -> bool:
        return bool(getattr(user, "username", None)) and user.username in assigned_users
