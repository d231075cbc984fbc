"""End to end on a real Airflow: files of two periods dropped together are both published,
scored by a registry kept outside the repository (``DTI_REGISTRY_DIR``) whose 2025 framework
is another version than 2023's; then Airflow's backfill reruns the periods.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import socket
import subprocess
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from dti.settings import PROJECT_ROOT, SEEDS_DIR
from pipeline.sample import write_sample
from testkit.airflow_stack import (
    E2EStack,
    airflow_cli_env,
    backfill,
    running_stack,
    wait_for,
)
from testkit.readme import readme_command
from testkit.reference_scoring import read_inbox, score_period

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1200)]

PERIODS = (2023, 2025)
PUBLISH_TIMEOUT = 600  # two periods of the whole sample, from the drop to both bundles


def registry_with_2025(folder: Path) -> Path:
    """A copy of the bundled registry whose 2025 framework is the operator's own version
    (``tp-2025``: the shipped hcm-2025 structure, thresholds 55 % and 75 %) — the edit the
    README's walk-through makes."""
    shutil.copytree(SEEDS_DIR, folder)

    def rewrite(name: str, pattern: str, replacement: str) -> None:
        path = folder / name
        text = path.read_text(encoding="utf-8").replace("\r\n", "\n")
        path.write_text(re.sub(pattern, replacement, text, flags=re.M), encoding="utf-8")

    rewrite("frameworks.csv", r"^hcm-2025,", "tp-2025,")
    rewrite("levels.csv", r"^(hcm-2025,[a-z_]+,hinh_thanh,[^,]+,2),60,", r"\1,55,")
    rewrite("levels.csv", r"^(hcm-2025,[a-z_]+,nang_cao,[^,]+,3),80,", r"\1,75,")
    for name in ("levels.csv", "pillars.csv", "indicators.csv"):
        rewrite(name, r"^hcm-2025,", "tp-2025,")
    return folder


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return registry_with_2025(tmp_path_factory.mktemp("own") / "registry")


@pytest.fixture(scope="module")
def e2e(tmp_path_factory: pytest.TempPathFactory, registry: Path) -> Iterator[E2EStack]:
    base = tmp_path_factory.mktemp("airflow_years")
    with running_stack(base, _free_port(), env={"DTI_REGISTRY_DIR": str(registry)}) as stack:
        yield stack


def _essentials(units: list[dict]) -> list[tuple]:
    def d(value) -> Decimal | None:
        return None if value is None else Decimal(str(value))

    return [
        (u["unit_code"], u["status"], d(u["total_score"]), d(u["percent"]), u["level"], u["rank"])
        for u in units
    ]


def _published(out: Path, period: int) -> list[tuple] | None:
    try:
        results = json.loads((out / str(period) / "results.json").read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return _essentials(results["units"])


def test_two_periods_dropped_together_are_both_published(e2e: E2EStack, registry: Path) -> None:
    staged = e2e.inbox.parent / "staged"
    for period in PERIODS:
        write_sample(staged, period=period, seeds_dir=registry)
    rows = read_inbox(staged)
    expected = {p: _essentials(score_period(rows, p, registry)) for p in PERIODS}
    # dropped together: every file first, then every flag
    for path in sorted(staged.iterdir()):
        if path.suffix != ".ready":
            shutil.copyfile(path, e2e.inbox / path.name)
    for path in sorted(staged.glob("*.ready")):
        shutil.copyfile(path, e2e.inbox / path.name)

    for period in PERIODS:
        wait_for(
            f"{period} published as the reference scorer scores it",
            lambda p=period: _published(e2e.out, p) == expected[p],
            PUBLISH_TIMEOUT,
            e2e.stack,
        )
    for period in PERIODS:
        manifest = json.loads((e2e.out / str(period) / "manifest.json").read_text())
        assert manifest["framework_version"] == ("tp-2025" if period == 2025 else "hcm-2023")
        assert "folder" not in manifest["registry"]  # a path of the machine: never published
        assert {f["file"]: f["sha256"] for f in manifest["registry"]["files"]} == {
            p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in registry.glob("*.csv")
        }
    # the transform ran at least once with both periods in one event, or once per period
    transforms = e2e.dag_runs("dti_transform")
    assert transforms and all(r["state"] in ("success", "running", "queued") for r in transforms)


def test_a_backfill_over_the_years_reruns_each_period_with_answers(e2e: E2EStack) -> None:
    """The README's ``make airflow-cli ARGS="backfill create --dag-id dti_rerun …"`` over 2023…2025: one run per year; 2024
    has no answers and is left out; 2023 and 2025 go through dti_transform (their gates run
    again) and dti_publish."""
    e2e.wait_idle(PUBLISH_TIMEOUT)
    releases = {p: _release(e2e.out, p) for p in PERIODS}
    published_before = len(e2e.dag_runs("dti_publish"))
    marts_before = max((e["id"] for e in e2e.asset_events("dti_marts_validated")), default=0)
    # the README's command, as written, in a second process that knows only what a person's
    # second terminal knows (AIRFLOW_HOME, DTI_AIRFLOW_DB, DTI_AIRFLOW_PORT, PG*)
    command = readme_command("backfill")
    assert command.startswith("make airflow-cli ARGS=") and "--dag-id dti_rerun" in command
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", command], cwd=PROJECT_ROOT,
        env=airflow_cli_env(e2e.cfg), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "migrat" not in done.stdout + done.stderr  # not Airflow's "run airflow db migrate"
    ((backfill_id,),) = e2e.query("select id from backfill where dag_id = 'dti_rerun'")
    wait_for(
        "the backfill to complete",
        lambda: backfill(e2e.cfg, backfill_id)["completed_at"],
        PUBLISH_TIMEOUT,
        e2e.stack,
    )
    runs = [r for r in e2e.dag_runs("dti_rerun") if r["run_type"] == "backfill"]
    assert len(runs) == 3 and {r["state"] for r in runs} == {"success"}, runs
    announced = [e for e in e2e.asset_events("dti_raw_submissions") if e["dag_id"] == "dti_rerun"]
    assert sorted(p for e in announced for p in e["extra"]["periods"]) == list(PERIODS)
    assert {e["extra"]["reason"] for e in announced} == {"backfill"}

    def validated() -> set[int]:
        events = e2e.asset_events("dti_marts_validated")
        return {p for e in events if e["id"] > marts_before for p in e["extra"]["periods"]}

    wait_for("both periods validated again", lambda: validated() == set(PERIODS), PUBLISH_TIMEOUT)
    e2e.wait_idle(PUBLISH_TIMEOUT)
    publishes = e2e.dag_runs("dti_publish")
    assert len(publishes) > published_before and publishes[-1]["state"] == "success", publishes
    # the same answers give the same results: published again, no new release
    assert {p: _release(e2e.out, p) for p in PERIODS} == releases


def _release(out: Path, period: int) -> int:
    manifest = json.loads((out / str(period) / "manifest.json").read_text(encoding="utf-8"))
    return manifest["release"]["number"]
