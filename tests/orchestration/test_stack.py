"""`make airflow` checks first: a taken port or a metadata database in use is one line, at once."""

from __future__ import annotations

import secrets
import socket
import time
from pathlib import Path

import pytest

from orchestration import stack
from orchestration.stack import StackConfig, drop_database, ensure_database, metadata_connect


def _up(tmp_path: Path, port: int, database: str) -> list[str]:
    return ["up", "--home", str(tmp_path / "home"), "--port", str(port), "--database", database]


def test_a_taken_port_is_one_line_before_anything_starts(tmp_path, capsys) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        assert stack.main(_up(tmp_path, port, "dti_airflow_never_created")) == 1
        assert time.monotonic() - started < 5
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"make airflow: port {port} on 127.0.0.1 is already taken (another Airflow or server); "
        "stop it or choose another port with DTI_AIRFLOW_PORT=<port>"
    ]
    assert not (tmp_path / "home").exists(), "nothing was prepared"


def test_a_free_port_is_not_taken() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert not stack.port_taken(port)


@pytest.fixture
def database_of_a_running_stack():
    """A metadata database whose scheduler and triggerer heartbeat right now."""
    cfg = StackConfig(home=Path("."), database=f"dti_airflow_test_{secrets.token_hex(4)}")
    ensure_database(cfg)
    con = metadata_connect(cfg)
    try:
        with con.cursor() as cur:
            # the columns of Airflow's `job` table that the check reads
            cur.execute(
                "create table job (id serial primary key, job_type varchar(30), "
                "state varchar(20), hostname varchar(500), latest_heartbeat timestamptz)"
            )
            cur.execute(
                "insert into job (job_type, state, hostname, latest_heartbeat) values "
                "('SchedulerJob', 'running', 'host-a', now()), "
                "('TriggererJob', 'running', 'host-a', now()), "
                "('SchedulerJob', 'running', 'gone', now() - interval '1 day')"
            )
    finally:
        con.close()
    yield cfg
    drop_database(cfg)


def test_a_metadata_database_in_use_is_one_line(database_of_a_running_stack, tmp_path, capsys):
    cfg = database_of_a_running_stack
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    started = time.monotonic()
    assert stack.main(_up(tmp_path, port, cfg.database)) == 1
    assert time.monotonic() - started < 5
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"make airflow: metadata database {cfg.database} is in use by a running Airflow "
        "(SchedulerJob on host-a, TriggererJob on host-a); stop that stack or choose another "
        "database with DTI_AIRFLOW_DB=<name>"
    ]


def test_a_stopped_stack_leaves_its_database_free(database_of_a_running_stack) -> None:
    cfg = database_of_a_running_stack
    con = metadata_connect(cfg)
    with con.cursor() as cur:
        cur.execute("update job set state = 'success'")
    con.close()
    assert stack.live_airflow_jobs(cfg) == []
    starting = metadata_connect(cfg)  # a stack still migrating: no heartbeat, a connection
    try:
        assert stack.live_airflow_jobs(cfg) == ["1 open connection(s), a stack starting?"]
    finally:
        starting.close()
    wait_until_closed = time.monotonic() + 5
    while stack.live_airflow_jobs(cfg) and time.monotonic() < wait_until_closed:
        time.sleep(0.1)
    assert stack.live_airflow_jobs(cfg) == []
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert (
        stack.preflight(StackConfig(home=Path("."), database=cfg.database, api_port=port)) is None
    )


def test_the_celery_executor_uses_the_redis_broker_and_the_metadata_database(tmp_path) -> None:
    cfg = StackConfig(
        home=tmp_path, database="dti_airflow_x", executor="CeleryExecutor", isolated=True
    )
    env = cfg.env()
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__CELERY__BROKER_URL"] == "redis://127.0.0.1:6379/1"
    assert env["AIRFLOW__CELERY__RESULT_BACKEND"] == (
        "db+postgresql://postgres@127.0.0.1:5432/dti_airflow_x"
    )
    assert stack.COMMANDS["celery-worker"] == ("celery", "worker")
    local = StackConfig(home=tmp_path, isolated=True).env()
    assert local["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert "AIRFLOW__CELERY__BROKER_URL" not in local


# --- `make airflow-cli`: a second terminal reaches the stack's own database ----------------------


def _second_terminal(home: Path, database: str) -> dict[str, str]:
    """What a person's second terminal has: the settings `make airflow` was started with, and
    none of the stack's own AIRFLOW__* variables."""
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "DTI_"))}
    return env | {"AIRFLOW_HOME": str(home), "DTI_AIRFLOW_DB": database}


def test_airflow_cli_runs_airflow_on_the_stacks_database_and_keys(tmp_path) -> None:
    """`make airflow-cli ARGS=…` as the README writes it: the airflow it starts reads the
    connection and the keys of the stack that `make airflow` starts with the same settings."""
    import subprocess

    from dti.settings import PROJECT_ROOT

    cfg = StackConfig(home=tmp_path / "home", database=f"dti_airflow_test_{secrets.token_hex(4)}")
    ensure_database(cfg)  # the stack's database exists (its tables do not matter here)
    try:
        second = _second_terminal(cfg.home, cfg.database)
        up = stack.local_config(environ=second).env()
        done = subprocess.run(
            ["make", "--no-print-directory", "airflow-cli",
             "ARGS=config get-value database sql_alchemy_conn"],
            cwd=PROJECT_ROOT, env=second, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        asked = done.stdout.strip().splitlines()[-1]
        assert asked == up["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == cfg.sql_alchemy_conn
        # the keys are the stack's: kept in its AIRFLOW_HOME, the same in both terminals
        assert up["AIRFLOW__CORE__FERNET_KEY"] == cfg.fernet_key()
        assert (
            up["AIRFLOW__API_AUTH__JWT_SECRET"]
            == StackConfig(home=cfg.home).env()["AIRFLOW__API_AUTH__JWT_SECRET"]
        )
    finally:
        drop_database(cfg)


def test_airflow_cli_without_the_stacks_database_says_so_and_creates_nothing(
    tmp_path, capsys
) -> None:
    home = tmp_path / "home"
    argv = ["cli", "--home", str(home), "--database", "dti_airflow_never_created", "--"]
    assert stack.main([*argv, "db", "check"]) == 1
    err = capsys.readouterr().err
    assert "metadata database dti_airflow_never_created of the stack is not there" in err
    assert "make airflow" in err
    assert not home.exists() and not (Path.home() / "airflow" / "airflow.db").exists()
