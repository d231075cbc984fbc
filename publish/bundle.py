"""Writes the bundle of one period into ``OUT/<period>/`` (docs: spec results.md).

``write_bundle`` reads the marts once, renders every file in memory, keeps the previous
bundle as a release when its results differ, then writes the files and the manifest last,
so a manifest always describes files that are fully written.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import dti
from dti.settings import PROJECT_ROOT, Settings
from publish import releases, site
from publish.jsontext import dumps
from publish.marts import PeriodMarts, read_period
from publish.results import framework_version, load_results, results_csv, results_json

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def bundle_checksum(files: Iterable[tuple[str, str]]) -> str:
    """The bundle's identity: sha256 over ``<sha256>  <path>`` lines, sorted by path.

    The manifest is not part of it (it holds the build time), so rebuilding the same results
    gives the same checksum and the push can tell the DTI site already has them.
    """
    lines = "".join(f"{sha}  {path}\n" for path, sha in sorted(files))
    return sha256_bytes(lines.encode("utf-8"))


def git_commit(root: Path = PROJECT_ROOT) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and commit else None


def _run_manifest(run: object) -> dict:
    if isinstance(run, dict):
        return dict(run)
    to_manifest = getattr(run, "to_manifest", None)
    if to_manifest is None:
        raise TypeError(f"validation run {run!r} has no to_manifest()")
    return dict(to_manifest())


def validation_outcome(runs: Sequence[dict]) -> dict:
    """Passed only when at least one suite ran and every run succeeded."""
    failed = [
        r.get("suite") or r.get("stage") or r.get("run_id") for r in runs if not r.get("success")
    ]
    return {
        "passed": bool(runs) and not failed,
        "runs": len(runs),
        "failed": failed,
        "stages": sorted({str(r["stage"]) for r in runs if r.get("stage") is not None}),
    }


def render_files(marts: PeriodMarts, previous_period: dict | None) -> dict[str, bytes]:
    """Every file of the bundle except the manifest, by path relative to the bundle."""
    files: dict[str, bytes] = {"results.json": results_json(marts)}
    for block in marts.blocks:
        files[f"results_{block}.csv"] = results_csv(marts, block)
    files.update(site.render_site(marts, previous_period=previous_period))
    return files


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def build_manifest(
    marts: PeriodMarts,
    files: dict[str, bytes],
    runs: Sequence[dict],
    previous_release: int | None,
    changes: list[dict],
    built_at: datetime,
) -> dict:
    entries = [(path, sha256_bytes(data)) for path, data in sorted(files.items())]
    return {
        "period": marts.period,
        "bundle_sha256": bundle_checksum(entries),
        "built_at": built_at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "framework_version": framework_version(marts),
        "frameworks": [
            {"block": block, "framework_version": fw.framework_version}
            for block in marts.blocks
            if (fw := marts.framework(block)) is not None
        ],
        "code_version": {"dti": dti.__version__, "git_commit": git_commit()},
        "validation": validation_outcome(runs),
        "validation_runs": list(runs),
        "inputs": [
            {
                "source_file": i.source_file,
                "sha256": i.sha256,
                "source": i.source,
                "size_bytes": i.size_bytes,
                "received_at": i.received_at,
                "outcome": i.outcome,
                "rows_loaded": i.rows_loaded,
            }
            for i in marts.inputs
        ],
        "release": {
            "number": (previous_release or 0) + 1,
            "previous_release": previous_release,
        },
        "changes": changes,
        "files": [
            {"path": path, "sha256": sha, "size_bytes": len(files[path])} for path, sha in entries
        ],
    }


def write_bundle(
    settings: Settings,
    period: int,
    validation_runs: Sequence[object] = (),
    built_at: datetime | None = None,
) -> Path:
    """Writes ``settings.out/<period>/`` from the marts and returns that folder."""
    marts = read_period(settings.warehouse, period)
    bundle_dir = settings.out / str(period)
    previous_period = load_results(settings.out / str(period - 1) / "results.json")
    files = render_files(marts, previous_period)
    runs = [_run_manifest(r) for r in validation_runs]

    bundle_dir.mkdir(parents=True, exist_ok=True)
    kept = releases.archive_if_changed(bundle_dir, files["results.json"])
    releases.clear_bundle(bundle_dir)
    new_results = json.loads(files["results.json"], parse_float=Decimal, parse_int=Decimal)
    previous_release, changes = releases.changes_since_last_release(bundle_dir, new_results)
    for path, data in sorted(files.items()):
        _write_atomic(bundle_dir / path, data)
    manifest = build_manifest(
        marts, files, runs, previous_release, changes, built_at or datetime.now(UTC)
    )
    _write_atomic(bundle_dir / MANIFEST, dumps(manifest).encode("utf-8"))
    log.info(
        "bundle of period %s written to %s (%d files, %s, validation %s)",
        period,
        bundle_dir,
        len(files) + 1,
        f"previous bundle kept as release {kept}" if kept else "no new release",
        "passed" if manifest["validation"]["passed"] else "NOT passed",
    )
    return bundle_dir
