"""The releases of a period: built aside, switched in one step, kept whole (results.md §8.4).

Layout under ``OUT``::

    OUT/<period>                  symlink -> .releases/<period>/<n>: the current release
    OUT/.releases/<period>/<n>/   release n, complete (files and manifest.json); its
                                  ``releases/<k>`` are symlinks to the earlier releases
    OUT/.releases/<period>/.staging-*   a release being built (removed if a run dies)
    OUT/.releases/<period>/rejected/<n>-<time>/   drafts rejected or superseded

A release folder appears only by ``rename`` of a finished staging folder, and the current
release changes only by ``rename`` of a new symlink over ``OUT/<period>``: a kill or a full
disk at any point leaves the previous release live and every ``releases/<n>/`` whole.

Lifecycle: a release is built as a ``draft`` (when approval is required) or ``approved`` at
once; an approved release is the current one when it is the highest approved number. The
invariant ``OUT/<period>`` → the highest approved release is re-established by
``ReleaseStore.recover`` at the start of every publish and every ``dti release`` command,
which is how the next run completes a job a kill interrupted. Numbers run 1, 2, 3… without
gaps; a rejected or superseded draft leaves its number to the next draft.

A rollback (``ReleaseStore.rollback``, `dti release rollback`) is a new release too: the next
number, holding the files of the earlier release it returns to (hard links) and recording
``rollback_of``, who asked and why; it is a draft like any release when approval is required.
So the invariant above stays the only rule (nothing can silently undo a rollback), the history
keeps every step, and the DTI site, which never lets an older number replace a newer one,
takes it like any new release.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import json
import logging
import os
import re
import shutil
import signal
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from publish import citations, site_index
from publish import council as council_decision
from publish.council import Council
from publish.drafts_server import PORT as DRAFTS_PORT
from publish.jsontext import dumps
from publish.numbers import vn_number
from publish.results import load_results
from publish.site import UNIT_DIR, block_name, unit_page_name

log = logging.getLogger(__name__)

STORE = ".releases"
RELEASES = "releases"  # inside a release: the earlier releases
REJECTED = "rejected"
MANIFEST = "manifest.json"
COMPARED = ("status", "total_score", "level", "rank")

DRAFT, APPROVED, REJECTED_STATUS, SUPERSEDED = "draft", "approved", "rejected", "superseded"
PRELIMINARY, FINAL = "preliminary", "final"
# a release publishes the results as preliminary (công bố sơ bộ) or final (chính thức); not
# "stage", which is the answer's (self / appraisal)
PUBLICATIONS = (PRELIMINARY, FINAL)
PUBLICATION = "publication"
OLD_PUBLICATION = "stage"  # the key before it had its own word

# Test-only: ``DTI_TEST_KILL_AT=<point>`` kills the process with SIGKILL at that point, so the
# tests can prove a kill anywhere leaves the previous release live (tests/publish).
KILL_ENV = "DTI_TEST_KILL_AT"


def kill_point(name: str) -> None:
    if os.environ.get(KILL_ENV) == name:
        log.warning("%s=%s: killing the process (test)", KILL_ENV, name)
        os.kill(os.getpid(), signal.SIGKILL)


class PublishError(RuntimeError):
    """A release could not be written or switched; the message names the path."""


def _is_number(name: str) -> bool:
    """A folder named by a release or period number: ASCII digits only (``str.isdigit`` also
    takes "²", on which ``int`` fails, and "٣")."""
    return re.fullmatch(r"[0-9]{1,9}", name) is not None


def now_utc() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def write_new_file(path: Path, data: bytes) -> None:
    """Creates ``path`` (never over an existing file); errors name the path."""
    try:
        with open(path, "xb") as handle:
            handle.write(data)
    except OSError as exc:
        raise _error("cannot write", path, exc) from exc


def _error(what: str, path: Path, exc: OSError) -> PublishError:
    hint = " (the disk is full: free space and run again)" if exc.errno == errno.ENOSPC else ""
    return PublishError(
        f"{what} {path}: {exc.strerror or exc}{hint}; the current release is unchanged and "
        "the next run completes the job"
    )


def durable(path: Path, *, tree: bool = True) -> None:
    """Forces ``path`` to disk (fsync): a file, or a folder's entries and, with ``tree``,
    every file and folder under it (symlinks are entries of their folder, not followed).

    A rename is atomic but not durable: after a power cut the journal may hold the renamed
    folder or the switched ``OUT/<period>`` symlink while the data of the files it names was
    never written. So a release is synced before it is renamed into the store, the store
    after the rename, and ``OUT`` after the symlink swap.
    """
    try:
        if tree and path.is_dir() and not path.is_symlink():
            for folder, dirs, files in os.walk(path, topdown=False):
                for name in files:
                    entry = Path(folder, name)
                    # a hard link to an earlier release's file: its data was synced before
                    # that release was committed, and the new name is an entry of the folder
                    # (synced below); at national scale most files of a revision are links
                    if not entry.is_symlink() and entry.stat().st_nlink == 1:
                        _fsync(entry, os.O_RDONLY)
                for name in dirs:
                    if not Path(folder, name).is_symlink():
                        _fsync(Path(folder, name), os.O_RDONLY | os.O_DIRECTORY)
        flags = os.O_RDONLY | (os.O_DIRECTORY if path.is_dir() else 0)
        _fsync(path, flags)
    except OSError as exc:
        raise _error("cannot sync to disk", path, exc) from exc


def _fsync(path: Path, flags: int) -> None:
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_file(path: Path, data: bytes) -> None:
    """Writes ``path`` through a temporary file and one rename, durably."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_bytes(data)
        durable(tmp)
        os.replace(tmp, path)
        durable(path.parent, tree=False)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise _error("cannot write", path, exc) from exc


def read_manifest(release_dir: Path) -> dict | None:
    try:
        data = json.loads((release_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def release_info(manifest: dict | None) -> dict:
    """The ``release`` object of a manifest; bundles before the lifecycle count as approved
    and final, and a manifest written with the old key ``stage`` is read as ``publication``
    (and rewritten with the new key by the next decision on it)."""
    info = dict((manifest or {}).get("release") or {})
    info.setdefault("status", APPROVED)
    old = info.pop(OLD_PUBLICATION, None)
    info.setdefault(PUBLICATION, old or FINAL)
    return info


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:  # a file system without hard links
        shutil.copy2(source, target)


_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Swaps two paths atomically (Linux ``renameat2(RENAME_EXCHANGE)``); False if unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd = -100
    done = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE)
    if done != 0:
        err = ctypes.get_errno()
        if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
            return False
        raise OSError(err, os.strerror(err), str(a))
    return True


@dataclass(frozen=True)
class Release:
    number: int
    path: Path
    manifest: dict

    @property
    def info(self) -> dict:
        return release_info(self.manifest)

    @property
    def status(self) -> str:
        return self.info["status"]


class ReleaseStore:
    """The releases of one period under ``out``."""

    def __init__(self, out: Path, period: int) -> None:
        self.out = out
        self.period = period
        self.live = out / str(period)
        self.root = out / STORE / str(period)
        self._lock_depth = 0

    @contextmanager
    def lock(self) -> Iterator[None]:
        """One writer per period at a time (a CLI command while Airflow publishes waits);
        re-entrant within this object."""
        if self._lock_depth:
            self._lock_depth += 1
            try:
                yield
            finally:
                self._lock_depth -= 1
            return
        path = self.out / STORE / f"{self.period}.lock"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise _error("cannot lock", path, exc) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            self._lock_depth = 1
            yield
        finally:
            self._lock_depth = 0
            os.close(fd)  # releases the lock

    # --- reading ---------------------------------------------------------------------------

    def path(self, number: int) -> Path:
        return self.root / str(number)

    def numbers(self) -> list[int]:
        if not self.root.is_dir():
            return []
        return sorted(int(p.name) for p in self.root.iterdir() if _is_number(p.name))

    def release(self, number: int) -> Release:
        """Release ``number``; one whose manifest was lost since counts as approved, with no
        files (nothing is reused from it and it is never pushed)."""
        path = self.path(number)
        manifest = read_manifest(path)
        if manifest is None:
            log.warning("%s is missing or unreadable", path / MANIFEST)
        return Release(number, path, manifest or {})

    def releases(self) -> Iterator[Release]:
        for number in self.numbers():
            yield self.release(number)

    def live_number(self) -> int | None:
        """The release ``OUT/<period>`` points at, or None (nothing live, or the old layout)."""
        if not self.live.is_symlink():
            return None
        match = re.fullmatch(r".*/(\d+)", os.readlink(self.live))
        return int(match.group(1)) if match and self.path(int(match.group(1))).is_dir() else None

    def current(self) -> Release | None:
        number = self.live_number()
        return self.release(number) if number is not None else None

    def approved_numbers(self) -> list[int]:
        return [r.number for r in self.releases() if r.status == APPROVED]

    def draft(self) -> Release | None:
        """The release waiting for approval: a draft above every approved release."""
        numbers = self.numbers()
        if not numbers:
            return None
        top = self.release(numbers[-1])
        return top if top.status == DRAFT else None

    def rejected(self) -> list[dict]:
        folder = self.root / REJECTED
        if not folder.is_dir():
            return []
        found = []
        for path in sorted(folder.iterdir()):
            manifest = read_manifest(path)
            if manifest is not None:
                found.append({"folder": _store_relative(path), **release_info(manifest)})
        return found

    def next_number(self) -> int:
        approved = [n for n in self.numbers() if self.release(n).status == APPROVED]
        return (approved[-1] if approved else 0) + 1

    # --- keeping the invariant -------------------------------------------------------------

    def recover(self) -> None:
        """Completes what an interrupted run left: the old layout migrated, staging folders
        removed, a rejected draft moved aside, and ``OUT/<period>`` on the highest approved
        release."""
        with self.lock():
            self._recover()

    def _recover(self) -> None:
        if self.live.is_dir() and not self.live.is_symlink():
            self._migrate_old_layout()
        if not self.root.is_dir():
            return
        for leftover in self.root.glob(".*"):
            log.info("removing %s left by an interrupted publish", leftover)
            if leftover.is_dir() and not leftover.is_symlink():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)
        for number in reversed(self.numbers()):
            release = self.release(number)
            if release.status in (REJECTED_STATUS, SUPERSEDED):
                self._move_aside(release)
            else:
                break
        approved = self.approved_numbers()
        if approved and self.live_number() != approved[-1]:
            self.switch_to(approved[-1])

    def switch_to(self, number: int) -> None:
        """Points ``OUT/<period>`` at release ``number`` with one rename."""
        target = os.path.relpath(self.path(number), self.out)
        tmp = self.root / f".live-{os.getpid()}"
        try:
            tmp.unlink(missing_ok=True)
            os.symlink(target, tmp)
            durable(self.root, tree=False)  # the release folder's name, committed to disk
            kill_point("before-switch")
            os.replace(tmp, self.live)
            durable(self.out, tree=False)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise _error("cannot switch", self.live, exc) from exc
        log.info("period %s: release %s is current (%s)", self.period, number, self.live)
        refresh_site_index(self.out)

    # --- building --------------------------------------------------------------------------

    def new_staging(self) -> Path:
        """A new empty staging folder beside the releases."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=self.root))
            staging.chmod(0o755)  # mkdtemp's 0700 would hide the release from a web server
            return staging
        except OSError as exc:
            raise _error("cannot create a staging folder in", self.root, exc) from exc

    def link_history(self, staging: Path, number: int) -> None:
        """``releases/<k>`` → ``../../<k>`` for every release before ``number``."""
        earlier = [n for n in self.numbers() if n < number]
        if not earlier:
            return
        folder = staging / RELEASES
        try:
            folder.mkdir()
            for k in earlier:
                os.symlink(f"../../{k}", folder / str(k))
        except OSError as exc:
            raise _error("cannot write", folder, exc) from exc

    def commit(self, staging: Path, number: int) -> Release:
        """Renames the finished staging folder to release ``number`` (a draft in the way, never
        approved, is superseded and moved aside first)."""
        existing = self.path(number)
        if existing.exists():
            old = self.release(number)
            if old.status == APPROVED:
                raise PublishError(f"{existing} is already an approved release")
            self.set_status(number, SUPERSEDED)
            self._move_aside(self.release(number))
        durable(staging)
        kill_point("before-commit")
        try:
            os.rename(staging, existing)
            durable(self.root, tree=False)
        except OSError as exc:
            raise _error("cannot move the new release to", existing, exc) from exc
        kill_point("after-commit")
        return self.release(number)

    def discard(self, staging: Path) -> None:
        shutil.rmtree(staging, ignore_errors=True)

    # --- decisions -------------------------------------------------------------------------

    def set_status(self, number: int, status: str, **fields: object) -> Release:
        release = self.release(number)
        manifest = dict(release.manifest)
        manifest["release"] = {**release_info(manifest), "status": status, **fields}
        replace_file(release.path / MANIFEST, dumps(manifest).encode("utf-8"))
        return self.release(number)

    def approve(
        self,
        number: int,
        by: str,
        reviewed_sha256: str,
        reason: str = "",
        *,
        council: Council | None = None,
        key_path: Path | None = None,
    ) -> Release:
        """Records ``by``'s approval of draft ``number`` (who, when, why, the checksum reviewed;
        signed when the council signs) provided its bundle is still the one reviewed
        (``reviewed_sha256``), and makes it the current release once ``council.quorum``
        distinct approvers approved it. The release already current with that checksum is
        answered as it is, and so is a second approval by the same person: deciding twice
        changes nothing."""
        council = council or Council()
        council.approver(by)  # a name not on the list is refused before anything is read
        with self.lock():
            return self._approve(number, by, reviewed_sha256, reason, council, key_path)

    def _approve(
        self,
        number: int,
        by: str,
        reviewed_sha256: str,
        reason: str,
        council: Council,
        key_path: Path | None,
    ) -> Release:
        self._recover()
        if self.live_number() == number:
            current = self.release(number)
            _check_reviewed(self.period, current, reviewed_sha256)
            return current
        draft = self._waiting(number)
        _check_reviewed(self.period, draft, reviewed_sha256)
        info = draft.info
        approvals = list(info.get("approvals") or [])
        entry = self._decision(
            council, draft, council_decision.APPROVED, by, reason, key_path, previous=approvals
        )
        if entry is None:  # this approver approved it already: counted once
            return draft
        approvals.append(entry)
        counted = council_decision.distinct_approvers(approvals)
        if len(counted) < council.quorum:
            log.info(
                "period %s: draft %s approved by %s (%d of %d)",
                self.period, number, entry["approver"], len(counted), council.quorum,
            )  # fmt: skip
            return self.set_status(draft.number, DRAFT, approvals=approvals, quorum=council.quorum)
        fields: dict[str, object] = {
            "approvals": approvals,
            "quorum": council.quorum,
            "approved_by": ", ".join(dict.fromkeys(str(a["name"]) for a in approvals)),
            "approved_at": entry["at"],
        }
        if reason:
            fields["approval_reason"] = reason
        release = self.set_status(draft.number, APPROVED, **fields)
        kill_point("approved")
        self.switch_to(release.number)
        return release

    def _decision(
        self,
        council: Council,
        draft: Release,
        decision: str,
        by: str,
        reason: str,
        key_path: Path | None,
        previous: Sequence[Mapping] = (),
    ) -> dict | None:
        """The entry of one decision on ``draft`` (``council.decision_entry``), over the
        manifest as the decision writes it back; None when ``by`` already made it."""
        manifest = {**draft.manifest, "release": draft.info}
        try:
            entry = council_decision.decision_entry(
                council, manifest, draft.number, decision, by=by, at=now_utc(), reason=reason,
                reviewed_sha256=str(draft.manifest.get("bundle_sha256") or ""),
                key_path=key_path,
            )  # fmt: skip
        except council_decision.CouncilError as exc:
            raise PublishError(f"kỳ {self.period}, bản {draft.number}: {exc}") from None
        if entry["approver"] in council_decision.distinct_approvers(previous):
            return None
        return entry

    def reject(
        self,
        number: int,
        by: str,
        reason: str,
        reviewed_sha256: str | None = None,
        *,
        council: Council | None = None,
        key_path: Path | None = None,
    ) -> Release:
        """Records the rejection (who, when, why; signed when the council signs) in draft
        ``number``'s manifest and moves it aside; the current release stays. One member's
        rejection suffices: the draft must be rebuilt and approved anew. A draft already
        rejected is answered as it is."""
        council = council or Council()
        council.approver(by)
        with self.lock():
            return self._reject(number, by, reason, reviewed_sha256, council, key_path)

    def _reject(
        self,
        number: int,
        by: str,
        reason: str,
        reviewed_sha256: str | None,
        council: Council,
        key_path: Path | None,
    ) -> Release:
        self._recover()
        if not (reason or "").strip():
            raise PublishError(f"kỳ {self.period}: từ chối bản {number} cần ghi lý do (--reason)")
        done = self._rejected_release(number, reviewed_sha256)
        if done is not None:
            return done
        draft = self._waiting(number)
        if reviewed_sha256:
            _check_reviewed(self.period, draft, reviewed_sha256)
        entry = self._decision(council, draft, council_decision.REJECTED, by, reason, key_path)
        assert entry is not None
        release = self.set_status(
            draft.number, REJECTED_STATUS, rejected_by=entry["name"], rejected_at=entry["at"],
            reason=reason, rejections=[entry],
        )  # fmt: skip
        return self._move_aside(release)

    def rollback(
        self, to: int, by: str, reason: str, approval_required: bool
    ) -> tuple[Release, bool]:
        """Makes a new release holding the files of approved release ``to``, current at once
        or a draft waiting for approval; returns it and whether it was made now (a rollback
        to the release already current, or one already waiting, is answered as it is)."""
        with self.lock():
            return self._rollback(to, by, reason, approval_required)

    def _rollback(
        self, to: int, by: str, reason: str, approval_required: bool
    ) -> tuple[Release, bool]:
        self._recover()
        if not (reason or "").strip():
            raise PublishError(f"kỳ {self.period}: quay lại bản {to} cần ghi lý do (--reason)")
        if to not in self.numbers():
            raise PublishError(
                f"kỳ {self.period}: không có bản số {to}. Xem: dti release list --period "
                f"{self.period}"
            )
        target = self.release(to)
        if target.status != APPROVED or not target.manifest.get("files"):
            raise PublishError(
                f"kỳ {self.period}: bản {to} chưa từng được phê duyệt (trạng thái "
                f"{target.status}) hoặc không còn tệp; chỉ quay lại được một bản đã công bố"
            )
        current = self.current()
        same = target.manifest.get("bundle_sha256")
        if current is not None and current.manifest.get("bundle_sha256") == same:
            return current, False  # already what the site shows
        waiting = self.draft()
        if waiting is not None and waiting.info.get("rollback_of") == to:
            return waiting, False  # asked twice: the same draft waits for its decision
        number = self.next_number()
        staging = self.new_staging()
        try:
            for entry in target.path.iterdir():
                if entry.name in (RELEASES, MANIFEST):
                    continue
                if entry.is_dir() and not entry.is_symlink():
                    shutil.copytree(entry, staging / entry.name, copy_function=_link_or_copy)
                else:
                    _link_or_copy(str(entry), str(staging / entry.name))
            self.link_history(staging, number)
            results = load_results(target.path / "results.json") or {}
            manifest = dict(target.manifest)
            manifest["release"] = {
                "number": number,
                "previous_release": current.number if current else None,
                "status": DRAFT if approval_required else APPROVED,
                PUBLICATION: release_info(target.manifest)[PUBLICATION],
                "approval_required": approval_required,
                "rollback_of": to,
                "rollback_by": by,
                "rollback_at": now_utc(),
                "rollback_reason": reason,
            }
            pages = {
                u["unit_code"]: (path, files[path])
                for files in [{f["path"]: f["sha256"] for f in target.manifest["files"]}]
                for u in results.get("units", [])
                if (path := f"{UNIT_DIR}/{unit_page_name(u['unit_code'])}") in files
            }
            manifest["changes"], manifest["pages_changed"] = changes_since(current, results, pages)
            write_new_file(staging / MANIFEST, dumps(manifest).encode("utf-8"))
        except BaseException:
            self.discard(staging)
            raise
        committed = self.commit(staging, number)
        if not approval_required:
            self.switch_to(number)
        log.info(
            "period %s: release %s returns to release %s (%s)", self.period, number, to,
            "current" if not approval_required else "draft waiting for approval",
        )  # fmt: skip
        return committed, True

    def _waiting(self, number: int) -> Release:
        draft = self.draft()
        if draft is None or number != draft.number:
            current = self.live_number()
            raise PublishError(
                f"kỳ {self.period}: không có bản nháp số {number} đang chờ phê duyệt"
                + (f" (bản nháp đang chờ: số {draft.number})" if draft is not None else "")
                + (f"; bản hiện hành: số {current}" if current is not None else "")
                + f". Xem: dti release list --period {self.period}"
            )
        return draft

    def _rejected_release(self, number: int, reviewed_sha256: str | None) -> Release | None:
        """Draft ``number`` as rejected, when that is what it is now (a second Reject)."""
        folder = self.root / REJECTED
        waiting = self.draft()
        if not folder.is_dir() or (waiting is not None and waiting.number == number):
            return None
        for path in sorted(folder.iterdir(), reverse=True):
            manifest = read_manifest(path)
            info = release_info(manifest)
            if (
                manifest is not None
                and info.get("number") == number
                and info.get("status") == REJECTED_STATUS
                and (
                    not reviewed_sha256
                    or str(manifest.get("bundle_sha256", "")).startswith(reviewed_sha256.lower())
                )
            ):
                return Release(number, path, manifest)
        return None

    def _move_aside(self, release: Release) -> Release:
        folder = self.root / REJECTED
        folder.mkdir(exist_ok=True)
        stamp = re.sub(r"\D", "", release.info.get("rejected_at") or now_utc())
        target = folder / f"{release.number}-{stamp}"
        suffix = 0
        while target.exists():
            suffix += 1
            target = folder / f"{release.number}-{stamp}-{suffix}"
        os.rename(release.path, target)
        log.info("period %s: draft %s moved to %s", self.period, release.number, target)
        return Release(release.number, target, release.manifest)

    # --- the layout before releases were atomic --------------------------------------------

    def _migrate_old_layout(self) -> None:
        """``OUT/<period>/`` as a real folder (files + ``releases/<k>/``) becomes releases in
        the store, then the folder is swapped for the symlink in one step."""
        log.info("period %s: moving %s to the release layout", self.period, self.live)
        self.root.mkdir(parents=True, exist_ok=True)
        old_releases = self.live / RELEASES
        kept = (
            sorted(int(p.name) for p in old_releases.iterdir() if _is_number(p.name))
            if old_releases.is_dir()
            else []
        )
        for k in kept:
            if not self.path(k).exists():
                self._import(old_releases / str(k), k)
        manifest = read_manifest(self.live)
        if manifest is not None:
            number = max(int(release_info(manifest).get("number") or 0), max(kept or [0]) + 1)
            if not self.path(number).exists():
                self._import(self.live, number)
        aside = self.root / f".old-layout-{os.getpid()}"
        approved = self.approved_numbers()
        if approved:
            link = self.root / f".live-{os.getpid()}"
            link.unlink(missing_ok=True)
            os.symlink(os.path.relpath(self.path(approved[-1]), self.out), link)
            if _exchange(link, self.live):
                os.rename(link, aside)  # ``link`` now names the old folder
            else:
                os.rename(self.live, aside)
                os.replace(link, self.live)
        else:  # a first publish that died half way: nothing was ever complete
            os.rename(self.live, aside)
        shutil.rmtree(aside, ignore_errors=True)

    def _import(self, source: Path, number: int) -> None:
        staging = self.new_staging()
        for entry in source.iterdir():
            if entry.name == RELEASES:
                continue
            if entry.is_dir():
                shutil.copytree(entry, staging / entry.name, copy_function=_link_or_copy)
            else:
                _link_or_copy(str(entry), str(staging / entry.name))
        self.link_history(staging, number)
        durable(staging)
        os.rename(staging, self.path(number))
        durable(self.root, tree=False)


MIN_CHECKSUM_PREFIX = 12


def _check_reviewed(period: int, release: Release, reviewed_sha256: str) -> None:
    """A decision names the bundle that was reviewed: a draft rebuilt since (same number,
    other files) is not the one the approver looked at, and is refused."""
    reviewed = (reviewed_sha256 or "").strip().lower()
    actual = str(release.manifest.get("bundle_sha256") or "")
    if len(reviewed) < MIN_CHECKSUM_PREFIX or not re.fullmatch(r"[0-9a-f]+", reviewed):
        raise PublishError(
            f"kỳ {period}, bản {release.number}: cần mã kiểm tra (bundle_sha256) của bản đã xem "
            f"xét, ít nhất {MIN_CHECKSUM_PREFIX} ký tự hệ 16 (--checksum; xem: dti release list "
            f"--period {period})"
        )
    if not actual.startswith(reviewed):
        raise PublishError(
            f"kỳ {period}, bản {release.number} đã thay đổi kể từ khi được xem xét: mã kiểm tra "
            f"đã xem {reviewed[:16]}…, hiện tại {actual[:16]}…. Không phê duyệt; hãy xem lại "
            f"bản nháp hiện tại (dti release list --period {period}) và quyết định lại"
        )


# --- what changed between releases ----------------------------------------------------------


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


# what a unit page shows of other periods: a page whose unit's results did not move can still
# change because these did (the previous period was published since, a predecessor's result)
COMPARISON_FIELDS = ("previous", "trend")


def pages_between(
    old: dict | None,
    new: dict,
    old_files: Mapping[str, str],
    unit_pages: Mapping[str, tuple[str, str]],
    changes: Sequence[dict],
) -> list[dict]:
    """Units whose unit page differs from the old release's although their results
    (``COMPARED``) did not: ``old_files`` the old release's sha256 by path, ``unit_pages`` the
    new release's unit pages as ``unit_code: (path, sha256)``. ``cause`` is ``comparison``
    when what the page shows of other periods changed (``COMPARISON_FIELDS`` of results.json),
    else ``page`` (the page's text: block figures, the renderer)."""
    if old is None:
        return []
    moved = {c["unit_code"] for c in changes}
    old_units = {u["unit_code"]: u for u in old.get("units", [])}
    found = []
    for unit in new.get("units", []):
        code = unit["unit_code"]
        path, sha256 = unit_pages.get(code, (None, None))
        if code in moved or path is None or old_files.get(path) in (None, sha256):
            continue
        before = old_units.get(code, {})
        compared = any(before.get(f) != unit.get(f) for f in COMPARISON_FIELDS)
        found.append(
            {
                "unit_code": code,
                "unit_name": unit.get("unit_name"),
                "block": unit.get("block"),
                "cause": "comparison" if compared else "page",
            }
        )
    return found


def changes_since(
    current: Release | None, new: dict, unit_pages: Mapping[str, tuple[str, str]]
) -> tuple[list[dict], list[dict]]:
    """What a new release changes against ``current``, the release it replaces: the manifest's
    ``changes`` (``changes_between``) and ``pages_changed`` (``pages_between``)."""
    if current is None:
        return [], []
    old = load_results(current.path / "results.json")
    changes = changes_between(old, new)
    old_files = {f["path"]: f.get("sha256") for f in current.manifest.get("files") or []}
    return changes, pages_between(old, new, old_files, unit_pages, changes)


# --- what an approver reads -----------------------------------------------------------------

STATUS_WORDS = {"scored": "đã chấm điểm", "not_submitted": "chưa nộp"}  # fct_unit_scores.status
CAUSE_WORDS = {
    "comparison": "phần so sánh với các kỳ trước",
    "page": "số liệu chung của khối hoặc lời văn của trang",
}
PROMPT_ROWS = 50  # units listed per table of the prompt; the manifest lists them all


def _number(value: object) -> str:
    return "—" if value is None else vn_number(Decimal(str(value)))


def _plain(value: object) -> object:
    """A results.json number (``Decimal``) as JSON has it: an int or a float."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _level_names(results: dict, *manifests: dict | None) -> dict[str, str]:
    """Level code → label, from the manifests' ``levels`` (``marts.dim_levels``), then from
    results.json units' ``level_name`` where a manifest has none."""
    names: dict[str, str] = {}
    for manifest in manifests:
        for level in (manifest or {}).get("levels") or []:
            names.setdefault(str(level["level"]), str(level["level_name"]))
    for unit in results.get("units", []):
        if unit.get("level") and unit.get("level_name"):
            names.setdefault(str(unit["level"]), str(unit["level_name"]))
    return names


def _level_counts(results: dict, manifest: dict, names: Mapping[str, str]) -> list[dict]:
    """Units per level, lowest level first (the manifest's ``sort_order``)."""
    counts: dict[str, int] = {}
    for unit in results.get("units", []):
        if unit.get("level"):
            counts[str(unit["level"])] = counts.get(str(unit["level"]), 0) + 1
    order = [
        str(lv["level"])
        for lv in sorted(manifest.get("levels") or [], key=lambda lv: lv["sort_order"])
    ]
    order += sorted(set(counts) - set(order))
    return [
        {"level": lv, "level_name": names.get(lv, lv), "units": counts.get(lv, 0)} for lv in order
    ]


def _store_relative(path: Path) -> str:
    """``path`` from OUT on (``.releases/<period>/<n>``): what an approver may see of it."""
    parts = path.parts
    return "/".join(parts[parts.index(STORE) :]) if STORE in parts else path.name


def _unit_change(change: dict, units: Mapping[str, dict], names: Mapping[str, str]) -> dict:
    """A manifest ``changes`` entry with the unit's results ``before`` and ``after`` (every
    compared field, and the level's label)."""
    unit = units.get(change["unit_code"], {})
    after = {field: _plain(unit.get(field)) for field in COMPARED}
    before = dict(after)
    for field, moved in (change.get("changed") or {}).items():
        before[field], after[field] = moved.get("from"), moved.get("to")
    for side in (before, after):
        side["level_name"] = names.get(str(side["level"])) if side.get("level") else None
    return {**change, "before": before, "after": after}


def describe(release: Release, drafts_url: str | None = None) -> dict:
    """The facts of a release an approver needs, as plain data (``dti release list``, the
    approval prompt): ``url`` links its ``index.html`` under ``drafts_url`` (OUT served
    read-only, ``DTI_DRAFTS_URL``) when given."""
    manifest = release.manifest
    info = release.info
    warnings = [
        f"{run.get('checkpoint') or run.get('suite')}: {w}"
        for run in manifest.get("validation_runs") or []
        for w in run.get("warnings") or []
    ]
    previous_number = info.get("previous_release")
    previous = (
        read_manifest(release.path / RELEASES / str(previous_number)) if previous_number else None
    )
    results = load_results(release.path / "results.json") or {}
    names = _level_names(results, manifest, previous)
    units = {u["unit_code"]: u for u in results.get("units", [])}
    changes = [_unit_change(c, units, names) for c in manifest.get("changes") or []]
    moved = [c for c in changes if {"level", "rank", "status"} & set(c.get("changed") or {})]
    old_files = {f["path"]: f.get("sha256") for f in (previous or {}).get("files") or []}
    new_files = {f["path"]: f.get("sha256") for f in manifest.get("files") or []}
    folder = _store_relative(release.path)
    described = {
        "period": manifest.get("period"),
        "number": release.number,
        "levels": _level_counts(results, manifest, names),
        "not_submitted": sum(1 for u in units.values() if not u.get("level")),
        # relative to OUT: what `dti release list --json` prints names no path of this machine
        "folder": folder,
        **{k: v for k, v in info.items() if k != "number"},
        "built_at": manifest.get("built_at"),
        "bundle_sha256": manifest.get("bundle_sha256"),
        "validation_passed": (manifest.get("validation") or {}).get("passed"),
        "warnings": warnings,
        "units_moved": moved,
        "changes": changes,
        # None: a manifest written before releases recorded it (nothing known)
        "pages_changed": manifest.get("pages_changed"),
        # why each changed number moved (publish.citations); None: a release written before
        "answer_changes": manifest.get("answer_changes"),
        "unexplained_changes": manifest.get("unexplained_changes"),
        "files_changed": sorted(
            path
            for path in old_files.keys() | new_files.keys()
            if previous is not None and old_files.get(path) != new_files.get(path)
        ),
        "same_as_previous": previous is not None
        and previous.get("bundle_sha256") == manifest.get("bundle_sha256"),
    }
    if drafts_url:
        described["url"] = f"{drafts_url.rstrip('/')}/{folder}/index.html"
    return described


def _cell(text: object) -> str:
    """Text for a cell of a Markdown table."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def _unit(change: Mapping) -> str:
    name, code = change.get("unit_name"), change["unit_code"]
    return _cell(f"{name} ({code})" if name else code)


def _was(before: object, after: object) -> str:
    return after if before == after else f"{before} → {after}"  # type: ignore[return-value]


def _built_text(stamp: object) -> str:
    """``2024-02-20T03:00:00Z`` as ``10:00 ngày 20/02/2024`` (Vietnamese time)."""
    try:
        moment = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    except ValueError:
        return str(stamp)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(site_index.VIETNAM).strftime("%H:%M ngày %d/%m/%Y")


def _significance(change: Mapping) -> tuple:
    moved = set(change.get("changed") or {})
    return (not {"status", "level"} & moved, "rank" not in moved, change["unit_code"])


def _more(shown: int, total: int) -> list[str]:
    if total <= shown:
        return []
    return [f"… và {total - shown} đơn vị khác (đầy đủ trong `manifest.json` của bản nháp)."]


def approval_prompt(draft: dict) -> tuple[str, str]:
    """(subject, Markdown body) of the approval request for one period's draft release, as
    ``describe`` gives it; in Vietnamese, for the ICT department and the council."""
    period, number = draft["period"], draft["number"]
    publication = site_index.PUBLICATION_WORDS.get(
        str(draft.get(PUBLICATION)), str(draft.get(PUBLICATION))
    )
    subject = f"Phê duyệt kết quả DTI năm {period} — bản {number} ({publication})"
    replaced = draft.get("previous_release")
    lines = [f"## Kết quả DTI năm {period}: bản {number} chờ phê duyệt", ""]
    lines.append(
        f"- Bản này thay bản {replaced}, bản đang công bố."
        if replaced
        else "- Đây là bản công bố đầu tiên của kỳ."
    )
    if draft.get("rollback_of"):
        lines.append(
            f"- **Quay lại bản {draft['rollback_of']}**: cùng các tệp của bản đó; yêu cầu bởi "
            f"{_cell(draft.get('rollback_by'))}, lý do: {_cell(draft.get('rollback_reason'))}."
        )
    lines.append(f"- Hình thức công bố: **{publication}**.")
    lines.append(f"- Lập lúc {_built_text(draft.get('built_at'))} (giờ Việt Nam).")
    lines.append(
        "- Kiểm định dữ liệu: "
        + ("**đạt**." if draft.get("validation_passed") else "**KHÔNG ĐẠT** — không nên phê duyệt.")
    )
    if draft.get("warnings"):
        lines.append(f"- Cảnh báo của kiểm định ({len(draft['warnings'])}):")
        lines.extend(f"  - {_cell(w)}" for w in draft["warnings"])
    else:
        lines.append("- Cảnh báo của kiểm định: không có.")
    if draft.get("unexplained_changes"):
        lines.append(
            f"- **{draft['unexplained_changes']} thay đổi không có căn cứ** (không do kiến nghị "
            "được chấp nhận hay thẩm định): xem mục «Căn cứ của các thay đổi» bên dưới."
        )
    lines += _council_lines(draft)
    lines.append(f"- Mã kiểm tra (SHA-256) của bản này: `{draft.get('bundle_sha256')}`.")
    lines.append("  Quyết định phê duyệt hay từ chối ghi kèm mã này, xác nhận đúng bản đã xem.")
    lines.append(
        "  Không dùng Airflow: `dti release approve --period "
        f"{draft.get('period')} --release {draft.get('number')} --checksum "
        f"{str(draft.get('bundle_sha256') or '')[:12]}`; bản nháp đã thay đổi thì bị từ chối."
    )
    page = f"{draft['folder']}/index.html"
    if draft.get("url"):
        lines.append(f"- Xem bản nháp: [{draft['url']}]({draft['url']})")
    else:
        lines.append(
            f"- Xem bản nháp: trang `{page}` trong thư mục kết quả (OUT). Trên máy chủ, chạy "
            f"`dti release serve` (thư mục OUT theo `DTI_OUT`, hoặc `--out`) rồi mở "
            f"`http://127.0.0.1:{DRAFTS_PORT}/{page}`; đặt `DTI_DRAFTS_URL` để thư có sẵn "
            "liên kết."
        )
    lines += ["", "### Số đơn vị theo mức độ", "", "| Mức độ | Số đơn vị |", "|---|---:|"]
    lines += [f"| {_cell(lv['level_name'])} | {lv['units']} |" for lv in draft.get("levels") or []]
    if draft.get("not_submitted"):
        lines.append(f"| Chưa nộp | {draft['not_submitted']} |")
    lines.append("")
    if replaced:
        lines += _changes_section(draft, replaced)
        lines += citations.prompt_lines(draft, replaced)
    decision = (
        f"bản {replaced} vẫn là bản công bố" if replaced else f"năm {period} chưa có bản công bố"
    )
    approve = (
        f"phê duyệt của bạn được ghi (và ký) vào bản nháp; bản {number} thành bản công bố của "
        f"năm {period} khi đủ số người phê duyệt"
        if (draft.get("approvals_missing") or 0) > 1
        else f"bản {number} thành bản công bố của năm {period} và được đưa lên trang DTI"
    )
    lines.append(
        f"**Phê duyệt**: {approve}. **Từ chối**: {decision}; người từ chối và lý do được ghi "
        "vào bản nháp."
    )
    return subject, "\n".join(lines)


def _council_lines(draft: dict) -> list[str]:
    """Who approved the draft so far and who may still approve it (``pipeline.jobs.draft_of``
    adds ``approvals_missing`` and ``approvers_owed``)."""
    approvals = draft.get("approvals") or []
    missing = draft.get("approvals_missing")
    owed = draft.get("approvers_owed")
    lines = []
    if approvals:
        done = ", ".join(
            f"{_cell(a.get('name') or a.get('approver'))} ({_built_text(a.get('at'))})"
            for a in approvals
        )
        lines.append(f"- Đã phê duyệt: {done}.")
    if missing:
        lines.append(
            f"- Cần thêm **{missing}** người phê duyệt trong hội đồng trước khi bản này được "
            "công bố."
        )
    if owed:
        lines.append(
            "- Người có thể phê duyệt: "
            + ", ".join(f"{_cell(a['name'])} (`{_cell(a['id'])}`)" for a in owed)
            + "."
        )
    return lines


def _changes_section(draft: dict, replaced: object) -> list[str]:
    if draft.get("same_as_previous"):
        return [
            f"Bản này giống hệt bản {replaced} (cùng mã kiểm tra): phê duyệt hay từ chối đều "
            "không thay đổi gì trên trang.",
            "",
        ]
    lines: list[str] = []
    changes = sorted(draft.get("changes") or [], key=_significance)
    pages = draft.get("pages_changed")
    if changes:
        lines += [
            f"### Đơn vị thay đổi kết quả so với bản {replaced} ({len(changes)})",
            "",
            "| Đơn vị | Khối | Tổng điểm | Mức độ | Hạng | Trạng thái |",
            "|---|---|---|---|---|---|",
        ]
        for c in changes[:PROMPT_ROWS]:
            before, after = c["before"], c["after"]
            lines.append(
                " | ".join(
                    [
                        f"| {_unit(c)}",
                        _cell(block_name(str(c.get("block") or ""))),
                        _was(_number(before["total_score"]), _number(after["total_score"])),
                        _cell(_was(before["level_name"] or "—", after["level_name"] or "—")),
                        _was(_number(before["rank"]), _number(after["rank"])),
                        _was(_status(before["status"]), _status(after["status"])) + " |",
                    ]
                )
            )
        lines += _more(PROMPT_ROWS, len(changes)) + [""]
    if pages:
        lines += [
            f"### Đơn vị chỉ thay đổi phần so sánh hoặc nội dung trang ({len(pages)})",
            "",
            "Điểm, mức độ, hạng và trạng thái không đổi; trang của đơn vị thì khác bản "
            f"{replaced}.",
            "",
            "| Đơn vị | Khối | Thay đổi |",
            "|---|---|---|",
        ]
        lines += [
            f"| {_unit(p)} | {_cell(block_name(str(p.get('block') or '')))} | "
            f"{CAUSE_WORDS.get(p.get('cause'), _cell(p.get('cause')))} |"
            for p in pages[:PROMPT_ROWS]
        ]
        lines += _more(PROMPT_ROWS, len(pages)) + [""]
    if not changes and pages == []:
        files = draft.get("files_changed") or []
        shown = ", ".join(f"`{f}`" for f in files[:10]) + (" …" if len(files) > 10 else "")
        lines += [
            f"Không đơn vị nào thay đổi kết quả hay trang đơn vị so với bản {replaced}; chỉ "
            f"các tệp chung khác ({len(files)}): {shown}.",
            "",
        ]
    return lines


def _status(status: object) -> str:
    return "—" if status is None else STATUS_WORDS.get(str(status), str(status))


# --- the index of every period (OUT/index.html) ---------------------------------------------


def published_periods(out: Path) -> list[site_index.PeriodEntry]:
    """Every period under ``out`` with a current release (a draft is not published)."""
    entries = []
    folders = sorted(p for p in out.iterdir() if _is_number(p.name)) if out.is_dir() else []
    for folder in folders:
        store = ReleaseStore(out, int(folder.name))
        current = store.current()
        if current is None:
            continue
        info = current.info
        manifest = current.manifest
        entries.append(
            site_index.PeriodEntry(
                period=store.period,
                release=current.number,
                status=info["status"],
                publication=str(info.get("publication") or info.get("stage") or FINAL),
                published_at=info.get("approved_at") or manifest.get("built_at"),
                blocks=tuple(f.get("block", "") for f in manifest.get("frameworks") or []),
                framework_version=str(manifest.get("framework_version") or ""),
                validation_passed=bool((manifest.get("validation") or {}).get("passed")),
            )
        )
    return entries


def refresh_site_index(out: Path) -> None:
    """Rewrites ``OUT/index.html`` (``publish.site_index``) from the releases on disk."""
    try:
        site_index.write_site_index(out, published_periods)
    except OSError as exc:
        # the period's release is already current: only the list of periods is stale
        raise PublishError(
            f"cannot write {out / site_index.PAGE}: {exc.strerror or exc}; the release is "
            "current, the index of the periods is not updated (the next publish rewrites it)"
        ) from exc
