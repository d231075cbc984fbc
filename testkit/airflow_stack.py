"""A disposable Airflow stack on loopback for the end-to-end tests and the benchmarks.

The stack is the one ``make airflow`` runs (``orchestration.stack``) with short intervals,
its own AIRFLOW_HOME, inbox, warehouse and out folders, a fresh metadata database
``dti_airflow_test_<random>`` and a fresh portal database, both dropped at the end.
"""

from __future__ import annotations

import csv
import io
import json
import os
import secrets
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dti.settings import SEEDS_DIR
from orchestration.stack import (
    ADMIN_USER,
    SERVICES,
    Stack,
    StackConfig,
    drop_database,
    ensure_database,
    metadata_connect,
    prepare,
)

PERIOD = 2023
HEADER = ["period", "unit_code", "indicator_code", "value", "evidence_ref", "stage", "submitted_at"]
NEVER = "0 0 1 1 *"  # the sweep of the first tests: once a year, i.e. not during the test


def seed_rows(name: str) -> list[dict[str, str]]:
    with (SEEDS_DIR / name).open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def unit_answers(unit_code: str, answered: int = 6, period: int = PERIOD) -> list[dict[str, str]]:
    """``answered`` boolean answers 'có' of ``unit_code``'s block in ``period``'s framework
    (self stage, before the deadline)."""
    block = next(u["block"] for u in seed_rows("units.csv") if u["unit_code"] == unit_code)
    (version,) = [
        f["framework_version"]
        for f in seed_rows("frameworks.csv")
        if f["block"] == block and int(f["valid_from"]) <= period <= int(f["valid_to"])
    ]
    indicators = [
        i
        for i in seed_rows("indicators.csv")
        if i["block"] == block
        and i["framework_version"] == version
        and i["method"] == "boolean"
        and not i["applies_to"]
    ][:answered]
    return [
        {
            "period": str(period),
            "unit_code": unit_code,
            "indicator_code": i["indicator_code"],
            "value": "có",
            "evidence_ref": f"e2e/{unit_code}/{i['indicator_code']}",
            "stage": "self",
            "submitted_at": f"{period}-12-01T09:00:00+07:00",
        }
        for i in indicators
    ]


def units_of(block: str) -> list[str]:
    return [u["unit_code"] for u in seed_rows("units.csv") if u["block"] == block]


def drop_submission(inbox: Path, unit_code: str, period: int = PERIOD) -> Path:
    """Writes ``<unit>.csv`` then its ``.ready`` flag, the way senders deliver."""
    inbox.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=HEADER, lineterminator="\n")
    writer.writeheader()
    writer.writerows(unit_answers(unit_code, period=period))
    path = inbox / f"e2e_{unit_code}_{period}.csv"
    path.write_text(buf.getvalue(), encoding="utf-8")
    (inbox / (path.name + ".ready")).write_bytes(b"")
    return path


def results_unit(out: Path, unit_code: str, period: int = PERIOD) -> dict[str, Any] | None:
    path = out / str(period) / "results.json"
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return next((u for u in results.get("units", []) if u.get("unit_code") == unit_code), None)


def wait_for(
    what: str, check: Callable[[], Any], timeout: float, stack: Stack | None = None
) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        if stack is not None and (dead := stack.dead()):
            raise AssertionError(f"airflow {dead} died while waiting for {what}")
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


@dataclass
class E2EStack:
    stack: Stack
    inbox: Path
    warehouse: Path
    out: Path
    portal_dsn: str

    @property
    def cfg(self) -> StackConfig:
        return self.stack.cfg

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        con = metadata_connect(self.cfg)
        try:
            with con.cursor() as cur:
                cur.execute(sql, params)
                return cur.fetchall()
        finally:
            con.close()

    def asset_events(self, asset_name: str) -> list[dict[str, Any]]:
        rows = self.query(
            "select e.id, e.extra, e.source_dag_id, e.source_run_id, e.timestamp "
            "from asset_event e join asset a on a.id = e.asset_id where a.name = %s order by e.id",
            (asset_name,),
        )
        return [
            {"id": r[0], "extra": r[1] if isinstance(r[1], dict) else json.loads(r[1] or "{}"),
             "dag_id": r[2], "run_id": r[3], "timestamp": r[4]}
            for r in rows
        ]  # fmt: skip

    def dag_runs(self, dag_id: str) -> list[dict[str, Any]]:
        rows = self.query(
            "select run_id, run_type, state from dag_run where dag_id = %s order by id", (dag_id,)
        )
        return [{"run_id": r[0], "run_type": r[1], "state": r[2]} for r in rows]

    def failure_notes(self) -> list[dict[str, Any]]:
        folder = self.warehouse.parent / (self.warehouse.stem + "_work") / "airflow_failures"
        return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]

    def wait_idle(self, timeout: float = 180) -> None:
        """Waits until no DAG run is queued or running and no scheduled run is due."""
        wait_for(
            "DAG runs to finish",
            lambda: (
                not self.query(
                    "select 1 from dag_run where state in ('queued', 'running') "
                    "union all select 1 from dag where dag_id like 'dti_%%' "
                    "and next_dagrun_create_after <= now()"
                )
            ),
            timeout,
            self.stack,
        )

    def restart(self, *services: str, **env: str) -> None:
        """Restarts ``services`` with extra environment (e.g. another ``DTI_SWEEP_CRON``)."""
        self.stack.stop(*services)
        self.cfg.extra_env.update(env)
        self.stack.start(*services)


def create_portal_table(dsn_db: str, cfg: StackConfig) -> None:
    import psycopg2

    con = psycopg2.connect(host=cfg.pg_host, port=cfg.pg_port, user=cfg.pg_user, dbname=dsn_db)
    con.autocommit = True
    try:
        with con.cursor() as cur:
            cur.execute(
                "create table portal_submissions (id text primary key, "
                "updated_at timestamptz not null default now(), period integer, "
                "unit_code text, indicator_code text, value text, evidence_ref text, "
                "stage text, submitted_at timestamptz)"
            )
    finally:
        con.close()


def insert_portal_answers(e2e: E2EStack, unit_code: str) -> int:
    import psycopg2

    rows = unit_answers(unit_code)
    con = psycopg2.connect(e2e.portal_dsn)
    try:
        with con, con.cursor() as cur:
            for n, row in enumerate(rows):
                cur.execute(
                    "insert into portal_submissions (id, period, unit_code, indicator_code, "
                    "value, evidence_ref, stage, submitted_at) values (%s,%s,%s,%s,%s,%s,%s,%s)",
                    (f"e2e-{unit_code}-{n}", *(row[k] for k in HEADER)),
                )
    finally:
        con.close()
    return len(rows)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_stack(
    base: Path,
    api_port: int,
    sweep_cron: str = NEVER,
    env: dict[str, str] | None = None,
    healthy_timeout: float = 600,
    **stack_options: Any,
) -> Iterator[E2EStack]:
    """``stack_options``: more ``StackConfig`` fields (``executor``, ``celery_broker_url`` …).
    ``healthy_timeout``: seconds the services may take to start (the scheduler's forkserver
    imports GX and dbt first: minutes on a machine that other work keeps busy)."""
    suffix = secrets.token_hex(4)
    inbox, warehouse, out = base / "inbox", base / "warehouse" / "warehouse.duckdb", base / "out"
    inbox.mkdir(parents=True)
    # the scheduler serves task logs on a port of its own: Airflow's 8793 may be another
    # stack's on a shared machine, and then this one never reports healthy
    stack_options.setdefault("worker_log_port", _free_port())
    # the development auth manager (one admin who answers every prompt) unless a scenario
    # asks for real logins (``auth_manager="fab"``: the admin and the named approvers)
    stack_options.setdefault("auth_manager", "simple")
    cfg = StackConfig(
        home=base / "airflow_home",
        database=f"dti_airflow_test_{suffix}",
        api_port=api_port,
        fast=True,
        isolated=True,
        **stack_options,
    )
    portal_db = f"dti_portal_test_{suffix}"
    portal_dsn = f"host={cfg.pg_host} port={cfg.pg_port} user={cfg.pg_user} dbname={portal_db}"
    cfg.dti_env = {
        "DTI_INBOX": str(inbox),
        "DTI_WAREHOUSE": str(warehouse),
        "DTI_OUT": str(out),
        "DTI_PORTAL_DB_DSN": portal_dsn,
        "DTI_REDIS_CHANNEL": f"dti.e2e.{suffix}",
        "DTI_PUBLISH_URL": "",
    }
    cfg.extra_env = {
        "DTI_SWEEP_CRON": sweep_cron,
        "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": "10",
        **(env or {}),
    }
    stack = Stack(cfg)
    portal_cfg = StackConfig(home=cfg.home, database=portal_db)
    try:
        ensure_database(portal_cfg)
        create_portal_table(portal_db, cfg)
        prepare(cfg)
        services = SERVICES + (("celery-worker",) if cfg.executor == "CeleryExecutor" else ())
        stack.start(*services)
        stack.wait_healthy(timeout=healthy_timeout)
        e2e = E2EStack(stack, inbox, warehouse, out, portal_dsn)
        # Every DAG parsed and its watchers running before anything is dropped.
        wait_for(
            "the six DTI DAGs",
            lambda: (
                len(
                    e2e.query(
                        "select dag_id from dag where dag_id like 'dti_%%' and not is_paused "
                        "and not is_stale"
                    )
                )
                == 6
            ),
            max(120, healthy_timeout),
            stack,
        )
        wait_for(
            "both watchers running in the triggerer",
            lambda: (
                e2e.query("select count(*) from trigger where triggerer_id is not null")[0][0] >= 2
            ),
            max(120, healthy_timeout),
            stack,
        )
        time.sleep(2)  # the Redis watcher subscribes right after it starts
        e2e.wait_idle(timeout=max(180, healthy_timeout))
        yield e2e
    finally:
        stack.stop()
        for name in (cfg, portal_cfg):
            try:
                drop_database(name)
            except Exception:  # the teardown must not hide the test's own failure
                pass


def redis_publish(channel: str, message: dict[str, Any]) -> int:
    import redis

    client = redis.Redis(host="127.0.0.1", port=6379)
    try:
        return int(client.publish(channel, json.dumps(message)))
    finally:
        client.close()


class FakeSite:
    """The product's stand-in DTI site (``dti site serve``) on loopback, recording requests."""

    TOKEN = "e2e-token"

    def __init__(self) -> None:
        import tempfile

        from publish.site_server import SiteHandler, SiteServer

        requests: list[tuple[str, str]] = []

        class Recording(SiteHandler):
            def before_request(self, method: str) -> bool:
                requests.append((method, self.path))
                return True

        class Server(SiteServer):
            handler = Recording

        self.requests = requests
        self.root = Path(tempfile.mkdtemp(prefix="dti-e2e-site-"))
        self._server = Server(self.root, self.TOKEN).__enter__()
        self.url = self._server.url

    def close(self) -> None:
        self._server.__exit__(None, None, None)


def api_token(cfg: StackConfig, user: str = ADMIN_USER) -> str:
    """A JWT of ``user``: the administrator, or a named approver (FAB stacks)."""
    password = cfg.admin_password() if user == ADMIN_USER else cfg.approver_password(user)
    request = urllib.request.Request(
        f"{cfg.api_url}/auth/token",
        data=json.dumps({"username": user, "password": password}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)["access_token"]


def answer_approval(
    cfg: StackConfig,
    run_id: str,
    option: str = "Approve",
    reason: str = "",
    user: str = ADMIN_USER,
) -> int:
    """What a person does in the UI's Required actions: answers one ``dti_approve`` run's
    ``approve_release``, with the reason field filled in, logged in as ``user``. The HTTP
    status: 200, or 403 for a user the prompt is not assigned to."""
    run = urllib.parse.quote(run_id, safe="")
    request = urllib.request.Request(
        f"{cfg.api_url}/api/v2/dags/dti_approve/dagRuns/{run}/taskInstances/"
        "approve_release/-1/hitlDetails",
        data=json.dumps({"chosen_options": [option], "params_input": {"reason": reason}}).encode(),
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Bearer {api_token(cfg, user)}",
        },
        method="PATCH",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        if exc.code == 403:
            return 403
        raise


def approval_details(cfg: StackConfig, run_id: str) -> dict[str, Any]:
    """What the UI's Required actions shows for a ``dti_approve`` run: subject, body…"""
    run = urllib.parse.quote(run_id, safe="")
    request = urllib.request.Request(
        f"{cfg.api_url}/api/v2/dags/dti_approve/dagRuns/{run}/taskInstances/"
        "approve_release/-1/hitlDetails",
        headers={"Authorization": f"Bearer {api_token(cfg)}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def _api(cfg: StackConfig, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{cfg.api_url}/api/v2/{path}",
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {api_token(cfg)}"},
        method="GET" if body is None else "POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def create_backfill(cfg: StackConfig, dag_id: str, from_date: str, to_date: str) -> dict[str, Any]:
    """What ``airflow backfill create --dag-id … --from-date … --to-date …`` asks the API."""
    return _api(cfg, "backfills", {"dag_id": dag_id, "from_date": from_date, "to_date": to_date})


def backfill(cfg: StackConfig, backfill_id: int) -> dict[str, Any]:
    return _api(cfg, f"backfills/{backfill_id}")


def airflow_cli_env(cfg: StackConfig, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a person's second terminal next to this stack: only the settings
    `make airflow` was started with (AIRFLOW_HOME, DTI_AIRFLOW_DB, DTI_AIRFLOW_PORT, PG*), none
    of the stack's own AIRFLOW__* variables: `make airflow-cli` must find the rest itself."""
    env = {
        k: v
        for k, v in (os.environ if base is None else base).items()
        if not k.startswith(("AIRFLOW", "DTI_"))
    }
    env.update(
        {
            "AIRFLOW_HOME": str(cfg.home),
            "DTI_AIRFLOW_DB": cfg.database,
            "DTI_AIRFLOW_PORT": str(cfg.api_port),
            "PGHOST": cfg.pg_host,
            "PGPORT": str(cfg.pg_port),
            "PGUSER": cfg.pg_user,
        }
    )
    return env
