"""A deployment copied whole into one folder, checksummed, and brought back from it.

What a deployment needs to continue, and where each part goes in the backup folder:

    warehouse/warehouse.duckdb   the warehouse: answers, ledger, quarantine rows, watermarks,
                                 the backlog, the audit trail, the marts (one file; copied after
                                 a ``CHECKPOINT`` under the warehouse lock, so it is consistent)
    archive/                     every file received, by sha256 (the ledger points into it)
    inbox/                       the inbox: files not taken in yet, ``processed/`` and
                                 ``quarantine/`` with the reasons the units were sent
    registry/                    the registry the deployment scores with (its CSVs)
    out/                         the releases (``OUT/<period>`` and ``.releases/``)
    work/                        the warehouse's work folder less its caches: the GX validation
                                 store and Data Docs, the lineage events, the failure notes
    manifest.json                written last: every file with its sha256 and size, every
                                 symlink with its target, every hard link with its first name

A backup is complete only when ``manifest.json`` is there and parses; a restore checks every
file against it before it writes anything, and refuses a damaged or partial backup with the
reason. The lock, the caches (dbt's target, the page store) and DuckDB's WAL are not copied:
the next run rebuilds them.

Restoring writes only into places that are empty; the caller (``pipeline.jobs.restore``)
holds the new warehouse's lock and moves the paths the warehouse keeps (the ledger's archive
paths, the audit trail's report paths) to the new folders.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from dti.checksums import sha256_file
from dti.settings import Settings

FORMAT = "dti-backup/1"
MANIFEST = "manifest.json"
WAREHOUSE_FILE = "warehouse/warehouse.duckdb"
# work/ subfolders that are caches: rebuilt by the next run, and tied to this machine's paths
# (dbt's target and partial parse) or inodes (the page store)
WORK_CACHES = ("dbt", "publish")
CHUNK = 1024 * 1024

# Every sentence a backup or a restore says to the operator (Vietnamese; paths and codes as is).
MESSAGES = {
    "target_not_empty": "Thư mục sao lưu {path} đã có nội dung: hãy chọn một thư mục mới hoặc rỗng.",
    "target_inside": (
        "Thư mục sao lưu {path} nằm trong {what} ({folder}): bản sao lưu sẽ tự chép chính nó. "
        "Hãy chọn một thư mục ở ngoài."
    ),
    "no_warehouse": "Không có kho dữ liệu tại {path}: không có gì để sao lưu.",
    "wal_left": "Kho dữ liệu {path} vẫn còn tệp WAL sau CHECKPOINT: có tiến trình khác đang ghi.",
    "no_backup": "Không có bản sao lưu tại {path}.",
    "no_manifest": (
        "Bản sao lưu {path} không đầy đủ: thiếu manifest.json (việc sao lưu chưa xong hoặc "
        "bị ngắt). Không khôi phục gì."
    ),
    "bad_manifest": "Bản sao lưu {path} hỏng: manifest.json không đọc được ({reason}). Không khôi phục gì.",
    "other_format": (
        "Bản sao lưu {path} có định dạng {found!r}, phiên bản này đọc {wanted!r}. Không khôi phục gì."
    ),
    "unsafe_path": "Bản sao lưu {path} hỏng: đường dẫn {name!r} nằm ngoài thư mục sao lưu.",
    "missing_file": "Bản sao lưu {path} thiếu tệp {name}. Không khôi phục gì.",
    "size_differs": (
        "Bản sao lưu {path} hỏng: tệp {name} có {found} byte, manifest ghi {wanted} byte "
        "(bị cắt ngắn hoặc bị sửa). Không khôi phục gì."
    ),
    "checksum_differs": (
        "Bản sao lưu {path} hỏng: tệp {name} có sha256 khác với manifest (bị sửa hoặc hỏng). "
        "Không khôi phục gì."
    ),
    "place_not_empty": (
        "Nơi khôi phục {what} ({path}) đã có dữ liệu: chỉ khôi phục vào chỗ trống, để không "
        "ghi đè một hệ thống đang chạy. Chọn thư mục khác (--warehouse, --out, --inbox, "
        "--archive, --registry) hoặc dọn chỗ đó trước."
    ),
    "registry_differs": (
        "Bộ đăng ký (registry) trong bản sao lưu khác bộ đăng ký đi kèm mã nguồn: hãy chỉ nơi "
        "đặt nó bằng --registry DIR (hoặc DTI_REGISTRY_DIR) rồi khôi phục lại."
    ),
    "duckdb_cannot_open": (
        "Kho dữ liệu đã khôi phục tại {path} không mở được bằng DuckDB {now} (bản sao lưu "
        "được tạo với DuckDB {then}): {reason}. Xem docs/operations.md, mục nâng cấp DuckDB."
    ),
    "copied_differs": "Tệp {name} chép sang {path} không khớp sha256 của bản sao lưu.",
}


# The parts as the operator reads them in a refusal.
PART_NAMES = {
    "warehouse": "kho dữ liệu (warehouse)",
    "archive": "kho tệp gốc (archive)",
    "inbox": "hộp thư đến (inbox)",
    "registry": "bộ đăng ký (registry)",
    "out": "thư mục công bố (out)",
    "work": "thư mục làm việc của kho (work)",
}


class BackupError(Exception):
    """A backup that cannot be written, or a backup refused; the message is the reason."""

    def __init__(self, key: str, **values: Any) -> None:
        self.key = key
        super().__init__(MESSAGES[key].format(**values))


@dataclass(frozen=True)
class Places:
    """Where each part of a deployment lives on this machine."""

    warehouse: Path
    archive: Path
    inbox: Path
    out: Path
    work: Path
    registry: Path
    registry_is_bundled: bool

    @classmethod
    def of(cls, settings: Settings) -> Places:
        return cls(
            warehouse=settings.warehouse,
            archive=settings.archive,
            inbox=settings.inbox,
            out=settings.out,
            work=settings.work_dir,
            registry=settings.seeds_dir,
            registry_is_bundled=settings.registry_dir is None,
        )

    def folders(self) -> dict[str, Path]:
        """The folders of the backup's parts, by part name (the warehouse file aside)."""
        return {
            "archive": self.archive,
            "inbox": self.inbox,
            "registry": self.registry,
            "out": self.out,
            "work": self.work,
        }


def _copy_hashing(source: Path, target: Path) -> tuple[str, int]:
    """Copies ``source`` to ``target`` (times kept), returning the sha256 and size of the
    bytes written, read once."""
    digest, size = hashlib.sha256(), 0
    target.parent.mkdir(parents=True, exist_ok=True)
    with source.open("rb") as src, target.open("wb") as dst:
        while chunk := src.read(CHUNK):
            digest.update(chunk)
            dst.write(chunk)
            size += len(chunk)
        dst.flush()
        os.fsync(dst.fileno())
    shutil.copystat(source, target)
    return digest.hexdigest(), size


def _walk(root: Path, skip: tuple[str, ...] = ()) -> Iterator[Path]:
    """Every file and symlink under ``root``, sorted, symlinks not followed."""
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        if here == root:
            dirs[:] = [d for d in dirs if d not in skip]
        kept = []
        for d in sorted(dirs):
            if (here / d).is_symlink():
                files.append(d)
            else:
                kept.append(d)
        dirs[:] = kept
        for name in sorted(files):
            yield here / name


def _is_empty(path: Path) -> bool:
    return not path.exists() or (path.is_dir() and not any(path.iterdir()))


# --- writing a backup ---------------------------------------------------------------------------


def write(settings: Settings, target: Path, *, checkpoint: Any) -> dict[str, Any]:
    """Copies the deployment of ``settings`` into ``target`` (new or empty) and returns the
    manifest. The caller holds the warehouse lock; ``checkpoint(path)`` makes DuckDB write
    every change into the file (``CHECKPOINT``) so the file alone is the warehouse."""
    places = Places.of(settings)
    target = Path(target).resolve()
    if not _is_empty(target):
        raise BackupError("target_not_empty", path=target)
    if not places.warehouse.is_file():
        raise BackupError("no_warehouse", path=places.warehouse)
    for part, folder in places.folders().items():
        if target == folder or folder in target.parents:  # it would copy itself
            raise BackupError("target_inside", path=target, what=PART_NAMES[part], folder=folder)
    checkpoint(places.warehouse)
    wal = places.warehouse.with_name(places.warehouse.name + ".wal")
    if wal.exists() and wal.stat().st_size:
        raise BackupError("wal_left", path=places.warehouse)
    target.mkdir(parents=True, exist_ok=True)

    files: list[dict[str, Any]] = []
    symlinks: list[dict[str, str]] = []
    links: list[dict[str, str]] = []
    sha, size = _copy_hashing(places.warehouse, target / WAREHOUSE_FILE)
    files.append({"path": WAREHOUSE_FILE, "sha256": sha, "size_bytes": size})
    seen: dict[tuple[int, int], str] = {}  # (device, inode) -> first name in the backup
    for part, folder in places.folders().items():
        if not folder.is_dir():
            continue
        skip = WORK_CACHES if part == "work" else ()
        for path in _walk(folder, skip):
            name = str(PurePosixPath(part, *path.relative_to(folder).parts))
            if path.name.endswith((".lock", ".wal")) and part == "work":
                continue
            if path.is_symlink():
                symlinks.append({"path": name, "target": os.readlink(path)})
                continue
            if not path.is_file():
                continue  # a socket or a fifo: not data
            st = path.stat()
            if st.st_nlink > 1 and (st.st_dev, st.st_ino) in seen:
                links.append({"path": name, "same_as": seen[(st.st_dev, st.st_ino)]})
                continue
            seen[(st.st_dev, st.st_ino)] = name
            sha, size = _copy_hashing(path, target / name)
            files.append({"path": name, "sha256": sha, "size_bytes": size})

    import duckdb

    manifest = {
        "format": FORMAT,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "duckdb_version": duckdb.__version__,
        "registry_is_bundled": places.registry_is_bundled,
        "from": {
            "warehouse": str(places.warehouse),
            **{part: str(folder) for part, folder in places.folders().items()},
        },
        "files": files,
        "symlinks": symlinks,
        "links": links,
    }
    # the manifest last, by rename: a backup without it was interrupted and is refused
    tmp = target / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    with tmp.open("rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, target / MANIFEST)
    return manifest


# --- checking and restoring ---------------------------------------------------------------------


def _safe(source: Path, name: str) -> PurePosixPath:
    relative = PurePosixPath(name)
    if relative.is_absolute() or ".." in relative.parts or not relative.parts:
        raise BackupError("unsafe_path", path=source, name=name)
    return relative


def read_manifest(source: Path) -> dict[str, Any]:
    source = Path(source).resolve()
    if not source.is_dir():
        raise BackupError("no_backup", path=source)
    path = source / MANIFEST
    if not path.is_file():
        raise BackupError("no_manifest", path=source)
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(manifest, dict):
            raise ValueError("không phải một đối tượng JSON")
        for key in ("format", "files", "symlinks", "links", "from"):
            if key not in manifest:
                raise ValueError(f"thiếu khóa {key!r}")
    except (ValueError, UnicodeDecodeError) as exc:
        raise BackupError("bad_manifest", path=source, reason=exc) from None
    if manifest["format"] != FORMAT:
        raise BackupError("other_format", path=source, found=manifest["format"], wanted=FORMAT)
    return manifest


def verify(source: Path) -> dict[str, Any]:
    """The manifest of the backup in ``source`` once every file it names is there with its
    size and sha256; ``BackupError`` with the first problem otherwise."""
    source = Path(source).resolve()
    manifest = read_manifest(source)
    names = {e["path"] for e in manifest["files"]}
    if WAREHOUSE_FILE not in names:
        raise BackupError("missing_file", path=source, name=WAREHOUSE_FILE)
    for entry in manifest["symlinks"] + manifest["links"]:
        _safe(source, entry["path"])
    for entry in manifest["links"]:
        if entry["same_as"] not in names:
            raise BackupError("missing_file", path=source, name=entry["same_as"])
    for entry in manifest["files"]:
        path = source / _safe(source, entry["path"])
        if not path.is_file() or path.is_symlink():
            raise BackupError("missing_file", path=source, name=entry["path"])
        if path.stat().st_size != entry["size_bytes"]:
            raise BackupError(
                "size_differs", path=source, name=entry["path"], found=path.stat().st_size,
                wanted=entry["size_bytes"],
            )  # fmt: skip
        if sha256_file(path) != entry["sha256"]:
            raise BackupError("checksum_differs", path=source, name=entry["path"])
    return manifest


def _registry_files_equal(manifest: dict[str, Any], folder: Path) -> bool:
    backed_up = {
        e["path"].split("/", 1)[1]: e["sha256"]
        for e in manifest["files"]
        if e["path"].startswith("registry/")
    }
    present = {
        str(p.relative_to(folder)): sha256_file(p)
        for p in _walk(folder)
        if p.is_file() and not p.is_symlink()
    }
    return backed_up == present


def check_places(manifest: dict[str, Any], settings: Settings) -> Places:
    """The places of ``settings`` the backup may be restored into: each one empty, and the
    bundled registry equal to the backup's when no registry folder is given."""
    places = Places.of(settings)
    if places.warehouse.exists():
        raise BackupError("place_not_empty", what=PART_NAMES["warehouse"], path=places.warehouse)
    for part, folder in places.folders().items():
        if part == "registry" and places.registry_is_bundled:
            if not _registry_files_equal(manifest, folder):
                raise BackupError("registry_differs")
            continue
        if not _is_empty(folder):
            raise BackupError("place_not_empty", what=PART_NAMES[part], path=folder)
    return places


def restore(
    source: Path, settings: Settings, verified: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Writes the backup in ``source`` into the places of ``settings`` (each empty) and
    returns its manifest; ``verified`` is its manifest as ``verify`` returned it, else it is
    verified first. The caller holds the new warehouse's lock. Each file is hashed again as
    it is written."""
    source = Path(source).resolve()
    manifest = verified or verify(source)
    places = check_places(manifest, settings)
    folders = places.folders()
    if places.registry_is_bundled:
        folders.pop("registry")  # equal to the backup's (checked): the repository is not written

    def destination(name: str) -> Path | None:
        if name == WAREHOUSE_FILE:
            return places.warehouse
        part, _, rest = name.partition("/")
        return folders[part] / rest if part in folders else None

    for entry in manifest["files"]:
        target = destination(entry["path"])
        if target is None:
            continue
        sha, _ = _copy_hashing(source / entry["path"], target)
        if sha != entry["sha256"]:
            raise BackupError("copied_differs", name=entry["path"], path=target)
    for entry in manifest["links"]:
        target, first = destination(entry["path"]), destination(entry["same_as"])
        if target is None or first is None:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(first, target)
        except OSError:  # another file system
            shutil.copy2(first, target)
    for entry in manifest["symlinks"]:
        target = destination(entry["path"])
        if target is None:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(entry["target"], target)
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    return manifest


def moved_paths(manifest: dict[str, Any], settings: Settings) -> dict[str, tuple[str, str]]:
    """For each part, (the folder it was backed up from, the folder it is restored to)."""
    places = Places.of(settings)
    now = {"warehouse": str(places.warehouse), **{k: str(v) for k, v in places.folders().items()}}
    return {part: (was, now[part]) for part, was in manifest["from"].items() if part in now}


def open_restored(warehouse: Path, manifest: dict[str, Any], connect: Any) -> Any:
    """A connection to the restored warehouse; a DuckDB that cannot read its storage version
    is refused with both versions named."""
    import duckdb

    try:
        return connect(warehouse)
    except duckdb.Error as exc:
        raise BackupError(
            "duckdb_cannot_open", path=warehouse, now=duckdb.__version__,
            then=manifest.get("duckdb_version", "?"), reason=" ".join(str(exc).split()),
        ) from None  # fmt: skip
