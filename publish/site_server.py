"""A stand-in DTI site: the receiving side of the push protocol (publish/push.py), on disk.

``dti site serve --token T`` starts it; ``dti publish --to http://127.0.0.1:8765/api/bundles``
(or ``DTI_PUBLISH_URL``) pushes to it, and ``http://127.0.0.1:8765/<period>/`` shows the
published bundle, so a deployment can rehearse a publication and an auditor can browse what
was pushed without the real site.

Storage under ``root``: ``staged/<period>/<sha>/<path>`` while files arrive,
``published/<period>/<sha>/`` once committed (renamed in one step when complete), and
``live/<period>`` a symlink to the published bundle, swapped with one rename — the same
all-or-nothing switch as the releases in ``OUT``. Standard library only.
"""

from __future__ import annotations

import hashlib
import json
import logging
import mimetypes
import os
import shutil
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path, PurePosixPath

from publish.served import Served

log = logging.getLogger(__name__)

PREFIX = "/api/bundles/"


def _safe_relative(path: str) -> PurePosixPath | None:
    """A relative path inside the bundle, or None (absolute, ``..``, empty)."""
    relative = PurePosixPath(path)
    if not path or relative.is_absolute() or any(p in ("", ".", "..") for p in relative.parts):
        return None
    return relative


class SiteStore:
    """The bundles the site holds, on disk."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.lock = threading.Lock()
        for folder in ("staged", "published", "live"):
            (root / folder).mkdir(parents=True, exist_ok=True)

    def live_dir(self, period: str) -> Path:
        return self.root / "live" / period

    def published_sha(self, period: str) -> str | None:
        link = self.live_dir(period)
        return Path(os.readlink(link)).name if link.is_symlink() else None

    def periods(self) -> list[str]:
        return sorted(p.name for p in (self.root / "live").iterdir() if p.is_symlink())

    def stage(self, period: str, sha: str, path: PurePosixPath, body: bytes) -> None:
        target = self.root / "staged" / period / sha / path
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.part")
        tmp.write_bytes(body)
        os.replace(tmp, target)

    def commit(self, period: str, sha: str, manifest: dict, manifest_bytes: bytes) -> list[str]:
        """Publishes the staged bundle; returns the files missing (nothing done then)."""
        staged = self.root / "staged" / period / sha
        missing = []
        for item in manifest.get("files") or []:
            relative = _safe_relative(str(item.get("path", "")))
            path = staged / relative if relative else None
            if path is None or not path.is_file():
                missing.append(str(item.get("path")))
            elif hashlib.sha256(path.read_bytes()).hexdigest() != item.get("sha256"):
                missing.append(str(item.get("path")))
        if missing:
            return missing
        (staged / "manifest.json").write_bytes(manifest_bytes)
        published = self.root / "published" / period / sha
        published.parent.mkdir(parents=True, exist_ok=True)
        if published.exists():
            shutil.rmtree(staged)
        else:
            os.rename(staged, published)
        link = self.root / "live" / f".{period}.new"
        link.unlink(missing_ok=True)
        os.symlink(os.path.relpath(published, link.parent), link)
        os.replace(link, self.live_dir(period))
        log.info("site: period %s now shows bundle %s", period, sha)
        return []


class SiteHandler(BaseHTTPRequestHandler):
    store: SiteStore
    token: str

    def log_message(self, format: str, *args: object) -> None:
        log.debug("site: " + format, *args)

    def _reply(self, status: int, payload: dict) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def before_request(self, method: str) -> bool:
        """False when the request was answered already (the test stand-in injects faults)."""
        return True

    def _handle(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if not self.before_request(method):
            return
        path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
        if method == "GET" and not path.startswith(PREFIX):
            self._browse(path)
            return
        if self.headers.get("Authorization") != f"Bearer {self.token}":
            self._reply(401, {"error": "bad token"})
            return
        if not path.startswith(PREFIX):
            self._reply(404, {"error": "no such path"})
            return
        parts = path[len(PREFIX) :].strip("/").split("/")
        if len(parts) < 2 or not parts[0].isdigit() or not parts[1].isalnum():
            self._reply(404, {"error": "no such path"})
            return
        period, sha, rest = parts[0], parts[1], parts[2:]
        store = self.store
        with store.lock:
            if method == "GET" and not rest:
                if store.published_sha(period) == sha:
                    self._reply(200, {"status": "published"})
                else:
                    self._reply(404, {"status": "unknown"})
            elif method == "PUT" and rest[:1] == ["files"] and len(rest) > 1:
                relative = _safe_relative("/".join(rest[1:]))
                if relative is None:
                    self._reply(400, {"error": "bad file path"})
                elif hashlib.sha256(body).hexdigest() != self.headers.get("X-DTI-SHA256"):
                    self._reply(400, {"error": f"sha256 of {relative} does not match"})
                else:
                    store.stage(period, sha, relative, body)
                    self._reply(201, {"stored": str(relative)})
            elif method == "POST" and rest == ["commit"]:
                try:
                    manifest = json.loads(body)
                except ValueError:
                    self._reply(400, {"error": "the commit body is not a manifest"})
                    return
                if manifest.get("bundle_sha256") != sha:
                    self._reply(400, {"error": "manifest is for another bundle"})
                elif store.published_sha(period) == sha:
                    self._reply(200, {"status": "already-published"})
                elif missing := store.commit(period, sha, manifest, body):
                    self._reply(409, {"error": "files missing", "missing": missing})
                else:
                    self._reply(201, {"status": "published"})
            else:
                self._reply(405, {"error": f"{method} {path} is not part of the protocol"})

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
        live = self.store.live_dir(period)
        if not period.isdigit() or relative is None or not live.is_symlink():
            self._reply(404, {"error": "not published"})
            return
        file = live / relative
        if file.is_dir():
            file = file / "index.html"
        if not file.is_file():
            self._reply(404, {"error": "no such file"})
            return
        content_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        if content_type.startswith("text/") or content_type == "application/json":
            content_type += "; charset=utf-8"
        self._send(200, file.read_bytes(), content_type)

    def do_GET(self) -> None:  # noqa: N802 - http.server's names
        self._handle("GET")

    def do_PUT(self) -> None:  # noqa: N802
        self._handle("PUT")

    def do_POST(self) -> None:  # noqa: N802
        self._handle("POST")


class SiteServer(Served):
    """The stand-in site on ``host:port`` (0 = any free port), storing under ``root``."""

    handler: type[SiteHandler] = SiteHandler

    def __init__(self, root: Path, token: str, host: str = "127.0.0.1", port: int = 0) -> None:
        if not token:
            raise ValueError("the stand-in site needs a token (--token or DTI_PUBLISH_TOKEN)")
        self.store = SiteStore(root)
        handler = type("Handler", (self.handler,), {"store": self.store, "token": token})
        self._serve_in(ThreadingHTTPServer((host, port), handler))

    @property
    def url(self) -> str:
        """What ``dti publish --to`` and ``DTI_PUBLISH_URL`` take."""
        return f"{self.base}{PREFIX.rstrip('/')}"
