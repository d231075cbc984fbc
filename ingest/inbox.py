"""The inbox folder: files are read once their ``<name>.ready`` flag exists.

Each ready file is archived first, then judged and recorded, and only after the commit moved
with its flag to ``processed/`` (loaded, duplicate) or ``quarantine/`` (refused, partial) with
a ``<name>.reason.json`` beside it. Files are handled in chunks so that CSV files sharing a
header are read by one DuckDB scan.

Nothing outside the inbox is ever read: a name is looked at with ``lstat`` and opened with
``O_NOFOLLOW``, so a symbolic link (or a FIFO, a device, a folder) is refused without being
opened and moved to quarantine as it is; so is a file over ``DTI_MAX_FILE_BYTES``, which is
never read nor copied into the archive. A file whose bytes changed after they were read is
left in the inbox for the next run (its sha256 is checked again just before the move).

The folders the files go to are held the same way: ``processed/`` and ``quarantine/`` are
opened once per run with ``O_DIRECTORY | O_NOFOLLOW`` and every move, flag and note goes
through those descriptors, so a folder swapped for a link (to another unit's folder, to the
public output) is never written through. A folder that is a link when the run starts stops
the inbox run before anything is read or moved. A note is written to a fresh temporary name
(``O_CREAT | O_EXCL | O_NOFOLLOW``) and renamed over ``<name>.reason.json``: a link planted
under that name is replaced, the file it pointed to is never opened.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import secrets
import stat
import unicodedata
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from dti.settings import Settings
from dti.text import printable
from dti.vocabulary import READY_SUFFIX
from ingest import archive, batches, complaints, csv_files, json_files, ledger, rows, xlsx_files
from ingest.archive import Archived
from ingest.batches import Batch
from ingest.refusal import FileRefused
from ingest.report import BatchResult, IngestReport

log = logging.getLogger(__name__)

SOURCE = "inbox"
PROCESSED_DIR = "processed"
QUARANTINE_DIR = "quarantine"
CHUNK_BYTES = 256 * 1024 * 1024
CHUNK_FILES = 2000
NAME_MAX = 255  # bytes of one file name on the usual file systems (ext4, xfs, tmpfs)
NOTE_SUFFIX = ".reason.json"
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
_NOTE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


class InboxFolderRefused(Exception):
    """``processed/`` or ``quarantine/`` is not a real folder of the inbox (a link, a file):
    nothing is read nor moved until a person puts a folder there."""


@dataclass
class _Folders:
    """The inbox (key ``""``), ``processed/`` and ``quarantine/`` as descriptors, the two
    folders opened without following a link: every move, flag and note of the run goes
    through them."""

    inbox: Path
    fds: dict[str, int]

    def fd(self, name: str) -> int:
        return self.fds[name]

    def close(self) -> None:
        for fd in self.fds.values():
            os.close(fd)


def _refused_folder(inbox: Path, name: str, is_link: bool) -> InboxFolderRefused:
    what = "một liên kết (symlink)" if is_link else "không phải thư mục"
    return InboxFolderRefused(
        f"hộp thư: {printable(str(inbox / name))} là {what}; liên kết không bao giờ được đi "
        "theo nên lần chạy này không đọc, không chuyển tệp nào. Xoá nó, tạo lại thư mục thật "
        f"`{name}` trong hộp thư rồi chạy lại"
    )


def _check_folder(inbox: Path, inbox_fd: int, name: str) -> None:
    """Refuses ``inbox/<name>`` when something other than a folder is there (a link,
    whatever it points to, or a file); a missing folder is fine (it is created)."""
    try:
        seen = os.lstat(name, dir_fd=inbox_fd)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(seen.st_mode):
        raise _refused_folder(inbox, name, stat.S_ISLNK(seen.st_mode))


def _open_folder(inbox: Path, inbox_fd: int, name: str) -> int:
    """``inbox/<name>`` opened as a folder, created when missing; a link put there since it
    was checked is refused all the same (``O_NOFOLLOW``)."""
    try:
        os.mkdir(name, 0o755, dir_fd=inbox_fd)  # mkdir never follows a link in its place
    except FileExistsError:
        pass
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=inbox_fd)
    except OSError as exc:
        if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
            raise
        raise _refused_folder(inbox, name, is_link=True) from None


def _open_folders(inbox: Path) -> _Folders:
    inbox_fd = os.open(inbox, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))
    fds: dict[str, int] = {}
    try:
        for name in (PROCESSED_DIR, QUARANTINE_DIR):  # both checked before either is made
            _check_folder(inbox, inbox_fd, name)
        for name in (PROCESSED_DIR, QUARANTINE_DIR):
            fds[name] = _open_folder(inbox, inbox_fd, name)
    except BaseException:
        for fd in (*fds.values(), inbox_fd):
            os.close(fd)
        raise
    return _Folders(inbox, {"": inbox_fd, **fds})


@dataclass
class InboxFile:
    path: Path
    flag: Path
    seen: os.stat_result  # lstat when the flag was found: never follows a link
    batch: Batch | None = None
    layout: csv_files.CsvLayout | None = None
    parsed_rows: list[dict[str, object]] | None = None
    # a complaints or decisions file (ingest.complaints): its kind and its entries
    complaint_entries: tuple[str, list[dict]] | None = None
    unread_target: Path | None = None  # refused unread: moved here as it is, never archived


def display_name(path: Path) -> str:
    """The file name as received, as NFC text: undecodable bytes and control characters
    (which would forge lines in `dti ledger`) are shown as escapes."""
    raw = os.fsencode(path.name)
    return printable(unicodedata.normalize("NFC", raw.decode("utf-8", errors="backslashreplace")))


def ready_files(inbox: Path) -> list[InboxFile]:
    """Top-level files whose flag exists, in the order they became ready (flag time, then name).

    Arrival order decides which of two identical files is the original and which the copy.
    A name ending in ``.ready`` whose own target exists is a flag, never data, even when it
    has a flag of its own. Nothing is followed: a flag or file that is a link is taken by
    its ``lstat``.
    """
    if not inbox.is_dir():
        return []
    names = {entry.name: entry for entry in os.scandir(inbox)}
    found = []
    for name, entry in names.items():
        if not name.endswith(READY_SUFFIX) or entry.is_dir(follow_symlinks=False):
            continue
        target_name = name[: -len(READY_SUFFIX)]
        if target_name in (PROCESSED_DIR, QUARANTINE_DIR):
            continue
        target = names.get(target_name)
        if target is None:
            log.warning("flag %s has no file beside it; waiting for the file", printable(name))
            continue
        if target_name.endswith(READY_SUFFIX) and target_name[: -len(READY_SUFFIX)] in names:
            log.warning("%s is the flag of another file; it is not read", printable(target_name))
            continue
        found.append(
            (entry.stat(follow_symlinks=False).st_mtime_ns, target_name,
             InboxFile(Path(target.path), Path(entry.path), target.stat(follow_symlinks=False)))
        )  # fmt: skip
    return [item for _, _, item in sorted(found, key=lambda f: (f[0], f[1]))]


def _unread_identity(name: str, seen: os.stat_result) -> str:
    """The ledger key of a file refused without reading it: not a hash of its bytes (they
    were never read) but of what identifies the arrival (``unread:`` name, size, time, inode)."""
    who = f"unread:{name}:{seen.st_size}:{seen.st_mtime_ns}:{seen.st_ino}"
    return hashlib.sha256(who.encode("utf-8", "surrogateescape")).hexdigest()


def _refuse_unread(item: InboxFile, name: str, refusal: FileRefused) -> None:
    """Refuses a file without opening it: it will be moved to quarantine as it is."""
    sha = _unread_identity(name, item.seen)
    folder = item.path.parent / QUARANTINE_DIR
    item.unread_target = _free_name(folder, item.path.name, sha)
    item.batch = Batch(SOURCE, name, Archived(sha, item.seen.st_size, item.unread_target))
    item.batch.refusal = refusal


def _kind(mode: int) -> str:
    for check, what in (
        (stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
        (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    ):  # fmt: skip
        if check(mode):
            return what
    return "not a regular file"


def _too_large(size: int, settings: Settings) -> FileRefused:
    return FileRefused(
        "too_large",
        f"{size:,} bytes is over the cap of {settings.max_file_bytes:,} "
        "(DTI_MAX_FILE_BYTES); the file was not read. Split it and send the parts",
    )


def _read_regular(item: InboxFile, name: str, settings: Settings) -> bytes | None:
    """The file's bytes, read through a descriptor that cannot follow a link, or ``None``
    when it was refused unread (a link, not a regular file, too large)."""
    seen = item.seen
    if stat.S_ISLNK(seen.st_mode):
        _refuse_unread(item, name, FileRefused(
            "link_refused",
            "a symbolic link: links are never followed (only files inside the inbox are read); "
            "copy the file itself into the inbox",
        ))  # fmt: skip
        return None
    if stat.S_ISREG(seen.st_mode) and seen.st_nlink > 1:
        _refuse_unread(item, name, FileRefused(
            "link_refused",
            f"a hard link ({seen.st_nlink} names for the same bytes, maybe outside the inbox): "
            "not read; copy the file itself into the inbox",
        ))  # fmt: skip
        return None
    if not stat.S_ISREG(seen.st_mode):
        what = _kind(seen.st_mode)
        _refuse_unread(item, name, FileRefused(
            "not_regular_file", f"{what}, not a regular file: it was not opened; send a file"
        ))  # fmt: skip
        return None
    if seen.st_size > settings.max_file_bytes:
        _refuse_unread(item, name, _too_large(seen.st_size, settings))
        return None
    try:
        fd = os.open(item.path, _OPEN_FLAGS)
    except OSError as exc:  # replaced by a link since it was listed (ELOOP), or gone
        _refuse_unread(item, name, FileRefused(
            "link_refused" if exc.errno == errno.ELOOP else "not_regular_file",
            f"could not be opened as a regular file ({exc.strerror}); it was not read",
        ))  # fmt: skip
        return None
    with os.fdopen(fd, "rb") as handle:
        opened = os.fstat(handle.fileno())
        if not stat.S_ISREG(opened.st_mode) or opened.st_ino != seen.st_ino:
            _refuse_unread(item, name, FileRefused(
                "not_regular_file", "replaced while it was being read; it was not read"
            ))  # fmt: skip
            return None
        data = handle.read(opened.st_size)  # one buffer of the file's size
        grown = handle.read(1)
        while grown and len(data) + len(grown) <= settings.max_file_bytes:
            data += grown  # written to while it is read: rare, read on up to the cap
            grown = handle.read(1024 * 1024)
    if grown:
        _refuse_unread(item, name, _too_large(len(data) + len(grown), settings))
        return None
    return data


def _prepare(item: InboxFile, settings: Settings) -> None:
    """Archives the file's bytes, then reads or refuses it (nothing is written to raw yet)."""
    name = display_name(item.path)
    data = _read_regular(item, name, settings)
    if data is None:
        return
    item.batch = Batch(SOURCE, name, archive.store_bytes(settings.archive, data))
    suffix = item.path.suffix.lower()
    try:
        if suffix == ".csv":
            item.layout = csv_files.inspect(data, settings)
        elif suffix == ".json":
            document = json_files.read_document(data, settings)
            kind = complaints.kind_of(document)
            if kind is not None:
                item.complaint_entries = (kind, complaints.entries(document, kind))
            else:
                item.parsed_rows = json_files.rows_of(document)
        elif suffix == ".xlsx":
            item.parsed_rows = xlsx_files.read_rows(item.batch.archived.stored_at, settings)
        else:
            raise FileRefused(
                "unsupported_type",
                f"'{suffix or 'no extension'}' files are not read; send .csv, .xlsx or .json",
            )
    except FileRefused as refusal:
        item.batch.refusal = refusal
    except Exception as exc:  # a reader's own bug must not stop the other files
        log.exception("reading %s failed", name)
        code = {".csv": "bad_csv", ".json": "bad_json"}.get(suffix, "bad_xlsx")
        item.batch.refusal = FileRefused(
            code, f"the file could not be read ({type(exc).__name__}: {printable(str(exc))[:200]})"
        )


def _bad_csv_reason(exc: Exception) -> str:
    # DuckDB's message quotes the offending line: a few hundred characters of it are enough
    lines = [printable(ln.strip()[:200]) for ln in str(exc).splitlines() if ln.strip()]
    detail = "; ".join(ln for ln in lines[:3])
    return f"not a well-formed CSV ({detail}); the file may be truncated: send it again complete"


def _diagnose_csv(item: InboxFile, exc: Exception) -> FileRefused:
    """Why DuckDB could not read a CSV: a code page problem is named, else the parse error."""
    data = item.batch.archived.stored_at.read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as bad:
        return FileRefused("not_utf8", csv_files.not_utf8_reason(data, bad))
    return FileRefused("bad_csv", _bad_csv_reason(exc))


def _collect_csv(con: duckdb.DuckDBPyConnection, items: list[InboxFile]) -> None:
    """Collects CSV files, one scan per header layout; a malformed file is refused alone."""
    groups: dict[csv_files.CsvLayout, list[InboxFile]] = defaultdict(list)
    for item in items:
        groups[item.layout].append(item)
    for layout, group in groups.items():
        files = [
            csv_files.CsvFile(
                i.batch.archived.sha256, i.batch.source_file, i.batch.archived.stored_at
            )
            for i in group
        ]
        try:
            csv_files.collect(con, layout, files, SOURCE)
            continue
        except (duckdb.Error, csv_files.CsvInterleaved) as exc:
            if len(group) == 1 and isinstance(exc, duckdb.Error):
                group[0].batch.refusal = _diagnose_csv(group[0], exc)
                continue
            log.info("reading %d CSV files one by one (%s)", len(group), exc)
        for item, one in zip(group, files, strict=True):
            try:
                csv_files.collect(con, layout, [one], SOURCE)
            except duckdb.Error as exc:
                item.batch.refusal = _diagnose_csv(item, exc)


def _collect_parsed(con: duckdb.DuckDBPyConnection, items: list[InboxFile]) -> None:
    records = []
    for item in items:
        for row in item.parsed_rows or []:
            records.append(
                {
                    "batch_sha256": item.batch.archived.sha256,
                    "source": SOURCE,
                    **row,
                    "submission_id": None,
                }
            )
    if records:
        rows.collect_records(con, records)


def _judge_complaints(con: duckdb.DuckDBPyConnection, items: list[InboxFile]) -> None:
    """Judges complaints and decisions files in the order they arrived (a decision may name a
    complaint of an earlier file of the same run); their corrected answers join the others."""
    judged: list[complaints.Judged] = []
    for item in items:
        kind, entries = item.complaint_entries  # type: ignore[misc]
        one = complaints.judge(con, kind, entries, judged)
        item.batch.judged = [one]
        judged.append(one)
        complaints.collect_answers(con, item.batch.archived.sha256, SOURCE, one)


def _shorten(name: str, max_bytes: int) -> str:
    """``name`` cut (at a character boundary) to at most ``max_bytes`` bytes."""
    raw = os.fsencode(name)
    if len(raw) <= max_bytes:
        return name
    return os.fsdecode(raw[:max_bytes].decode("utf-8", "ignore").encode("utf-8"))


def _lexists(path: Path) -> bool:
    return os.path.lexists(path)


def _lexists_in(fd: int, name: str) -> bool:
    try:
        os.lstat(name, dir_fd=fd)
    except FileNotFoundError:
        return False
    return True


def _write_note(folder_fd: int, name: str, data: bytes) -> None:
    """``name`` in the folder holds ``data``: written to a new temporary name that cannot be
    a link, then renamed over ``name`` (a link planted there is replaced, never followed)."""
    tmp = f".note-{os.getpid()}-{secrets.token_hex(6)}.tmp"  # short: the name may be at NAME_MAX
    fd = os.open(tmp, _NOTE_FLAGS, 0o644, dir_fd=folder_fd)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, name, src_dir_fd=folder_fd, dst_dir_fd=folder_fd)
    except BaseException:
        try:
            os.unlink(tmp, dir_fd=folder_fd)
        except OSError:
            pass
        raise


def _free_name(
    folder: Path, name: str, sha256: str, taken: Callable[[str], bool] | None = None
) -> Path:
    """A name in ``folder`` not taken yet, short enough for its flag beside it; a name already
    there gets the sha256 prefix added (nothing is overwritten). ``taken`` looks a name up
    (through the folder's descriptor during the move)."""
    if taken is None:
        taken = lambda n: _lexists(folder / n)  # noqa: E731
    room = NAME_MAX - len(READY_SUFFIX) - len(".00")
    target = folder / name
    if len(os.fsencode(name)) <= room and not taken(name) and not taken(name + READY_SUFFIX):
        return target
    stem, dot, ext = name.rpartition(".")
    if not (dot and stem) or len(os.fsencode(ext)) > 16:
        stem, dot, ext = name, "", ""
    tail = f".{sha256[:12]}{dot}{ext}"
    base = _shorten(stem, room - len(os.fsencode(tail))) + tail
    target, n = folder / base, 1
    while taken(target.name) or taken(target.name + READY_SUFFIX):
        target, n = folder / f"{base}.{n}", n + 1
    return target


def _note_path(target: Path, sha256: str) -> Path:
    """``<name>.reason.json`` beside the file, or a shortened name ending in the sha256
    prefix when that would be too long for the file system (the note names the file)."""
    name = target.name + NOTE_SUFFIX
    if len(os.fsencode(name)) <= NAME_MAX:
        return target.with_name(name)
    tail = f".{sha256[:12]}{NOTE_SUFFIX}"
    return target.with_name(_shorten(target.name, NAME_MAX - len(tail)) + tail)


def _unchanged(item: InboxFile) -> bool:
    """Whether the file in the inbox still holds the bytes that were read (and recorded)."""
    if item.unread_target is not None:
        return True  # never read: moved as it is
    try:
        now = os.lstat(item.path)
        if not stat.S_ISREG(now.st_mode) or now.st_ino != item.seen.st_ino:
            return False
        digest = hashlib.sha256()
        with os.fdopen(os.open(item.path, _OPEN_FLAGS), "rb") as handle:
            while chunk := handle.read(1024 * 1024):
                digest.update(chunk)
    except OSError:
        return False
    return digest.hexdigest() == item.batch.archived.sha256


def _move(
    item: InboxFile, result: BatchResult, con: duckdb.DuckDBPyConnection, folders: _Folders
) -> Path | None:
    """Moves a recorded file and its flag out of the inbox (its bytes are in the archive, or
    it was refused unread and is moved as it is); a file changed since it was read stays.
    Every name is written through the folder's descriptor: nothing follows a link."""
    if not _unchanged(item):
        log.warning(
            "%s changed after it was read: the bytes read are recorded (%s, sha256 %s…); the "
            "file and its flag stay in the inbox and are read again by the next run",
            result.source_file, result.outcome, result.sha256[:12],
        )  # fmt: skip
        return None
    keep = result.outcome in ("loaded", "duplicate")
    folder_name = PROCESSED_DIR if keep else QUARANTINE_DIR
    folder_fd = folders.fd(folder_name)
    target = item.unread_target or _free_name(
        item.path.parent / folder_name, item.path.name, result.sha256,
        taken=lambda name: _lexists_in(folder_fd, name),
    )  # fmt: skip
    inbox_fd = folders.fd("")
    os.replace(item.path.name, target.name, src_dir_fd=inbox_fd, dst_dir_fd=folder_fd)
    if _lexists_in(inbox_fd, item.flag.name):  # a flag that is also a data name may have moved
        os.replace(
            item.flag.name, target.name + READY_SUFFIX, src_dir_fd=inbox_fd, dst_dir_fd=folder_fd
        )
    if result.outcome != "loaded":
        refused_rows = con.execute(
            """select source_row, reason_code, reason from raw.quarantine_rows
               where batch_sha256 = ? order by source_row limit 1000""",
            [result.sha256],
        ).fetchall()
        note = {
            "source_file": result.source_file,
            "sha256": result.sha256,
            "outcome": result.outcome,
            "reason_code": result.reason_code,
            "reason": result.reason,
            "rows_total": result.rows_total,
            "rows_loaded": result.rows_loaded,
            "rows_refused": result.rows_refused,
            "stored_at": result.stored_at,
            "refused_rows": [
                {"row": r, "reason_code": c, "reason": why} for r, c, why in refused_rows
            ],
        }
        note_name = _note_path(target, result.sha256).name
        text = json.dumps(note, ensure_ascii=False, indent=2).encode("utf-8")
        _write_note(folder_fd, note_name, text)
    return target


def _chunks(items: list[InboxFile]) -> list[list[InboxFile]]:
    chunks: list[list[InboxFile]] = [[]]
    size = 0
    for item in items:
        item_size = item.seen.st_size
        if chunks[-1] and (size + item_size > CHUNK_BYTES or len(chunks[-1]) >= CHUNK_FILES):
            chunks.append([])
            size = 0
        chunks[-1].append(item)
        size += item_size
    return [c for c in chunks if c]


def ingest_inbox(con: duckdb.DuckDBPyConnection, settings: Settings, report: IngestReport) -> None:
    """Archives, judges, records and moves every ready file, one transaction per chunk.

    A crash after a chunk's commit but before its files are moved leaves them in the inbox;
    the next run records them as duplicates of themselves (nothing loads twice).
    """
    items = ready_files(settings.inbox)
    if not items:
        log.info("inbox %s: no file with a .ready flag", settings.inbox)
        return
    try:
        folders = _open_folders(settings.inbox)
    except InboxFolderRefused as refused:
        log.error("%s", refused)
        report.errors.append(str(refused))
        return
    except OSError as exc:
        report.errors.append(
            f"hộp thư: không mở được {printable(str(settings.inbox))} ({exc.strerror}); "
            "không tệp nào được đọc"
        )
        return
    try:
        _ingest_chunks(con, settings, report, items, folders)
    finally:
        folders.close()


def _ingest_chunks(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    report: IngestReport,
    items: list[InboxFile],
    folders: _Folders,
) -> None:
    for chunk in _chunks(items):
        for item in chunk:
            _prepare(item, settings)
        loaded = ledger.already_loaded(con, [i.batch.archived.sha256 for i in chunk])
        collected: dict[str, str] = {}
        for item in chunk:
            batch = item.batch
            if batch.refusal is not None:
                continue
            sha = batch.archived.sha256
            if sha in loaded or sha in collected:
                batch.duplicate_of = loaded.get(sha) or collected[sha]
            else:
                collected[sha] = str(batch.archived.stored_at)
        live = [i for i in chunk if i.batch.refusal is None and i.batch.duplicate_of is None]
        _collect_csv(con, [i for i in live if i.layout is not None])
        _collect_parsed(con, [i for i in live if i.parsed_rows is not None])
        _judge_complaints(con, [i for i in live if i.complaint_entries is not None])
        refused_here = {i.batch.archived.sha256: i.batch.refusal for i in live if i.batch.refusal}
        for item in chunk:  # a copy of a file refused in this very chunk is refused alike
            sha = item.batch.archived.sha256
            if item.batch.duplicate_of is not None and sha in refused_here and sha not in loaded:
                item.batch.duplicate_of, item.batch.refusal = None, refused_here[sha]
        results = batches.commit(con, [i.batch for i in chunk])
        for item, result in zip(chunk, results, strict=True):
            report.add(result)
            try:
                _move(item, result, con, folders)
            except OSError as exc:  # recorded already: the next run sees it as a copy
                log.error("could not move %s out of the inbox: %s", result.source_file, exc)
                where = printable(str(settings.inbox / (exc.filename or "")))
                report.errors.append(
                    f"inbox: {result.source_file} is recorded ({result.outcome}) but could not "
                    f"be moved out of the inbox ({exc.strerror}: {where}); move it and its flag "
                    "by hand"
                )
