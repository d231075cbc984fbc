"""A kill at any publishing step, or a full disk, leaves the previous release live and whole,
and the next run completes the job (docs/spec/results.md §8.4).

The kills are real: a subprocess runs ``write_bundle`` with ``DTI_TEST_KILL_AT`` set and is
killed by SIGKILL at that point. The full disk is simulated (no tmpfs without root): the
``open`` that ``publish.releases`` writes with is replaced by one whose writes fail with
ENOSPC, and ``os.symlink`` likewise for the switch.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from dti.settings import PROJECT_ROOT, Settings
from publish import releases
from publish.bundle import write_bundle
from publish.push import check_bundle
from tests.publish.publish_marts_fixture import make_warehouse, passing_runs, small_units
from tests.publish.test_releases import _republish_with_corrected_appraisal

PERIOD = 2023
KILL_POINTS = [
    "half-written",
    "manifest-written",
    "before-commit",
    "after-commit",
    "before-switch",
    "switched",
]

_SCRIPT = """
import sys
from pathlib import Path
from dti.settings import Settings
from publish.bundle import write_bundle
from tests.publish.publish_marts_fixture import passing_runs

tmp = Path(sys.argv[1])
settings = Settings(inbox=tmp / "inbox", warehouse=tmp / "warehouse.duckdb", out=tmp / "out",
                    archive=tmp / "archive")
write_bundle(settings, 2023, passing_runs(2023))
"""


def _publish_killed_at(settings: Settings, point: str) -> None:
    env = {**os.environ, releases.KILL_ENV: point, "PYTHONPATH": str(PROJECT_ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(settings.out.parent)],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]


def _live_number(settings: Settings) -> int | None:
    return releases.ReleaseStore(settings.out, PERIOD).live_number()


def _assert_whole(settings: Settings) -> None:
    """The live release and every release in the history hold exactly what their manifest
    lists (``check_bundle`` re-hashes every file), numbered 1..n without gaps."""
    live = settings.out / str(PERIOD)
    store = releases.ReleaseStore(settings.out, PERIOD)
    numbers = store.numbers()
    assert numbers == list(range(1, len(numbers) + 1))
    if live.exists():
        check_bundle(live)
        for k in range(1, _live_number(settings)):
            check_bundle(live / "releases" / str(k))
    for n in numbers:
        assert check_bundle(store.path(n))["release"]["number"] == n


def _results(settings: Settings) -> bytes:
    return (settings.out / str(PERIOD) / "results.json").read_bytes()


@pytest.mark.parametrize("point", KILL_POINTS)
def test_a_kill_during_the_first_publish_leaves_nothing_half_live(small_warehouse, point):
    settings = small_warehouse
    _publish_killed_at(settings, point)
    live = settings.out / str(PERIOD)
    # before the switch nothing is live; after it, release 1 is, whole
    assert live.exists() == (point == "switched")
    _assert_whole(settings)

    write_bundle(settings, PERIOD, passing_runs(PERIOD))
    assert _live_number(settings) == 1
    _assert_whole(settings)
    assert not list(releases.ReleaseStore(settings.out, PERIOD).root.glob(".*"))


@pytest.mark.parametrize("point", KILL_POINTS)
def test_a_kill_during_a_republish_keeps_the_previous_release_live(small_warehouse, point):
    settings = small_warehouse
    write_bundle(settings, PERIOD, passing_runs(PERIOD))
    first = _results(settings)
    first_index = (settings.out / str(PERIOD) / "index.html").read_bytes()
    _republish_with_corrected_appraisal(settings)

    _publish_killed_at(settings, point)
    if point == "switched":
        assert _live_number(settings) == 2
    else:
        assert _live_number(settings) == 1
        assert _results(settings) == first
        assert (settings.out / str(PERIOD) / "index.html").read_bytes() == first_index
    _assert_whole(settings)

    # The next run completes the job: release 2, history unbroken, no release 3.
    write_bundle(settings, PERIOD, passing_runs(PERIOD))
    assert _live_number(settings) == 2
    assert releases.ReleaseStore(settings.out, PERIOD).numbers() == [1, 2]
    assert (settings.out / str(PERIOD) / "releases" / "1" / "results.json").read_bytes() == first
    assert _results(settings) != first
    _assert_whole(settings)


class _FullDisk:
    """``open`` whose files accept ``room`` bytes in all, then fail with ENOSPC."""

    def __init__(self, room: int) -> None:
        self.room = room

    def __call__(self, path, mode="r", *args, **kwargs):
        handle = open(path, mode, *args, **kwargs)  # noqa: SIM115
        if "b" not in mode or not any(m in mode for m in "wxa"):
            return handle
        disk = self
        real_write = handle.write

        class _Handle:
            def __enter__(self):
                return self

            def __exit__(self, *exc):
                handle.close()

            def write(self, data: bytes) -> int:
                if len(data) > disk.room:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                disk.room -= len(data)
                return real_write(data)

        return _Handle()


@pytest.mark.parametrize("room", [0, 5_000, 20_000])
def test_a_full_disk_names_the_path_and_keeps_the_previous_release(
    small_warehouse, monkeypatch, room
):
    settings = small_warehouse
    write_bundle(settings, PERIOD, passing_runs(PERIOD))
    first = _results(settings)
    _republish_with_corrected_appraisal(settings)

    monkeypatch.setattr(releases, "open", _FullDisk(room), raising=False)
    with pytest.raises(releases.PublishError) as failed:
        write_bundle(settings, PERIOD, passing_runs(PERIOD))
    message = str(failed.value)
    assert str(settings.out / releases.STORE / str(PERIOD)) in message
    assert "disk is full" in message
    assert _live_number(settings) == 1 and _results(settings) == first
    _assert_whole(settings)
    assert not list(releases.ReleaseStore(settings.out, PERIOD).root.glob(".*"))

    monkeypatch.undo()
    write_bundle(settings, PERIOD, passing_runs(PERIOD))
    assert _live_number(settings) == 2
    _assert_whole(settings)


def test_a_full_disk_at_the_switch_keeps_the_previous_release(small_warehouse, monkeypatch):
    settings = small_warehouse
    write_bundle(settings, PERIOD, passing_runs(PERIOD))
    first = _results(settings)
    _republish_with_corrected_appraisal(settings)

    real_symlink = os.symlink

    def no_room(target, link, *args, **kwargs):
        if Path(link).name.startswith(".live-"):  # the new pointer, not the history links
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_symlink(target, link, *args, **kwargs)

    monkeypatch.setattr(releases.os, "symlink", no_room)
    with pytest.raises(releases.PublishError, match=str(settings.out / str(PERIOD))):
        write_bundle(settings, PERIOD, passing_runs(PERIOD))
    monkeypatch.undo()
    assert _live_number(settings) == 1 and _results(settings) == first

    # Release 2 was complete and approved: the next run only switches to it.
    write_bundle(settings, PERIOD, passing_runs(PERIOD))
    assert _live_number(settings) == 2
    assert releases.ReleaseStore(settings.out, PERIOD).numbers() == [1, 2]
    _assert_whole(settings)


def test_the_old_layout_becomes_releases_without_losing_the_live_bundle(settings, tmp_path):
    """``OUT/2023/`` as a real folder with ``releases/1/`` inside (before this change)."""
    make_warehouse(settings.warehouse, PERIOD, small_units())
    newer = settings.with_paths(out=tmp_path / "newer")
    write_bundle(newer, PERIOD, passing_runs(PERIOD))
    _republish_with_corrected_appraisal(newer)
    write_bundle(newer, PERIOD, passing_runs(PERIOD))
    store = releases.ReleaseStore(newer.out, PERIOD)
    old = settings.out / str(PERIOD)
    shutil.copytree(store.path(2), old, ignore=shutil.ignore_patterns("releases"))
    shutil.copytree(store.path(1), old / "releases" / "1")
    live_results = (old / "results.json").read_bytes()

    write_bundle(settings, PERIOD, passing_runs(PERIOD))  # same warehouse: no new release
    assert (settings.out / str(PERIOD)).is_symlink()
    assert _live_number(settings) == 2 and _results(settings) == live_results
    assert json.loads((old / "releases" / "1" / "manifest.json").read_bytes())["release"] == {
        "number": 1,
        "previous_release": None,
        "status": "approved",
        "publication": "final",
        "approval_required": False,
    }
    _assert_whole(settings)


def test_one_writer_per_period_at_a_time(tmp_path):
    """`dti release approve` while Airflow writes a release waits for it (and re-entry in one
    store does not deadlock)."""
    import threading
    import time

    first = releases.ReleaseStore(tmp_path, PERIOD)
    second = releases.ReleaseStore(tmp_path, PERIOD)
    held = threading.Event()

    def hold() -> None:
        with first.lock(), first.lock():
            held.set()
            time.sleep(0.5)

    thread = threading.Thread(target=hold)
    thread.start()
    held.wait(5)
    started = time.monotonic()
    with second.lock():
        waited = time.monotonic() - started
    thread.join()
    assert waited >= 0.3


def _write_recording_syncs(settings: Settings, monkeypatch) -> list[tuple[str, str]]:
    """Writes the next release of PERIOD; returns its fsyncs and replaces, in order."""
    events: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def replace(src, dst, *args, **kwargs) -> None:
        real_replace(src, dst, *args, **kwargs)
        events.append(("replace", str(dst)))

    monkeypatch.setattr(releases.os, "fsync", fsync)
    monkeypatch.setattr(releases.os, "replace", replace)
    write_bundle(settings, PERIOD, passing_runs(PERIOD))
    monkeypatch.undo()
    return events


def test_a_release_is_on_disk_before_it_is_switched_in(small_warehouse, monkeypatch):
    """Every file and folder of the new release is fsynced before the symlink swap, the store
    folder (the release's name) too, and ``OUT`` after it: a power cut cannot leave
    ``OUT/<period>`` pointing at files that were never written."""
    settings = small_warehouse
    events = _write_recording_syncs(settings, monkeypatch)
    store = releases.ReleaseStore(settings.out, PERIOD)
    root, live = str(store.root.resolve()), str(store.live)
    switch = events.index(("replace", live))
    before = [path for kind, path in events[:switch] if kind == "fsync"]
    # synced while still in the staging folder: compare paths inside the release
    synced = {Path(p).relative_to(root).parts[1:] for p in before if p.startswith(root + "/")}
    release = store.path(1)
    on_disk = {p.relative_to(release).parts for p in release.rglob("*") if not p.is_symlink()}
    on_disk.add(())  # the release folder itself
    assert on_disk - synced == set(), "files or folders of the release not synced in time"
    assert {"index.html", "results.json", "manifest.json"} <= {p[0] for p in synced if p}
    assert root in before, "the release's name in the store is synced before the swap"
    after = [path for kind, path in events[switch:] if kind == "fsync"]
    assert str(settings.out.resolve()) in after, "OUT is synced after the swap"


def test_a_revision_syncs_what_it_wrote_and_links_what_was_synced(small_warehouse, monkeypatch):
    """The second release hard-links the files it keeps from the first: those were synced
    when the first was committed; every file it wrote is synced before its swap."""
    settings = small_warehouse
    write_bundle(settings, PERIOD, passing_runs(PERIOD))
    _republish_with_corrected_appraisal(settings)
    events = _write_recording_syncs(settings, monkeypatch)

    store = releases.ReleaseStore(settings.out, PERIOD)
    root, first, second = str(store.root.resolve()), store.path(1), store.path(2)
    switch = events.index(("replace", str(store.live)))
    synced = {
        Path(p).relative_to(root).parts[1:]
        for kind, p in events[:switch]
        if kind == "fsync" and p.startswith(root + "/")
    }
    written, linked = set(), set()
    for path in second.rglob("*"):
        if path.is_symlink() or path.is_dir():
            continue
        parts = path.relative_to(second).parts
        kept = first / Path(*parts)
        if kept.exists() and os.path.samefile(kept, path):
            linked.add(parts)
        else:
            written.add(parts)
    assert linked, "the revision keeps some files of the first release"
    assert {"results.json", "manifest.json"} <= {p[0] for p in written}
    assert written <= synced, "files the revision wrote not synced before its swap"
    assert not linked & synced, "links to synced files are not synced again"
