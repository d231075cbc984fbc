"""History of a republished period: ``OUT/P/releases/<n>/`` and what changed between releases.

A period is republished when the appraisal council corrects a value after the results went
out. The previous bundle is kept whole, and the new manifest lists the units whose total
score, level or rank moved, so the ICT department can say exactly what changed.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Collection
from pathlib import Path, PurePosixPath

from publish.results import load_results

log = logging.getLogger(__name__)

RELEASES = "releases"
COMPARED = ("status", "total_score", "level", "rank")


def release_numbers(bundle_dir: Path) -> list[int]:
    root = bundle_dir / RELEASES
    if not root.is_dir():
        return []
    return sorted(int(p.name) for p in root.iterdir() if p.is_dir() and p.name.isdigit())


def latest_release(bundle_dir: Path) -> int | None:
    numbers = release_numbers(bundle_dir)
    return numbers[-1] if numbers else None


def archive_if_changed(bundle_dir: Path, new_results: bytes) -> int | None:
    """Moves the current bundle into ``releases/<n>/`` when its results.json differs.

    Returns the new release number, or ``None`` when there was nothing to keep (no bundle
    yet, or the same results: republishing identical results makes no new release).
    """
    current = bundle_dir / "results.json"
    if not current.is_file() or current.read_bytes() == new_results:
        return None
    number = (latest_release(bundle_dir) or 0) + 1
    target = bundle_dir / RELEASES / str(number)
    target.mkdir(parents=True)
    for entry in sorted(bundle_dir.iterdir()):
        if entry.name != RELEASES:
            os.replace(entry, target / entry.name)
    log.info("period %s: previous bundle kept as %s", bundle_dir.name, target)
    return number


def clear_bundle(bundle_dir: Path, keep: Collection[str] = ()) -> None:
    """Removes the current bundle's files, keeping ``releases/`` and the paths in ``keep``
    (relative to the bundle, e.g. ``don-vi/SO-A.html``)."""
    if not bundle_dir.is_dir():
        return
    keep = set(keep)
    kept_folders = {PurePosixPath(p).parts[0] for p in keep if len(PurePosixPath(p).parts) > 1}
    for entry in bundle_dir.iterdir():
        if entry.name == RELEASES:
            continue
        if entry.is_dir() and not entry.is_symlink():
            if entry.name in kept_folders:
                _clear_folder(entry, entry.name, keep)
            else:
                shutil.rmtree(entry)
        elif entry.name not in keep:
            entry.unlink()


def _clear_folder(folder: Path, relative: str, keep: set[str]) -> None:
    for entry in folder.iterdir():
        path = f"{relative}/{entry.name}"
        if entry.is_dir() and not entry.is_symlink():
            _clear_folder(entry, path, keep)
            if not any(entry.iterdir()):
                entry.rmdir()
        elif path not in keep:
            entry.unlink()


def changes_between(old: dict | None, new: dict) -> list[dict]:
    """Units whose status, total_score, level or rank differ between two results documents."""
    if old is None:
        return []
    old_units = {u["unit_code"]: u for u in old.get("units", [])}
    new_units = {u["unit_code"]: u for u in new.get("units", [])}
    changes = []
    for code in sorted(old_units.keys() | new_units.keys()):
        before, after = old_units.get(code, {}), new_units.get(code, {})
        moved = {
            field: {"from": before.get(field), "to": after.get(field)}
            for field in COMPARED
            if before.get(field) != after.get(field)
        }
        if moved:
            unit = after or before
            changes.append(
                {
                    "unit_code": code,
                    "unit_name": unit.get("unit_name"),
                    "block": unit.get("block"),
                    "changed": moved,
                }
            )
    return changes


def changes_since_last_release(bundle_dir: Path, new: dict) -> tuple[int | None, list[dict]]:
    """(latest release number, changes from it to ``new``)."""
    number = latest_release(bundle_dir)
    if number is None:
        return None, []
    old = load_results(bundle_dir / RELEASES / str(number) / "results.json")
    return number, changes_between(old, new)
