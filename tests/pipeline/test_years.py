"""A deployment lives for years: the README's "a new year is a data change" walk-through,
executed as written — 2023, 2024, 2023 again and 2025 (another framework version, added to a
registry outside the repository) in one warehouse — then checked period by period against the
reference scorer, the manifest's registry checksums, `dti validate`, `dti audit` and the Data
Docs of every period.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from dti.settings import PROJECT_ROOT, SEEDS_DIR
from testkit.reference_scoring import assert_units_match, read_inbox, score_period

MARKER = "<!-- walkthrough:new-year -->"


def walkthrough() -> str:
    """The bash block that follows the marker in the README."""
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(re.escape(MARKER) + r"\s*```bash\n(.*?)```", readme, re.S)
    assert found, "the README's walk-through block is missing"
    return found.group(1)


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
