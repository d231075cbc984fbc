"""Content-addressed raw archive: ``<archive>/<sha[:2]>/<sha256>``, the original bytes, once.

Bytes reach the archive (written to a temporary name, then renamed; ``make_durable`` flushes
them to disk before the ledger commits) before anything is recorded or moved, so a crash at any
point leaves the original either in the inbox or here. A write that fails (a full disk) removes
its temporary file and names the archive in its error; temporaries a killed run left
(``.incoming-*``) are removed by ``sweep_incoming`` at the start of the next intake, which
holds the warehouse lock (no other writer of the archive runs then).
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

INCOMING_PREFIX = ".incoming-"


class ArchiveError(OSError):
    """The archive could not take the bytes (a full disk, a read-only folder); names where."""


@dataclass(frozen=True)
class Archived:
    sha256: str
    size_bytes: int
    stored_at: Path


def archive_path(archive: Path, sha256: str) -> Path:
    """Where the bytes of ``sha256`` are kept: an absolute path (the ledger's ``stored_at``)."""
    return archive.resolve() / sha256[:2] / sha256


def _install(archive: Path, sha256: str, tmp: Path) -> Path:
    target = archive_path(archive, sha256)
    if target.exists():
        tmp.unlink()
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, target)
    return target


def store_bytes(archive: Path, data: bytes) -> Archived:
    """Archives ``data`` (a page from the API, a batch from the portal database, a file)."""
    sha256 = hashlib.sha256(data).hexdigest()
    target = archive_path(archive, sha256)
    if not target.exists():
        name = None
        try:
            archive.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(dir=archive, prefix=INCOMING_PREFIX)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            target = _install(archive, sha256, Path(name))
        except OSError as exc:
            if name is not None:
                Path(name).unlink(missing_ok=True)
            raise ArchiveError(
                exc.errno or errno.EIO,
                f"kho lưu trữ {archive}: không ghi được {len(data):,} byte ({exc.strerror}); "
                "giải phóng chỗ trống hoặc cấp quyền ghi (DTI_ARCHIVE) rồi chạy lại",
            ) from exc
    return Archived(sha256, len(data), target)


def sweep_incoming(archive: Path) -> int:
    """Removes the ``.incoming-*`` temporaries a killed run left; returns how many. Only
    regular files at the top of the archive are removed (never followed through a link)."""
    if not archive.is_dir():
        return 0
    removed = 0
    with os.scandir(archive) as entries:
        for entry in entries:
            if entry.name.startswith(INCOMING_PREFIX) and stat.S_ISREG(
                entry.stat(follow_symlinks=False).st_mode
            ):
                os.unlink(entry.path)
                removed += 1
    if removed:
        log.info(
            "archive %s: removed %d temporary files left by an interrupted run", archive, removed
        )
    return removed


def make_durable() -> None:
    """Flushes archived bytes to disk; called once per batch of files, before the commit.

    One ``sync`` per batch instead of one ``fsync`` per file keeps bulk ingest fast.
    """
    os.sync()
