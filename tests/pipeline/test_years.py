"""A deployment lives for years: the "a new year is a data change" walk-through of
docs/operating.md,
executed as written — 2023, 2024, 2023 again and 2025 (another framework version, added to a
registry outside the repository) in one warehouse — then checked period by period against the
reference scorer, the manifest's registry checksums, `dti validate`, `dti audit` and the Data
Docs of every period.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from dti.settings import PROJECT_ROOT, SEEDS_DIR
from testkit.readme import GUIDES, blocks
from testkit.reference_scoring import assert_units_match, read_inbox, score_period


def walkthrough() -> str:
    """The bash block of docs/operating.md marked as the walk-through."""
    (block,) = [b for b in blocks() if b.marker == "walkthrough:new-year"]
    return block.code


def _env(work: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DTI_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["WORK"] = str(work)
    return env


def _git_status() -> str:
    """What git sees in the dbt project (tracked, untracked or ignored): the registry's home."""
    return subprocess.run(
        ["git", "status", "--porcelain", "--ignored", "--", "dbt_project"], cwd=PROJECT_ROOT,
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip


@pytest.fixture(scope="module")
def walked(tmp_path_factory) -> dict:
    work = tmp_path_factory.mktemp("years")
    before = _git_status()
    proc = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", walkthrough()],
        cwd=PROJECT_ROOT, env=_env(work), capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    return {"work": work, "proc": proc, "git_before": before, "git_after": _git_status()}


def test_the_walkthrough_runs_as_written(walked) -> None:
    proc = walked["proc"]
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "registry OK" in proc.stdout
    assert "framework tp-2025 governs so_nganh 2025–2025" in proc.stdout


def test_nothing_is_written_into_the_dbt_project(walked) -> None:
    assert walked["git_after"] == walked["git_before"]


@pytest.mark.parametrize("period", [2023, 2024, 2025])
def test_each_period_is_the_reference_scorers(walked, period: int) -> None:
    work = walked["work"]
    published = json.loads(
        (work / "out" / str(period) / "results.json").read_text(encoding="utf-8"),
        parse_float=Decimal,
    )
    rows = read_inbox(work / "inbox" / "processed")
    assert {r["period"] for r in rows} == {2023, 2024, 2025}
    expected = score_period(rows, period, work / "registry")
    assert published["period"] == period
    assert published["framework_version"] == ("tp-2025" if period == 2025 else "hcm-2023")
    assert_units_match(published, expected)


def test_2025_is_scored_on_its_own_thresholds(walked) -> None:
    work = walked["work"]
    units = {
        p: {u["unit_code"]: u for u in _results(work, p)["units"] if u["status"] == "scored"}
        for p in (2023, 2025)
    }
    # 55 % and 75 % instead of 60 % and 80 %: a unit at 77 % is Nâng cao in 2025 only
    levels_2025 = {u["level"] for u in units[2025].values() if 75 <= Decimal(u["percent"]) < 80}
    assert levels_2025 == {"nang_cao"}


def test_the_manifest_names_the_registry_and_its_checksums(walked) -> None:
    work = walked["work"]
    registry = work / "registry"

    def checksums(folder: Path) -> list[dict]:
        return [
            {
                "file": p.name,
                "sha256": hashlib.sha256(p.read_bytes()).hexdigest(),
                "size_bytes": p.stat().st_size,
            }
            for p in sorted(folder.glob("*.csv"))
        ]

    # 2023 and 2024 were published before the 2025 rows were added: the registry as copied
    # (the bundled files). The 2023 run after the edit wrote the same files, so release 1
    # stays current and keeps naming the registry it was built from; 2025 names the edit.
    # The folder is a path of the machine: the warehouse keeps it, the manifest does not.
    for period, files in ((2023, SEEDS_DIR), (2024, SEEDS_DIR), (2025, registry)):
        manifest = json.loads((work / "out" / str(period) / "manifest.json").read_text())
        assert "folder" not in manifest["registry"]
        assert manifest["registry"]["files"] == checksums(files), period
    assert checksums(registry) != checksums(SEEDS_DIR)


@pytest.mark.parametrize("period", [2023, 2024, 2025])
def test_validate_audit_and_data_docs_work_for_every_period(walked, period: int) -> None:
    work = walked["work"]
    env = {**_env(work), "DTI_WAREHOUSE": str(work / "warehouse.duckdb")}
    for checkpoint in ("submissions", "scores"):  # (the run validated all four already)
        done = subprocess.run(
            ["dti", "validate", "--checkpoint", checkpoint, "--period", str(period), "--json"],
            env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        run = json.loads(done.stdout)
        assert run["success"] and run["period"] == period
        assert Path(run["report_path"]).is_file()
    audit = subprocess.run(
        ["dti", "audit", "--period", str(period), "--json", "--out", str(work / "out")],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert audit.returncode == 0, audit.stderr[-2000:]
    trail = json.loads(audit.stdout)
    assert {r["checkpoint"] for r in trail["validation_runs"]} >= {
        "framework",
        "submissions",
        "counted_answers",
        "scores",
    }
    assert all(r["period"] == period for r in trail["validation_runs"])
    index = work / "warehouse_work" / "gx" / "gx" / "uncommitted" / "data_docs" / "local_site"
    assert (index / "index.html").is_file()


def _results(work: Path, period: int) -> dict:
    return json.loads((work / "out" / str(period) / "results.json").read_text(encoding="utf-8"))


def _published_tree(out: Path) -> dict[str, object]:
    """Every file of OUT by its bytes' sha256, every symlink by its target."""
    tree: dict[str, object] = {}
    for path in sorted(out.rglob("*")):
        key = str(path.relative_to(out))
        if path.is_symlink():
            tree[key] = ("->", os.readlink(path))
        elif path.is_file():
            tree[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return tree


def _dti(env: dict[str, str], *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run(["dti", *args], env=env, capture_output=True, text=True, timeout=timeout)


def test_backed_up_wiped_and_restored_elsewhere_it_runs_on_with_the_same_releases(
    walked, tmp_path: Path
) -> None:
    """The deployment of the walk-through (2023, 2024 and 2025 published, 2023 twice) backed
    up, its folder gone, restored into other folders: a run with nothing new publishes no new
    release and leaves every bundle byte-identical; a truncated copy of the backup is refused."""
    work = walked["work"]
    places = {"DTI_REGISTRY_DIR": "registry", "DTI_WAREHOUSE": "warehouse.duckdb",
              "DTI_INBOX": "inbox", "DTI_OUT": "out"}  # fmt: skip
    env = _env(work) | {k: str(work / v) for k, v in places.items()}
    bk = tmp_path / "backup"
    done = _dti(env, "backup", "--to", str(bk))
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("Đã sao lưu")
    before = _published_tree(work / "out")
    history = {
        p: _dti(env, "release", "list", "--period", str(p)).stdout for p in (2023, 2024, 2025)
    }

    elsewhere = tmp_path / "new-machine"
    new_env = _env(elsewhere) | {k: str(elsewhere / "dti" / v) for k, v in places.items()}
    gone = work.with_name(work.name + "-wiped")
    work.rename(gone)  # nothing of the old folders can be read while the copy runs
    try:
        truncated = tmp_path / "truncated"
        shutil.copytree(bk, truncated, symlinks=True)
        with (truncated / "warehouse" / "warehouse.duckdb").open("r+b") as fh:
            fh.truncate(4096)
        refused = _dti(new_env, "restore", "--from", str(truncated))
        assert refused.returncode == 1 and "bị cắt ngắn" in refused.stderr, refused.stderr
        assert not (elsewhere / "dti").exists()

        done = _dti(new_env, "restore", "--from", str(bk))
        assert done.returncode == 0, done.stderr[-2000:]
        again = _dti(new_env, "run", "--all-periods", timeout=1800)
        assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
        assert _published_tree(elsewhere / "dti" / "out") == before
        for period, listed in history.items():
            now = _dti(new_env, "release", "list", "--period", str(period)).stdout
            assert now.replace(str(elsewhere / "dti"), "") == listed.replace(str(work), "")
    finally:
        gone.rename(work)


def test_every_command_block_of_the_readme_and_the_guides_runs(walked, tmp_path: Path) -> None:
    """Each guide's bash blocks, in order, in one shell, as a person who exported the
    deployment's settings would paste them — against a copy of the walk-through's deployment
    (three periods published). Blocks that need a running Airflow stack are run by the e2e
    tests (testkit.readme.STACK_BLOCKS)."""
    deployment = tmp_path / "deployment"
    shutil.copytree(walked["work"], deployment, symlinks=True)
    here = tmp_path / "here"  # where the person stands: relative paths of the guides land here
    here.mkdir()
    (here / ".venv").symlink_to(PROJECT_ROOT / ".venv")
    env = _env(here) | {
        "DTI_REGISTRY_DIR": str(deployment / "registry"),
        "DTI_WAREHOUSE": str(deployment / "warehouse.duckdb"),
        "DTI_INBOX": str(deployment / "inbox"),
        "DTI_OUT": str(deployment / "out"),
    }
    found = [b for b in blocks() if b.marker == "here"]
    for doc in GUIDES:
        script = "".join(b.code for b in found if b.doc == doc)
        if not script:
            continue
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script], cwd=here, env=env,
            capture_output=True, text=True, timeout=900,
        )  # fmt: skip
        assert done.returncode == 0, f"{doc}:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
