"""The logins of a DTI Airflow stack (FAB auth manager): the administrator and one user per
named approver of the council (``DTI_APPROVERS``), created or brought up to date in one
process (``python -m orchestration.logins`` reads them as JSON on standard input).

Approvers get FAB's ``User`` role: they see the DAGs and answer the prompts assigned to them
(Required actions), nothing more. Their passwords are the stack's to keep (AIRFLOW_HOME, or the
compose file's secrets); the registry holds no password, only names and public keys.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

ADMIN_ROLE, APPROVER_ROLE = "Admin", "User"


def login_of(user_id: str, full_name: str, role: str, password: str) -> dict[str, str]:
    """One login: FAB wants a first and a last name (a Vietnamese name's family name first)."""
    parts = full_name.split()
    first, last = (parts[-1], " ".join(parts[:-1])) if len(parts) > 1 else (full_name, "-")
    return {
        "username": user_id,
        "firstname": first or user_id,
        "lastname": last or "-",
        "email": f"{user_id}@dti.invalid",
        "role": role,
        "password": password,
    }


def sync(logins: Iterable[Mapping[str, Any]]) -> list[str]:
    """Creates each login, or sets the role and password of one that exists; returns what it
    did, one line per login (no password in it)."""
    from airflow.providers.fab.auth_manager.cli_commands.utils import get_application_builder

    done = []
    with get_application_builder() as appbuilder:
        sm = appbuilder.sm
        for login in logins:
            role = sm.find_role(login["role"])
            if role is None:
                raise SystemExit(f"no role {login['role']!r} in FAB")
            user = sm.find_user(username=login["username"])
            if user is None:
                created = sm.add_user(
                    login["username"], login["firstname"], login["lastname"], login["email"],
                    role, login["password"],
                )  # fmt: skip
                if not created:
                    raise SystemExit(f"cannot create the login {login['username']!r}")
                done.append(f"created {login['username']} ({login['role']})")
            else:
                user.roles = [role]
                user.first_name, user.last_name = login["firstname"], login["lastname"]
                sm.update_user(user)
                sm.reset_password(user.id, login["password"])
                done.append(f"updated {login['username']} ({login['role']})")
    return done


def from_settings(admin_password: str, passwords: Path) -> list[dict[str, str]]:
    """The logins of a stack whose secrets are files (docker-compose.yml): the administrator
    with ``admin_password``, each approver of ``DTI_APPROVERS`` with ``passwords/<approver_id>``
    (one line, written by the operator; a missing one is refused with its path)."""
    from dti.settings import load_settings
    from pipeline import jobs

    council = jobs.council(load_settings())
    if not council.named:
        raise SystemExit("DTI_APPROVERS is not set: the stack's approvers are its named council")
    logins = [login_of("admin", "Quản trị DTI", ADMIN_ROLE, admin_password)]
    for approver in council.approvers.values():
        path = passwords / approver.approver_id
        try:
            password = path.read_text(encoding="utf-8").strip()
        except OSError:
            password = ""
        if len(password) < 8:
            raise SystemExit(
                f"{path}: the password of {approver.label()} is missing or shorter than 8 "
                "characters; write it there (one line) and start again"
            )
        logins.append(login_of(approver.approver_id, approver.full_name, APPROVER_ROLE, password))
    return logins


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m orchestration.logins")
    parser.add_argument(
        "--passwords",
        type=Path,
        default=None,
        help="folder of the approvers' passwords (<approver_id>, one line each); the logins "
        "come from DTI_APPROVERS and $AIRFLOW_ADMIN_PASSWORD (default: JSON on standard input)",
    )
    args = parser.parse_args(argv)
    if args.passwords is None:
        logins = json.load(sys.stdin)
    else:
        admin = os.environ.get("AIRFLOW_ADMIN_PASSWORD", "")
        if not admin:
            raise SystemExit("AIRFLOW_ADMIN_PASSWORD is not set")
        logins = from_settings(admin, args.passwords)
    for line in sync(logins):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
