"""Writes the bundle of one period into ``OUT/<period>/`` (docs/spec/results.md §8).

``write_bundle`` reads the marts once, renders in memory every file whose inputs changed
(``publish.incremental``), keeps the previous bundle as a release when its results differ,
then writes the files and the manifest last, so a manifest always describes files that are
fully written.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import dti
from dti.settings import PROJECT_ROOT, Settings
from publish import incremental, releases, site
from publish.jsontext import dumps
from publish.marts import IndicatorPoints, MartsReader, PeriodMarts
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
        r.get("suite") or r.get("checkpoint") or r.get("run_id")
        for r in runs
        if not r.get("success")
    ]
    return {
        "passed": bool(runs) and not failed,
        "runs": len(runs),
        "failed": failed,
        "checkpoints": sorted(
            {str(r["checkpoint"]) for r in runs if r.get("checkpoint") is not None}
        ),
    }


def render_files(
    marts: PeriodMarts,
    previous_period: dict | None,
    indicators: Mapping[str, Sequence[IndicatorPoints]],
    pages: Mapping[str, site.UnitPage] | None = None,
    only: Collection[str] | None = None,
) -> dict[str, bytes]:
    """The files of the bundle except the manifest, by path relative to the bundle: all of
    them, or all but the unit pages not in ``only``."""
    files: dict[str, bytes] = {"results.json": results_json(marts)}
    for block in marts.blocks:
        files[f"results_{block}.csv"] = results_csv(marts, block)
    files.update(site.render_site(marts, previous_period, indicators, pages=pages, only=only))
    return files


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


class _BundleWriter:
    """Writes files into a bundle folder just emptied (``releases.clear_bundle``).

    Each path is new, so it is created in place (``x``: never over a file left behind); the
    manifest, written last with ``_write_atomic``, is what says the bundle is complete.
    """

    def __init__(self, bundle_dir: Path) -> None:
        self.bundle_dir = bundle_dir
        self._folders: set[Path] = set()

    def _folder(self, path: Path) -> None:
        if path.parent not in self._folders:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._folders.add(path.parent)

    def write(self, relative: str, data: bytes) -> None:
        path = self.bundle_dir / relative
        self._folder(path)
        with open(path, "xb") as f:
            f.write(data)

    def link(self, relative: str, source: Path) -> None:
        """The same bytes as ``source`` (a file of the previous bundle), without copying."""
        path = self.bundle_dir / relative
        self._folder(path)
        try:
            os.link(source, path)
        except OSError:  # a file system without hard links
            shutil.copy2(source, path)


def build_manifest(
    marts: PeriodMarts,
    files: Mapping[str, tuple[str, int]],
    runs: Sequence[dict],
    previous_release: int | None,
    changes: list[dict],
    built_at: datetime,
) -> dict:
    """``files``: every file of the bundle but the manifest, as ``path: (sha256, size)``."""
    entries = [(path, sha) for path, (sha, _) in sorted(files.items())]
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
        # labels and order of the levels (marts.dim_levels), lowest first: what the summary
        # of `dti run`, which reads this bundle, names the levels with
        "levels": [
            {"level": level, "level_name": marts.level_names[level], "sort_order": rank}
            for rank, level in enumerate(reversed(marts.level_order), start=1)
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
            {"path": path, "sha256": sha, "size_bytes": files[path][1]} for path, sha in entries
        ],
    }


def registry_in_warehouse(settings: Settings) -> dict:
    """The registry the marts were built from (``meta.registry_files``, written when the
    registry is loaded): its folder and each file's sha256 and size."""
    import duckdb

    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        try:
            rows = con.execute(
                "select folder, file, sha256, size_bytes from meta.registry_files order by file"
            ).fetchall()
        except duckdb.CatalogException:
            rows = []
    finally:
        con.close()
    return {
        "folder": rows[0][0] if rows else None,
        "files": [{"file": f, "sha256": sha, "size_bytes": size} for _, f, sha, size in rows],
    }


def write_bundle(
    settings: Settings,
    period: int,
    validation_runs: Sequence[object] = (),
    built_at: datetime | None = None,
) -> Path:
    """Writes ``settings.out/<period>/`` from the marts and returns that folder.

    Unit pages whose inputs did not change since the previous bundle of the period are taken
    from it (``publish.incremental``); the result is the same bytes as a full render.
    """
    bundle_dir = settings.out / str(period)
    previous_period = load_results(settings.out / str(period - 1) / "results.json")
    with MartsReader(settings.warehouse, period) as reader:
        marts = reader.read()
        pages = site.unit_pages(marts, previous_period)
        fingerprints = {path: incremental.fingerprint(page) for path, page in pages.items()}
        reused = incremental.reusable_pages(settings.work_dir, period, bundle_dir, fingerprints)
        to_render = {path for path in pages if path not in reused}
        indicators = reader.indicators(
            {pages[path].unit.unit_code for path in to_render} if reused else None
        )
    files = render_files(marts, previous_period, indicators, pages=pages, only=to_render)
    registry = registry_in_warehouse(settings)
    runs = [_run_manifest(r) for r in validation_runs]

    bundle_dir.mkdir(parents=True, exist_ok=True)
    incremental.forget(settings.work_dir, period)
    kept = releases.archive_if_changed(bundle_dir, files["results.json"])
    # the reused pages now live in the release just kept, or are still in place
    source_dir = bundle_dir / releases.RELEASES / str(kept) if kept else None
    releases.clear_bundle(bundle_dir, keep=() if kept else reused.keys())
    previous_release, changes = None, []
    if releases.latest_release(bundle_dir) is not None:
        new_results = json.loads(files["results.json"], parse_float=Decimal, parse_int=Decimal)
        previous_release, changes = releases.changes_since_last_release(bundle_dir, new_results)
    writer = _BundleWriter(bundle_dir)
    entries: dict[str, tuple[str, int]] = {}
    for path, data in sorted(files.items()):
        writer.write(path, data)
        entries[path] = (sha256_bytes(data), len(data))
    for path, page in sorted(reused.items()):
        if source_dir is not None:
            writer.link(path, source_dir / path)
        entries[path] = (page.sha256, page.size_bytes)
    manifest = build_manifest(
        marts, entries, runs, previous_release, changes, built_at or datetime.now(UTC)
    )
    manifest["registry"] = registry
    _write_atomic(bundle_dir / MANIFEST, dumps(manifest).encode("utf-8"))
    incremental.save_store(
        settings.work_dir,
        period,
        bundle_dir,
        manifest["bundle_sha256"],
        fingerprints,
        {path: entries[path][0] for path in fingerprints},
    )
    log.info(
        "bundle of period %s written to %s (%d files, %d unit pages rendered, %d kept; %s, "
        "validation %s)",
        period,
        bundle_dir,
        len(entries) + 1,
        len(to_render),
        len(reused),
        f"previous bundle kept as release {kept}" if kept else "no new release",
        "passed" if manifest["validation"]["passed"] else "NOT passed",
    )
    return bundle_dir
