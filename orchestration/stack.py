"""Runs the Airflow services of the DTI pipeline on loopback, without Docker.

``make airflow`` (scripts/airflow_local.sh) and the end-to-end tests start the same stack: the
API server (UI + execution API), scheduler (LocalExecutor), DAG processor and triggerer,
against a PostgreSQL metadata database, with the ``dti_duckdb`` pool and the Redis connection
the portal watcher uses. ``python -m orchestration.stack up`` runs it in the foreground.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dti.settings import PROJECT_ROOT, load_orchestration_settings
from orchestration.config import DUCKDB_POOL, REDIS_CONN_ID

log = logging.getLogger(__name__)

SERVICES = ("api-server", "scheduler", "dag-processor", "triggerer")
# the command line of a service whose name is not its airflow subcommand
COMMANDS = {"celery-worker": ("celery", "worker")}
PRELOAD_MODULES = (
    "airflow",
    "airflow.executors.local_executor",
    "airflow.sdk.execution_time.supervisor",
    "great_expectations",
    "dbt.cli.main",
    "dbt.adapters.duckdb",
    "expectations.gate",
    # the gate imports the suites (GX's expectation classes) only when it must validate
    "expectations.suites",
    "publish.bundle",
    "ingest",
)
ADMIN_USER = "admin"
AUTH_MANAGERS = {
    "fab": "orchestration.auth.CouncilAuthManager",
    "simple": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
}


@dataclass
class StackConfig:
    home: Path
    database: str = "dti_airflow"
    pg_host: str = "127.0.0.1"
    pg_port: int = 5432
    pg_user: str = "postgres"
    pg_password: str | None = None
    api_port: int = 8080
    redis_url: str = "redis://127.0.0.1:6379/0"
    dags_folder: Path = PROJECT_ROOT / "dags"
    # DTI_* variables (inbox, warehouse, out, ...) handed to every service and task.
    dti_env: dict[str, str] = field(default_factory=dict)
    # Short intervals: the tests and the latency benchmark want events seen within seconds.
    fast: bool = False
    extra_env: dict[str, str] = field(default_factory=dict)
    # For disposable stacks: no AIRFLOW* or DTI_* variable of the calling shell or test
    # process reaches the services under test (only dti_env and extra_env do).
    isolated: bool = False
    # LocalExecutor (tasks run beside the scheduler) or CeleryExecutor (tasks go through the
    # Redis broker to `airflow celery worker` processes, here or on other machines).
    executor: str = "LocalExecutor"
    celery_broker_url: str | None = None  # default: Redis database 1 of redis_url's server
    worker_log_port: int = 8793  # where a Celery worker serves its task logs to the UI
    # "fab": real users with passwords and roles (the administrator, and one login per named
    # approver of DTI_APPROVERS), as in Airflow's own docker-compose; "simple": Airflow's
    # development auth manager, one admin (the tests' stacks, which answer prompts as admin)
    auth_manager: str = "fab"

    @property
    def sql_alchemy_conn(self) -> str:
        auth = self.pg_user + (f":{self.pg_password}" if self.pg_password else "")
        return f"postgresql+psycopg2://{auth}@{self.pg_host}:{self.pg_port}/{self.database}"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def _secret(self, name: str) -> str:
        """A secret kept in AIRFLOW_HOME so restarts keep sessions and tokens valid."""
        path = self.home / f".{name}"
        if not path.exists():
            self.home.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(32))
            path.chmod(0o600)
        return path.read_text().strip()

    def fernet_key(self) -> str:
        path = self.home / ".fernet_key"
        if not path.exists():
            from cryptography.fernet import Fernet

            self.home.mkdir(parents=True, exist_ok=True)
            path.write_text(Fernet.generate_key().decode())
            path.chmod(0o600)
        return path.read_text().strip()

    def admin_password(self) -> str:
        return self._secret("admin_password")

    def approver_password(self, approver_id: str) -> str:
        return self._secret(f"password_{approver_id}")

    def _auth_env(self) -> dict[str, str]:
        if self.auth_manager == "fab":
            return {"AIRFLOW__CORE__AUTH_MANAGER": AUTH_MANAGERS["fab"]}
        if self.auth_manager != "simple":
            raise ValueError(f"auth_manager {self.auth_manager!r}: expected fab or simple")
        return {
            "AIRFLOW__CORE__AUTH_MANAGER": AUTH_MANAGERS["simple"],
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(
                self.home / "simple_auth_manager_passwords.json"
            ),
        }

    def logins(self) -> list[dict[str, str]]:
        """The administrator and one login per named approver (FAB): ``approver_id`` is the
        username the approval prompts are assigned to."""
        from dti.settings import load_settings
        from orchestration.logins import ADMIN_ROLE, APPROVER_ROLE, login_of
        from pipeline import jobs

        logins = [login_of(ADMIN_USER, "Quản trị DTI", ADMIN_ROLE, self.admin_password())]
        council = jobs.council(load_settings(self.env()))
        for approver in council.approvers.values():
            logins.append(
                login_of(
                    approver.approver_id, approver.full_name, APPROVER_ROLE,
                    self.approver_password(approver.approver_id),
                )
            )  # fmt: skip
        return logins

    def env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        env = dict(os.environ if base is None else base)
        if self.isolated:
            env = {k: v for k, v in env.items() if not k.startswith(("AIRFLOW", "DTI_"))}
        # Keep the tree importable in every task and trigger (the package is installed -e too).
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH", "")) if p
        )
        env.update(
            {
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.sql_alchemy_conn,
                "AIRFLOW__CORE__EXECUTOR": self.executor,
                "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
                "AIRFLOW__CORE__PARALLELISM": "4",
                # One key for every service: trigger kwargs and connections are encrypted.
                "AIRFLOW__CORE__FERNET_KEY": self.fernet_key(),
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.api_url}/execution/",
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__API__PORT": str(self.api_port),
                "AIRFLOW__API__BASE_URL": self.api_url,
                "AIRFLOW__API__WORKERS": "1",
                "AIRFLOW__API__SECRET_KEY": self._secret("api_secret_key"),
                "AIRFLOW__API_AUTH__JWT_SECRET": self._secret("jwt_secret"),
                "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
                # LocalExecutor workers fork from a server that has already imported Great
                # Expectations and dbt (~30 s of imports on a small machine); every task forks
                # from a worker, so a gate or dbt task starts in a second instead.
                "AIRFLOW__SCHEDULER__MP_START_METHOD": "forkserver",
                "AIRFLOW__CORE__MP_FORKSERVER_PRELOAD": ",".join(PRELOAD_MODULES),
                "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.home / "logs"),
                # A task whose process died keeps the one dti_duckdb slot until a scheduler
                # declares it dead, every warehouse task of every DAG waiting behind it. Its
                # supervisor heartbeats every few seconds, so a minute of silence is a death,
                # not a busy machine (300 s by default). A task queued by a scheduler that was
                # killed is not this check's: the new scheduler resets it as an orphan, on its
                # orphan check (every 300 s by default) once the old one missed its health
                # threshold (30 s); the deadline rush measured those five minutes.
                "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "60",
                "AIRFLOW__SCHEDULER__ORPHANED_TASKS_CHECK_INTERVAL": "30",
                f"AIRFLOW_CONN_{REDIS_CONN_ID.upper()}": self.redis_url,
                # No usage statistics from the gate (and no analytics thread in forked workers).
                "GX_ANALYTICS_ENABLED": "False",
            }
        )
        env.update(self._auth_env())
        if self.executor == "CeleryExecutor":
            env.update(
                {
                    "AIRFLOW__CELERY__BROKER_URL": self.celery_broker_url
                    or self.redis_url.rsplit("/", 1)[0] + "/1",
                    # task states through the metadata database (celery_taskmeta)
                    "AIRFLOW__CELERY__RESULT_BACKEND": "db+"
                    + self.sql_alchemy_conn.replace("postgresql+psycopg2", "postgresql"),
                    "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2",
                    "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(self.worker_log_port),
                }
            )
        if self.fast:
            env.update(
                {
                    "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5",
                    "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
                    "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "30",
                    "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
                    "AIRFLOW__SCHEDULER__JOB_HEARTBEAT_SEC": "2",
                    "DTI_INBOX_POLL_SECONDS": "0.5",
                    "DTI_REDIS_POLL_SECONDS": "0.2",
                    "DTI_RETRY_DELAY_SECONDS": "5",
                }
            )
        env.update(self.dti_env)
        env.update(self.extra_env)
        # OpenLineage events of every task: a file beside the warehouse, or DTI_OPENLINEAGE_URL
        from dti.settings import load_settings
        from orchestration.lineage import lineage_env

        for key, value in lineage_env(load_settings(env), load_orchestration_settings(env)).items():
            env.setdefault(key, value)
        return env


# --- the metadata database ------------------------------------------------------------------


def _admin_connect(cfg: StackConfig):
    import psycopg2

    con = psycopg2.connect(
        host=cfg.pg_host,
        port=cfg.pg_port,
        user=cfg.pg_user,
        password=cfg.pg_password,
        dbname="postgres",
    )
    con.autocommit = True
    return con


def ensure_database(cfg: StackConfig) -> bool:
    """Creates the metadata database when missing; returns whether it was created."""
    con = _admin_connect(cfg)
    try:
        with con.cursor() as cur:
            cur.execute("select 1 from pg_database where datname = %s", (cfg.database,))
            if cur.fetchone():
                return False
            cur.execute(f'create database "{cfg.database}"')
            log.info("created metadata database %s", cfg.database)
            return True
    finally:
        con.close()


def drop_database(cfg: StackConfig) -> None:
    con = _admin_connect(cfg)
    try:
        with con.cursor() as cur:
            cur.execute(f'drop database if exists "{cfg.database}" with (force)')
    finally:
        con.close()


def metadata_connect(cfg: StackConfig):
    """A psycopg2 connection to the metadata database (tests read DAG runs and asset events)."""
    import psycopg2

    con = psycopg2.connect(
        host=cfg.pg_host,
        port=cfg.pg_port,
        user=cfg.pg_user,
        password=cfg.pg_password,
        dbname=cfg.database,
    )
    con.autocommit = True
    return con


# --- checks before anything starts -----------------------------------------------------------


def port_taken(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something already listens on ``host:port`` (a socket in TIME_WAIT does not count)."""
    import socket

    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def live_airflow_jobs(cfg: StackConfig) -> list[str]:
    """Airflow services that heartbeat into the metadata database right now (``job`` table)."""
    import psycopg2

    try:
        con = metadata_connect(cfg)
    except psycopg2.OperationalError:
        return []  # no such database yet: nobody uses it
    try:
        with con.cursor() as cur:
            cur.execute("select to_regclass('public.job') is not null")
            if cur.fetchone()[0]:
                cur.execute(
                    "select job_type, hostname from job where state = 'running' "
                    "and latest_heartbeat > now() - interval '90 seconds' order by job_type"
                )
                if jobs := [f"{job_type} on {host}" for job_type, host in cur.fetchall()]:
                    return jobs
            # A stack still migrating or starting has no heartbeat yet, but its connections.
            cur.execute(
                "select count(*) from pg_stat_activity "
                "where datname = current_database() and pid <> pg_backend_pid()"
            )
            connections = cur.fetchone()[0]
            return [f"{connections} open connection(s), a stack starting?"] if connections else []
    finally:
        con.close()


def preflight(cfg: StackConfig) -> str | None:
    """The one line that says why the stack cannot start here, before anything is started."""
    if port_taken(cfg.api_port):
        return (
            f"port {cfg.api_port} on 127.0.0.1 is already taken (another Airflow or server); "
            "stop it or choose another port with DTI_AIRFLOW_PORT=<port>"
        )
    import psycopg2

    try:
        _admin_connect(cfg).close()
    except psycopg2.OperationalError as exc:
        reason = " ".join(str(exc).split())
        return (
            f"PostgreSQL at {cfg.pg_host}:{cfg.pg_port} cannot be reached ({reason}); "
            "run make services or set PGHOST/PGPORT"
        )
    if jobs := live_airflow_jobs(cfg):
        return (
            f"metadata database {cfg.database} is in use by a running Airflow "
            f"({', '.join(jobs)}); stop that stack or choose another database with "
            "DTI_AIRFLOW_DB=<name>"
        )
    return None


def _airflow_bin() -> str:
    candidate = Path(sys.executable).with_name("airflow")
    return str(candidate) if candidate.exists() else "airflow"


def airflow_cli(cfg: StackConfig, *args: str, timeout: float = 600) -> str:
    result = subprocess.run(
        [_airflow_bin(), *args],
        env=cfg.env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=str(PROJECT_ROOT),
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"airflow {' '.join(args)} failed ({result.returncode}):\n"
            f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    return result.stdout


def prepare(cfg: StackConfig) -> None:
    """Database, schema migrations, login and the single-writer DuckDB pool."""
    cfg.home.mkdir(parents=True, exist_ok=True)
    ensure_database(cfg)
    if cfg.auth_manager == "simple":
        passwords = cfg.home / "simple_auth_manager_passwords.json"
        passwords.write_text(json.dumps({ADMIN_USER: cfg.admin_password()}) + "\n")
        passwords.chmod(0o600)
    airflow_cli(cfg, "db", "migrate")  # FAB's tables too (its DB manager)
    airflow_cli(
        cfg, "pools", "set", DUCKDB_POOL, "1", "DuckDB has one writer: one warehouse task at a time"
    )
    if cfg.auth_manager == "fab":
        sync_logins(cfg)


def sync_logins(cfg: StackConfig) -> str:
    """Creates or updates the FAB logins (``StackConfig.logins``) in one process."""
    result = subprocess.run(
        [sys.executable, "-m", "orchestration.logins"],
        input=json.dumps(cfg.logins()),
        env=cfg.env(),
        capture_output=True,
        text=True,
        timeout=600,
        cwd=str(PROJECT_ROOT),
    )
    if result.returncode != 0:
        raise RuntimeError(f"creating the Airflow logins failed:\n{result.stderr[-3000:]}")
    log.info("Airflow logins: %s", "; ".join(result.stdout.split("\n")).strip("; "))
    return result.stdout


# --- the services ---------------------------------------------------------------------------


@dataclass
class Stack:
    cfg: StackConfig
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    def log_path(self, service: str) -> Path:
        return self.cfg.home / "logs" / f"{service}.log"

    def start(self, *services: str) -> None:
        (self.cfg.home / "logs").mkdir(parents=True, exist_ok=True)
        env = self.cfg.env()
        for service in services or SERVICES:
            if service in self.processes and self.processes[service].poll() is None:
                continue
            out = self.log_path(service).open("ab")
            # Own session: stopping the service stops its children (workers, trigger runner).
            self.processes[service] = subprocess.Popen(
                [_airflow_bin(), *COMMANDS.get(service, (service,))],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=str(PROJECT_ROOT),
                start_new_session=True,
            )
            out.close()
            log.info("started airflow %s (pid %s)", service, self.processes[service].pid)

    def stop(self, *services: str, timeout: float = 20) -> None:
        names = [s for s in (services or list(self.processes)) if s in self.processes]
        for name in names:
            proc = self.processes[name]
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + timeout
        for name in names:
            proc = self.processes.pop(name)
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            try:  # whatever is left of the group (children outlive a SIGTERMed parent)
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()

    def dead(self) -> list[str]:
        return [name for name, proc in self.processes.items() if proc.poll() is not None]

    def health(self) -> dict:
        with urllib.request.urlopen(f"{self.cfg.api_url}/api/v2/monitor/health", timeout=5) as r:
            return json.load(r)

    def wait_healthy(self, timeout: float = 180) -> dict:
        """Waits until the API server answers and every started component reports healthy."""
        wanted = {
            "scheduler": "scheduler",
            "dag-processor": "dag_processor",
            "triggerer": "triggerer",
        }
        deadline = time.monotonic() + timeout
        last: dict | str = "no answer"
        while time.monotonic() < deadline:
            if dead := self.dead():
                raise RuntimeError(f"airflow {', '.join(dead)} exited; see {self.cfg.home}/logs")
            try:
                last = self.health()
            except (urllib.error.URLError, OSError, ValueError) as exc:
                last = str(exc)
            else:
                pending = [
                    key
                    for service, key in wanted.items()
                    if service in self.processes
                    and (last.get(key) or {}).get("status") != "healthy"
                ]
                if not pending:
                    return last
            time.sleep(1)
        raise TimeoutError(f"Airflow not healthy after {timeout:.0f}s: {last}")


def _dti_env_from(environ: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in environ.items() if k.startswith("DTI_")}


def local_config(
    home: Path | str | None = None,
    database: str | None = None,
    port: int | None = None,
    redis_url: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> StackConfig:
    """The configuration of `make airflow`'s stack from the environment it was started in
    (AIRFLOW_HOME, DTI_AIRFLOW_DB, DTI_AIRFLOW_PORT, DTI_REDIS_URL, PG*). `make airflow-cli`
    builds the same one in a second terminal, so an `airflow` command there reaches the
    stack's own metadata database with the stack's keys (they live in AIRFLOW_HOME)."""
    environ = os.environ if environ is None else environ
    orchestration = load_orchestration_settings(environ)
    home = Path(home or environ.get("AIRFLOW_HOME") or "")
    if str(home) in ("", "."):
        home = PROJECT_ROOT / "airflow_home"
    return StackConfig(
        home=home.resolve(),
        database=database or orchestration.metadata_database,
        pg_host=environ.get("PGHOST", "127.0.0.1"),
        pg_port=int(environ.get("PGPORT", 5432)),
        pg_user=environ.get("PGUSER", "postgres"),
        pg_password=environ.get("PGPASSWORD") or None,
        api_port=port or orchestration.airflow_port,
        redis_url=redis_url or orchestration.redis_url,
        dti_env=_dti_env_from(environ),
    )


def run_cli(cfg: StackConfig, args: list[str]) -> int:
    """`make airflow-cli ARGS="…"`: ``airflow ARGS`` with the stack's environment, in the
    foreground (its output is the person's). A stack that was never prepared is said so
    instead of Airflow's hint to migrate, which would create the database outside the stack."""
    import psycopg2

    try:
        con = metadata_connect(cfg)
    except psycopg2.OperationalError:
        print(
            f"make airflow-cli: the metadata database {cfg.database} of the stack is not there "
            f"(PostgreSQL {cfg.pg_host}:{cfg.pg_port}); start the stack with make airflow "
            "first (same AIRFLOW_HOME, DTI_AIRFLOW_DB and PG* settings)",
            file=sys.stderr,
        )
        return 1
    con.close()
    if not args:
        args = ["--help"]
    return subprocess.run([_airflow_bin(), *args], env=cfg.env(), cwd=str(PROJECT_ROOT)).returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m orchestration.stack")
    parser.add_argument(
        "command", choices=["up", "cli"],
        help="up: prepare and run every service; cli: run `airflow ARGS…` against that stack",
    )  # fmt: skip
    parser.add_argument("--home", type=Path, default=None)
    parser.add_argument("--database", default=None)
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--redis-url", default=None)
    argv = list(sys.argv[1:] if argv is None else argv)
    # `cli [--home H …] -- ARGS…`, or `cli ARGS…`: what follows is airflow's, never parsed here
    if "--" in argv:
        argv, command = argv[: argv.index("--")], argv[argv.index("--") + 1 :]
    elif argv[:1] == ["cli"]:
        argv, command = argv[:1], argv[1:]
    else:
        command = []
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

    # Relative DTI_* paths mean the same to the services (run from the repository root) and here.
    os.chdir(PROJECT_ROOT)
    cfg = local_config(args.home, args.database, args.port, args.redis_url)
    if args.command == "cli":
        return run_cli(cfg, command)
    if problem := preflight(cfg):
        print(f"make airflow: {problem}", file=sys.stderr)
        return 1
    log.info("preparing metadata database %s and AIRFLOW_HOME %s", cfg.database, cfg.home)
    prepare(cfg)
    stack = Stack(cfg)
    stopping = False

    def _stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    stack.start()
    try:
        stack.wait_healthy()
        from dti.settings import load_settings

        paths = load_settings()
        approvers = "".join(
            f"  approver:  {login['username']} / {login['password']}\n"
            for login in cfg.logins()[1:]
        )
        print(
            "\nAirflow is up.\n"
            f"  UI:        {cfg.api_url}\n"
            f"  login:     {ADMIN_USER} / {cfg.admin_password()}\n"
            f"{approvers}"
            f"  inbox:     {paths.inbox}\n"
            f"  warehouse: {paths.warehouse}\n"
            f"  out:       {paths.out}\n"
            f"  logs:      {cfg.home / 'logs'}\n"
            "Press Ctrl-C to stop.",
            flush=True,
        )
        while not stopping:
            if dead := stack.dead():
                log.error("airflow %s exited; see %s", ", ".join(dead), cfg.home / "logs")
                return 1
            time.sleep(1)
        return 0
    finally:
        log.info("stopping Airflow")
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
