"""A stand-in DTI site: the receiving side of the push protocol (publish/push.py), on disk.

``DTI_PUBLISH_TOKEN=T dti site serve`` starts it (or ``--token-file``: a token on the command
line would show in every local user's process list); ``dti publish --to
http://127.0.0.1:8765/api/bundles`` (or ``DTI_PUBLISH_URL``) pushes to it, and
``http://127.0.0.1:8765/<period>/`` shows the published bundle, so a deployment can rehearse a
publication and an auditor can browse what was pushed without the real site.

Storage under ``root``: ``staged/<period>/<sha>/<path>`` while files arrive,
``published/<period>/<sha>/`` once committed (renamed in one step when complete),
``live/<period>`` a symlink to the published bundle, swapped with one rename — the same
all-or-nothing switch as the releases in ``OUT`` — and ``state/<period>.json`` the release
number the period shows: a commit of an older release is refused (409), so a stale push
replayed later never switches the site back. Going back is a new release
(``dti release rollback``), which carries a higher number.

Limits (docs/publishing.md, "Site server"): a connection has ``HEAD_SECONDS`` to send its
request line and headers, which are gathered by one selector thread (a thousand silent
connections cost no thread); only a complete head goes to one of ``workers`` threads. The
token and the size caps are checked on the head, before one byte of the body is read; a file
is streamed to disk while its sha256 is computed, never held in memory; every read and write
has a socket timeout. Every malformed request gets a 4xx. Standard library only.
"""

from __future__ import annotations

import errno
import hashlib
import hmac
import json
import logging
import mimetypes
import os
import re
import secrets
import shutil
import threading
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from dti.checksums import sha256_file
from publish.served import HEAD_SECONDS, WORKERS, GatedHTTPServer, Served

log = logging.getLogger(__name__)

PREFIX = "/api/bundles/"
PORT = 8765
RELEASE_HEADER = "X-DTI-Release"  # the release number a push carries (publish/push.py)

MAX_FILE_BYTES = 256 * 1024 * 1024  # one file of a bundle
MAX_MANIFEST_BYTES = 16 * 1024 * 1024  # the commit's manifest.json, read into memory
IO_SECONDS = 30.0  # socket timeout of every read and write once the head is in

# ASCII only: str.isdigit() takes "²" and "٣", str.isalnum() fullwidth letters
PERIOD = re.compile(r"[0-9]{1,9}")
SHA256 = re.compile(r"[0-9a-f]{64}")
NUMBER = re.compile(r"[0-9]{1,12}")


def _safe_relative(path: str) -> PurePosixPath | None:
    """A relative path inside the bundle, or None (absolute, ``..``, empty, a control
    character or a backslash in it)."""
    relative = PurePosixPath(path)
    if (
        not path
        or relative.is_absolute()
        or any(p in ("", ".", "..") for p in relative.parts)
        or any(ord(c) < 0x20 or c in "\\\x7f" for c in path)
    ):
        return None
    return relative


class Refused(Exception):
    """A request answered with a 4xx: its status and the site's message."""

    def __init__(self, status: int, message: str, **extra: object) -> None:
        super().__init__(message)
        self.status = status
        self.payload = {"error": message, **extra}


@dataclass(frozen=True)
class Shown:
    """What a period shows: its release number and bundle."""

    release: int
    bundle_sha256: str


class SiteStore:
    """The bundles the site holds, on disk."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.lock = threading.Lock()
        for folder in ("staged", "published", "live", "state"):
            (root / folder).mkdir(parents=True, exist_ok=True)

    def live_dir(self, period: str) -> Path:
        return self.root / "live" / period

    def published_sha(self, period: str) -> str | None:
        link = self.live_dir(period)
        return Path(os.readlink(link)).name if link.is_symlink() else None

    def periods(self) -> list[str]:
        return sorted(p.name for p in (self.root / "live").iterdir() if p.is_symlink())

    def shown(self, period: str) -> Shown | None:
        """The release ``period`` shows, as recorded by its last commit (None: none yet, or a
        site that kept no record)."""
        try:
            state = json.loads((self.root / "state" / f"{period}.json").read_text("utf-8"))
            return Shown(int(state["release"]), str(state["bundle_sha256"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def check_newer(self, period: str, release: int, sha: str) -> None:
        """Refuses (409) a release older than the one ``period`` shows, or the same number
        with other files: an older release never replaces a newer one."""
        shown = self.shown(period)
        if shown is None:
            return
        if release < shown.release or (release == shown.release and sha != shown.bundle_sha256):
            raise Refused(
                409,
                f"period {period} shows release {shown.release}; release {release} "
                f"({sha[:12]}) is older and does not replace it. To go back, make a new "
                "release (dti release rollback) and push that",
                live_release=shown.release,
            )

    def stage(self, period: str, sha: str, path: PurePosixPath, body: BinaryIO, length: int,
              expected_sha256: str) -> None:  # fmt: skip
        """Streams ``length`` bytes of ``body`` into the staged bundle, checking their sha256
        on the way; nothing is kept when it differs or the body stops short."""
        target = self.root / "staged" / period / sha / path
        tmp = target.with_name(f".{secrets.token_hex(8)}.part")
        digest = hashlib.sha256()
        left = length
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "xb") as out:
                while left:
                    chunk = body.read(min(left, 1 << 20))
                    if not chunk:
                        break
                    digest.update(chunk)
                    out.write(chunk)
                    left -= len(chunk)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            if isinstance(exc, TimeoutError):
                raise Refused(408, f"{path}: the body did not arrive in time") from exc
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise Refused(507, f"the site's disk is full: {path} not stored") from exc
            raise Refused(400, f"{path} cannot be stored ({exc.strerror})") from exc
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        if left or digest.hexdigest() != expected_sha256:
            tmp.unlink(missing_ok=True)
            what = "the body stopped short" if left else f"sha256 of {path} does not match"
            raise Refused(400, what)
        os.replace(tmp, target)

    def commit(self, period: str, sha: str, release: int, manifest: dict,
               manifest_bytes: bytes) -> list[str]:  # fmt: skip
        """Publishes the staged bundle as ``release``; returns the files missing (nothing
        done then). The caller holds ``lock`` and checked ``check_newer``."""
        staged = self.root / "staged" / period / sha
        missing = []
        # the data package (results.md §8.5) is kept with the files it describes
        package = manifest.get("package")
        described = (
            [package]
            if isinstance(package, dict)
            and isinstance(package.get("path"), str)
            and isinstance(package.get("sha256"), str)
            else []
        )
        for item in [*manifest["files"], *described]:
            relative = _safe_relative(item["path"])
            path = staged / relative if relative else None
            if path is None or not path.is_file():
                missing.append(item["path"])
            elif sha256_file(path) != item["sha256"]:
                missing.append(item["path"])
        if missing:
            return missing
        published = self.root / "published" / period / sha
        published.parent.mkdir(parents=True, exist_ok=True)
        if published.exists():
            shutil.rmtree(staged)
        else:
            (staged / "manifest.json").write_bytes(manifest_bytes)
            os.rename(staged, published)
        # the record first: a crash before the switch leaves it naming this release, and the
        # same push run again (same number, same bundle) completes the switch
        state = self.root / "state" / f"{period}.json"
        tmp = state.with_name(f".{period}.{secrets.token_hex(4)}.tmp")
        tmp.write_text(json.dumps({"release": release, "bundle_sha256": sha}), "utf-8")
        os.replace(tmp, state)
        link = self.root / "live" / f".{period}.new"
        link.unlink(missing_ok=True)
        os.symlink(os.path.relpath(published, link.parent), link)
        os.replace(link, self.live_dir(period))
        log.info("site: period %s now shows release %s (bundle %s)", period, release, sha)
        return []


def _manifest_files(manifest: object, sha: str) -> tuple[dict, int]:
    """The commit's manifest and its release number, or ``Refused`` (400) saying what is
    wrong with it: anything but an object with a matching checksum, a release number and a
    list of ``{path, sha256}`` is not a manifest."""
    if not isinstance(manifest, dict):
        raise Refused(400, "the commit body is not a manifest (a JSON object)")
    if manifest.get("bundle_sha256") != sha:
        raise Refused(400, "manifest is for another bundle")
    release = (manifest.get("release") or {}) if isinstance(manifest.get("release"), dict) else {}
    number = release.get("number")
    if type(number) is not int or number < 1:
        raise Refused(400, "the manifest names no release number (release.number)")
    files = manifest.get("files")
    if not isinstance(files, list) or not files or not all(
        isinstance(f, dict) and isinstance(f.get("path"), str) and isinstance(f.get("sha256"), str)
        and SHA256.fullmatch(f["sha256"]) for f in files
    ):  # fmt: skip
        raise Refused(400, "the manifest's files are not a list of {path, sha256}")
    return manifest, number


class SiteHandler(BaseHTTPRequestHandler):
    store: SiteStore
    token: str
    max_file_bytes: int = MAX_FILE_BYTES
    timeout = IO_SECONDS  # StreamRequestHandler sets it on the socket
    unread = 0  # bytes of the body left unread when the answer went out

    def __getattr__(self, name: str) -> Any:
        # http.server answers a method without ``do_<METHOD>`` with 501: here it is a 405
        if name.startswith("do_"):
            return self._refuse_method
        raise AttributeError(name)

    def _refuse_method(self) -> None:
        self.unread = self._declared_length_or_zero()
        self._reply(405, {"error": f"{self.command} is not part of the protocol"})

    def log_message(self, format: str, *args: object) -> None:
        log.debug("site: " + format, *args)

    def _reply(self, status: int, payload: dict) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def before_request(self, method: str) -> bool:
        """False when the request was answered already (the test stand-in injects faults)."""
        return True

    def _declared_length_or_zero(self) -> int:
        try:
            return self._length() or 0
        except Refused:
            return 0

    def _length(self) -> int | None:
        """The body's length from ``Content-Length``, or None without one; a value that is
        not ASCII digits (``-1``, ``1e9``, two that differ) is refused."""
        values = self.headers.get_all("Content-Length") or []
        if self.headers.get("Transfer-Encoding"):
            raise Refused(411, "send the body with a Content-Length, not Transfer-Encoding")
        if not values:
            return None
        if len(set(values)) != 1 or not NUMBER.fullmatch(values[0].strip()):
            raise Refused(400, "Content-Length is not one whole number of bytes")
        return int(values[0])

    def _handle(self, method: str) -> None:
        self.unread = self._declared_length_or_zero()  # until the body is read
        if not self.before_request(method):
            return
        try:
            self._route(method)
        except Refused as refused:
            self._reply(refused.status, refused.payload)

    def _route(self, method: str) -> None:
        try:
            path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path, errors="strict")
        except (UnicodeDecodeError, ValueError):
            raise Refused(400, "the path is not valid UTF-8") from None
        if any(ord(c) < 0x20 or c == "\x7f" for c in path):
            raise Refused(400, "the path holds a control character (%00…)")
        length = self._length()
        if method == "GET" and not path.startswith(PREFIX):
            self._browse(path)
            return
        given = self.headers.get("Authorization") or ""
        if not hmac.compare_digest(given.encode(), f"Bearer {self.token}".encode()):
            raise Refused(401, "bad token")
        if not path.startswith(PREFIX):
            raise Refused(404, "no such path")
        parts = path[len(PREFIX) :].strip("/").split("/")
        if len(parts) < 2 or not PERIOD.fullmatch(parts[0]) or not SHA256.fullmatch(parts[1]):
            raise Refused(404, "no such path")
        period, sha, rest = parts[0], parts[1], parts[2:]
        release = self._release()
        store = self.store
        if method == "GET" and not rest:
            with store.lock:
                if release is not None:
                    store.check_newer(period, release, sha)
                published = store.published_sha(period) == sha
            self._reply(
                *((200, {"status": "published"}) if published else (404, {"status": "unknown"}))
            )
        elif method == "PUT" and rest[:1] == ["files"] and len(rest) > 1:
            relative = _safe_relative("/".join(rest[1:]))
            expected = self.headers.get("X-DTI-SHA256") or ""
            if relative is None:
                raise Refused(400, "bad file path")
            if not SHA256.fullmatch(expected):
                raise Refused(400, "X-DTI-SHA256 is not a sha256 (64 lower-case hex digits)")
            if length is None:
                raise Refused(411, "a file is sent with its Content-Length")
            if length > self.max_file_bytes:
                raise Refused(413, f"{length:,} bytes is over the cap of {self.max_file_bytes:,}")
            if release is not None:
                with store.lock:
                    store.check_newer(period, release, sha)
            self.unread = 0  # read now, whatever happens
            store.stage(period, sha, relative, self.rfile, length, expected)
            self._reply(201, {"stored": str(relative)})
        elif method == "POST" and rest == ["commit"]:
            if length is None:
                raise Refused(411, "the manifest is sent with its Content-Length")
            if length > MAX_MANIFEST_BYTES:
                raise Refused(413, f"a manifest of {length:,} bytes is over the cap")
            self.unread = 0
            body = self.rfile.read(length)
            try:
                manifest, number = _manifest_files(json.loads(body), sha)
            except (ValueError, RecursionError):
                raise Refused(400, "the commit body is not a manifest") from None
            if release is not None and release != number:
                raise Refused(400, f"{RELEASE_HEADER} {release} ≠ the manifest's {number}")
            with store.lock:
                if store.published_sha(period) == sha:
                    self._reply(200, {"status": "already-published"})
                    return
                store.check_newer(period, number, sha)
                missing = store.commit(period, sha, number, manifest, body)
            if missing:
                self._reply(409, {"error": "files missing", "missing": missing})
            else:
                self._reply(201, {"status": "published"})
        else:
            raise Refused(405, f"{method} {path} is not part of the protocol")

    def _release(self) -> int | None:
        value = self.headers.get(RELEASE_HEADER)
        if value is None:
            return None
        if not NUMBER.fullmatch(value.strip()) or int(value) < 1:
            raise Refused(400, f"{RELEASE_HEADER} is not a release number")
        return int(value)

    def _browse(self, path: str) -> None:
        """The published bundles, read only: ``/`` lists the periods, ``/<period>/…`` serves."""
        if path in ("", "/"):
            items = "".join(
                f'<li><a href="{p}/index.html">{p}</a></li>' for p in self.store.periods()
            )
            page = (
                '<!DOCTYPE html><html lang="vi"><meta charset="utf-8"><title>DTI (stand-in)'
                f"</title><h1>DTI — trang thử nghiệm</h1><ul>{items}</ul></html>"
            )
            self._send(200, page.encode("utf-8"), "text/html; charset=utf-8")
            return
        period, _, rest = path.strip("/").partition("/")
        relative = _safe_relative(rest or "index.html")
        if not PERIOD.fullmatch(period) or relative is None:
            raise Refused(404, "not published")
        live = self.store.live_dir(period)
        if not live.is_symlink():
            raise Refused(404, "not published")
        file = live / relative
        try:
            if file.is_dir():
                file = file / "index.html"
            inside = file.resolve().is_relative_to(live.resolve())
            handle = open(file, "rb") if inside and file.is_file() else None  # noqa: SIM115
        except OSError:  # a name too long, a folder in a file's place
            handle = None
        if handle is None:
            raise Refused(404, "no such file")
        content_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        if content_type.startswith("text/") or content_type == "application/json":
            content_type += "; charset=utf-8"
        with handle:  # streamed: a large file is never held in memory
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(os.fstat(handle.fileno()).st_size))
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Connection", "close")
            self.end_headers()
            shutil.copyfileobj(handle, self.wfile, 1 << 20)
            self.close_connection = True

    def do_GET(self) -> None:  # noqa: N802 - http.server's names
        self._handle("GET")

    def do_PUT(self) -> None:  # noqa: N802
        self._handle("PUT")

    def do_POST(self) -> None:  # noqa: N802
        self._handle("POST")


class SiteServer(Served):
    """The stand-in site on ``host:port`` (0 = any free port), storing under ``root``."""

    handler: type[SiteHandler] = SiteHandler

    def __init__(
        self,
        root: Path,
        token: str,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        max_file_bytes: int = MAX_FILE_BYTES,
        workers: int = WORKERS,
        head_seconds: float = HEAD_SECONDS,
    ) -> None:
        if not token:
            raise ValueError(
                "the stand-in site needs a token: set DTI_PUBLISH_TOKEN or pass --token-file"
            )
        self.store = SiteStore(root)
        handler = type(
            "Handler",
            (self.handler,),
            {"store": self.store, "token": token, "max_file_bytes": max_file_bytes},
        )
        self._serve_in(GatedHTTPServer((host, port), handler, workers, head_seconds))

    @property
    def url(self) -> str:
        """What ``dti publish --to`` and ``DTI_PUBLISH_URL`` take."""
        return f"{self.base}{PREFIX.rstrip('/')}"


__all__ = ["PORT", "PREFIX", "SiteHandler", "SiteServer", "SiteStore"]
