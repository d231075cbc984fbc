"""Fixtures shared across the test tree."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

from dti.settings import Settings

# Airflow reads AIRFLOW_HOME on import: the DAG and orchestration tests get a scratch folder
# before any of them imports it.
if "AIRFLOW_HOME" not in os.environ:
    os.environ["AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="dti_airflow_home_")
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
# dbt's documentation costs a `dbt docs generate` per run: only the tests that look at it
# (tests/pipeline/test_steps.py) build it; every other run, subprocess and Airflow stack skips it.
os.environ.setdefault("DTI_DBT_DOCS", "false")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings whose every path lives in this test's temporary folder; nothing read from the
    environment, so a developer's DTI_* variables cannot leak into a test."""
    return Settings(
        inbox=tmp_path / "inbox",
        warehouse=tmp_path / "warehouse.duckdb",
        out=tmp_path / "out",
        archive=tmp_path / "archive",
        dbt_docs=False,
    )


@pytest.fixture(scope="session")
def sample_release(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The bundled 2023 sample taken in, transformed and released once per session by the
    front door (``pipeline.jobs.run``): a real warehouse (registry seeds, marts) and its
    current release at ``OUT/2023``. Read it, never change it: copy what a test alters."""
    from pipeline import jobs
    from pipeline.sample import write_sample

    work = tmp_path_factory.mktemp("sample_release")
    settings = Settings(
        inbox=work / "inbox", warehouse=work / "warehouse.duckdb", out=work / "out",
        archive=work / "archive", dbt_docs=False,
    )  # fmt: skip
    write_sample(settings.inbox, period=2023)
    jobs.run(settings, [2023])
    return settings


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # `make test` runs the roof's tests (whole runs of the samples) in a process of their own
    # (scripts/run_tests.sh): selected by a marker so that `make test ARGS` still narrows all
    roof = Path(__file__).parent / "pipeline"
    for item in items:
        if roof in Path(item.path).parents:
            item.add_marker(pytest.mark.pipeline)


_exit_status: list[int] = []


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _exit_status.append(int(exitstatus))


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    # DuckDB 2.0's nanobind bindings print ~100 "nanobind: leaked ..." lines at interpreter
    # teardown after Great Expectations ran in this process; they would bury pytest's closing
    # summary line. Everything is written and reported by now: leave without the teardown.
    if _exit_status:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_exit_status[-1])
