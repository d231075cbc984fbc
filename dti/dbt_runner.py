"""Runs dbt in-process against the warehouse named by the settings."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

from dti.settings import Settings

log = logging.getLogger(__name__)


class DbtFailed(RuntimeError):
    """A dbt command failed; the message names the failing nodes and their errors."""


@contextmanager
def _warehouse_env(settings: Settings) -> Iterator[None]:
    # profiles.yml reads the warehouse path from the environment; restore it afterwards so
    # one process can build several warehouses (tests, benchmarks).
    previous = os.environ.get("DTI_WAREHOUSE")
    os.environ["DTI_WAREHOUSE"] = str(settings.warehouse)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("DTI_WAREHOUSE", None)
        else:
            os.environ["DTI_WAREHOUSE"] = previous


def invoke(settings: Settings, *args: str) -> object:
    """Runs one dbt command; returns dbt's result or raises ``DbtFailed`` naming what failed."""
    from dbt.cli.main import dbtRunner

    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    work = settings.work_dir / "dbt"
    cli_args = [
        *args,
        "--project-dir", str(settings.dbt_project_dir),
        "--profiles-dir", str(settings.dbt_project_dir),
        "--target-path", str(work / "target"),
        "--log-path", str(work / "logs"),
        "--quiet",
    ]  # fmt: skip
    log.info("dbt %s", " ".join(args))
    with _warehouse_env(settings):
        try:
            result = dbtRunner().invoke(cli_args)
        finally:
            _release_warehouse()
    if not result.success:
        raise DbtFailed(f"dbt {args[0]} failed: {_describe_failure(result)}")
    return result.result


def _release_warehouse() -> None:
    # dbt-duckdb keeps its DuckDB instance open for the life of the process; the warehouse has
    # one writer, so hand it back before the next step (GX, publish, another process) opens it.
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    with DuckDBConnectionManager._LOCK:
        env = DuckDBConnectionManager._ENV
        DuckDBConnectionManager._ENV = None
    if env is not None and getattr(env, "conn", None) is not None:
        env.conn.close()
        env.conn = None


def _describe_failure(result: object) -> str:
    if getattr(result, "exception", None) is not None:
        return str(result.exception)
    failures = []
    for node_result in getattr(result.result, "results", None) or []:
        status = str(getattr(node_result, "status", ""))
        if status in {"error", "fail", "runtime error", "RunStatus.Error", "TestStatus.Fail"} or (
            status.lower().endswith(("error", "fail"))
        ):
            name = getattr(node_result.node, "unique_id", "?")
            failures.append(f"{name}: {' '.join(str(node_result.message).split())}")
    return "; ".join(failures[:5]) or "see the dbt log in the warehouse's work folder"


def dbt_seed(settings: Settings) -> None:
    """Loads the framework registry seeds into the ``registry`` schema."""
    _ensure_sources(settings)
    invoke(settings, "seed", "--full-refresh")


def dbt_build(settings: Settings, period: int | None = None, full_refresh: bool = False) -> None:
    """Builds and tests every model (seeds are loaded by ``dbt_seed``)."""
    _ensure_sources(settings)
    # unit tests run in the test suite (tests/dbt), not on every production build
    args = ["build", "--exclude", "resource_type:seed", "resource_type:unit_test"]
    if full_refresh:
        args.append("--full-refresh")
    invoke(settings, *args)


def _ensure_sources(settings: Settings) -> None:
    """The raw tables exist (empty) before dbt reads them, even before the first ingest."""
    import duckdb

    from ingest.schema import ensure_raw_schema

    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(settings.warehouse))
    try:
        ensure_raw_schema(con)
    finally:
        con.close()
