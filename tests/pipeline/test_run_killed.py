"""Killing `dti run` at every publishing step, then running it again, always leaves one
complete live release and an unbroken history (issue 15's done-when; docs/spec/results.md §8.4).

Each kill is real: the whole `dti run` process (ingest, gates, dbt build, publish) runs in a
subprocess with ``DTI_TEST_KILL_AT=<point>`` and dies by SIGKILL at that publishing step.
tests/publish/test_atomic_releases.py kills ``write_bundle`` alone, on a fixture warehouse;
this one proves the same through the command an operator runs.

A `dti run` costs its gates and its dbt build whatever it publishes, so the runs form one
chain instead of one killed run plus one rerun per point: every killed run is followed by a
run on the same inputs (the next point's, or a run without a kill), which is the "running
again" of the done-when. The warehouse is built once, by the module fixture's first run.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from dti.settings import PROJECT_ROOT
from pipeline.sample import write_sample
from publish import releases
from publish.push import check_bundle

PERIOD = 2023
BLOCKS = ("quan_huyen", "so_nganh")

# (kill point, --preliminary?, live release after the kill, releases in the history after it)
# Release 1 (final) is live before the chain. The preliminary runs make release 2; the final
# runs after them release 3.
CHAIN = [
    ("half-written", True, 1, [1]),  # files half in the staging folder
    ("manifest-written", True, 1, [1]),  # staging folder complete, not yet a release
    ("before-commit", True, 1, [1]),
    ("after-commit", True, 1, [1, 2]),  # release 2 whole and approved, not yet live
    ("before-switch", True, 1, [1, 2]),  # the rerun's recovery dies before its switch
    (None, True, 2, [1, 2]),  # the rerun completes the job: 2 is live, no release 3
    ("switched", False, 3, [1, 2, 3]),  # a new release live; the run dies after the switch
    (None, False, 3, [1, 2, 3]),  # the rerun finds release 3 holds its files
]


def _dti_run(tmp: Path, preliminary: bool, kill_at: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DTI_")}
    env["PYTHONPATH"] = str(PROJECT_ROOT)
    if kill_at:
        env[releases.KILL_ENV] = kill_at
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "run", "--period", str(PERIOD),
         "--inbox", str(tmp / "inbox"), "--warehouse", str(tmp / "warehouse.duckdb"),
         "--out", str(tmp / "out"), *(["--preliminary"] if preliminary else [])],
        capture_output=True, text=True, env=env, cwd=PROJECT_ROOT, timeout=900,
    )  # fmt: skip


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """A sample inbox run once: the warehouse built, release 1 (final) live."""
    tmp = tmp_path_factory.mktemp("built")
    write_sample(tmp / "inbox", period=PERIOD)
    done = _dti_run(tmp, preliminary=False, kill_at=None)
    assert done.returncode == 0, done.stderr[-3000:]
    return tmp


def _assert_one_complete_live_release(out: Path, live: int, history: list[int]) -> None:
    store = releases.ReleaseStore(out, PERIOD)
    assert store.numbers() == history, "the history is numbered 1..n without gaps"
    assert store.live_number() == live
    current = out / str(PERIOD)
    expected = {"index.html", "results.json", "manifest.json", "phuong-phap.html"}
    expected |= {f"results_{b}.csv" for b in BLOCKS} | {f"results_{b}.xlsx" for b in BLOCKS}
    assert expected <= {p.name for p in current.iterdir()}
    manifest = check_bundle(current)  # re-hashes every listed file against the manifest
    assert manifest["release"]["number"] == live
    listed = {f["path"] for f in manifest["files"]}
    assert {"index.html", "results.json"} | {f"results_{b}.xlsx" for b in BLOCKS} <= listed
    # every earlier release is whole and reachable from the live one
    for k in range(1, live):
        assert check_bundle(current / releases.RELEASES / str(k))["release"]["number"] == k
    for n in history:
        assert check_bundle(store.path(n))["release"]["number"] == n


def test_killing_dti_run_at_every_publishing_step_then_running_again(built, tmp_path) -> None:
    tmp = tmp_path / "run"
    shutil.copytree(built, tmp, symlinks=True)
    out = tmp / "out"
    _assert_one_complete_live_release(out, 1, [1])
    first = (out / str(PERIOD) / "results.json").read_bytes()
    for point, preliminary, live, history in CHAIN:
        done = _dti_run(tmp, preliminary, point)
        step = f"dti run {'--preliminary ' if preliminary else ''}killed at {point}"
        if point is None:
            assert done.returncode == 0, done.stderr[-3000:]
        else:
            assert done.returncode == -signal.SIGKILL, f"{step}: {done.stderr[-3000:]}"
            # the process died in its publish step: the gates and the build had all passed
            assert "ok validate_scores" in done.stderr, done.stderr[-3000:]
        _assert_one_complete_live_release(out, live, history)
        manifest = json.loads((out / str(PERIOD) / "manifest.json").read_bytes())
        assert manifest["release"]["status"] == "approved", step
    # the live release is the last run's (final), release 2 the preliminary one, and release
    # 1 is still the bytes the first run published
    store = releases.ReleaseStore(out, PERIOD)
    assert releases.release_info(store.release(2).manifest)["publication"] == "preliminary"
    assert releases.release_info(store.release(3).manifest)["publication"] == "final"
    assert (out / str(PERIOD) / "releases" / "1" / "results.json").read_bytes() == first
    assert not list(store.root.glob(".*")), "no staging folder or pointer left behind"
