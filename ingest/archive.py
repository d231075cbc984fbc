"""Content-addressed raw archive: ``<archive>/<sha[:2]>/<sha256>``, the original bytes, once.

Bytes reach the archive (written to a temporary name, then renamed; ``make_durable`` flushes
them to disk before the ledger commits) before anything is recorded or moved, so a crash at any
point leaves the original either in the inbox or here.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path


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
        archive.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=archive, prefix=".incoming-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        target = _install(archive, sha256, Path(name))
    return Archived(sha256, len(data), target)


def make_durable() -> None:
    """Flushes archived bytes to disk; called once per batch of files, before the commit.

    One ``sync`` per batch instead of one ``fsync`` per file keeps bulk ingest fast.
    """
    os.sync()
