"""One job at a time on a warehouse: the lock a job takes when it starts and keeps to its end.

DuckDB has one writer per file, but a job opens and closes the file many times (ingest, dbt,
each gate, the release) and another process could take it in between: the second of two
`dti run` used to fail the *first* halfway. So every job that writes (``pipeline.jobs``: the
CLI commands and each Airflow task) holds ``<warehouse>.lock`` (``flock``, released by the
kernel when the process dies, so a kill -9 leaves no stale lock) from its first step to its
last. A second job is refused at once with ``WarehouseBusy`` naming the holder, before it
changes anything. Commands that only read take the lock shared: they do not stop each other.

The lock is re-entrant within a process: ``dti run`` holds it and calls the ingest job, which
takes it again. Taking the warehouse also checks that its file is whole
(``dti.warehouse_file``): a damaged one is refused before any job writes into it.
"""

from __future__ import annotations

import fcntl
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from dti.warehouse_file import check_whole


class WarehouseBusy(RuntimeError):
    """Another process holds the warehouse; nothing was read or changed by this job."""


# path -> (file descriptor, depth, exclusive) of the locks this process holds
_held: dict[Path, tuple[int, int, bool]] = {}


def lock_path(warehouse: Path) -> Path:
    return warehouse.with_name(warehouse.name + ".lock")


def _holder_text(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        text = ""
    return text or "another process"


def busy(warehouse: Path, holder: str) -> WarehouseBusy:
    return WarehouseBusy(
        f"the warehouse {warehouse} is in use by {holder}: another `dti run`/`dti ingest` or an "
        "Airflow task is working on it. Nothing was changed by this one: wait for that one to "
        "finish and run again (if it is stuck, stop that process first)"
    )


@contextmanager
def hold(warehouse: Path, job: str, *, shared: bool = False) -> Iterator[None]:
    """Holds the warehouse for ``job`` (exclusive; ``shared`` for a job that only reads)
    until the block ends; raises ``WarehouseBusy`` at once when another process holds it."""
    path = lock_path(Path(os.path.abspath(warehouse)))
    if path in _held:
        fd, depth, exclusive = _held[path]
        if exclusive or shared:
            _held[path] = (fd, depth + 1, exclusive)
            try:
                yield
            finally:
                fd, depth, exclusive = _held[path]
                _held[path] = (fd, depth - 1, exclusive)
            return
        raise RuntimeError(f"{job}: cannot write {warehouse} inside a job that only reads it")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
    except OSError as exc:
        if shared:  # a reader of a folder it cannot write: DuckDB's own lock still guards it
            check_whole(Path(warehouse))
            yield
            return
        raise OSError(
            exc.errno, f"cannot create the warehouse lock {path}: {exc.strerror}"
        ) from exc
    try:
        fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise busy(warehouse, _holder_text(path)) from None
    try:
        check_whole(Path(warehouse))  # a damaged file is refused before anything opens it
        if not shared:
            command = " ".join(sys.argv)[:200]
            note = f"{job} (PID {os.getpid()}, {command}, since {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC)"
            os.ftruncate(fd, 0)
            os.pwrite(fd, note.encode("utf-8", "replace"), 0)
        _held[path] = (fd, 1, not shared)
        try:
            yield
        finally:
            del _held[path]
            if not shared:
                os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # releases the lock
