"""A real HTTP server on loopback that implements the DTI site's side of the push protocol.

Faults are injected by request number so tests can make the site fail midway: answer 503
for some requests, fail for good after a point, or drop the connection without answering.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PREFIX = "/api/bundles/"


@dataclass
class SiteState:
    token: str
    published: dict[str, str] = field(default_factory=dict)  # period → bundle sha
    staged: dict[tuple[str, str], dict[str, bytes]] = field(default_factory=dict)
    live: dict[str, dict[str, bytes]] = field(default_factory=dict)  # period → files
    requests: list[tuple[str, str, str]] = field(default_factory=list)  # method, path, auth
    fail_requests: set[int] = field(default_factory=set)  # 1-based request numbers → 503
    drop_requests: set[int] = field(default_factory=set)  # → connection closed, no answer
    fail_from: int | None = None  # every request from this number on → 503
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, method: str) -> int:
        return sum(1 for m, _, _ in self.requests if m == method)


class _Handler(BaseHTTPRequestHandler):
    state: SiteState

    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        return

    def _reply(self, status: int, payload: dict) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _handle(self, method: str) -> None:
        state = self.state
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        with state.lock:
            state.requests.append((method, self.path, self.headers.get("Authorization", "")))
            number = len(state.requests)
        if number in state.drop_requests:
            self.close_connection = True
            self.connection.shutdown(2)
            return
        if number in state.fail_requests or (state.fail_from and number >= state.fail_from):
            self._reply(503, {"error": "maintenance"})
            return
        if self.headers.get("Authorization") != f"Bearer {state.token}":
            self._reply(401, {"error": "bad token"})
            return
        if not self.path.startswith(PREFIX):
            self._reply(404, {"error": "no such path"})
            return
        parts = self.path[len(PREFIX) :].strip("/").split("/")
        if len(parts) < 2:
            self._reply(404, {"error": "no such path"})
            return
        period, sha = parts[0], parts[1]
        rest = parts[2:]
        with state.lock:
            if method == "GET" and not rest:
                if state.published.get(period) == sha:
                    self._reply(200, {"status": "published"})
                else:
                    self._reply(404, {"status": "unknown"})
            elif method == "PUT" and rest[:1] == ["files"] and len(rest) > 1:
                path = "/".join(rest[1:])
                if hashlib.sha256(body).hexdigest() != self.headers.get("X-DTI-SHA256"):
                    self._reply(400, {"error": f"sha256 of {path} does not match"})
                    return
                state.staged.setdefault((period, sha), {})[path] = body
                self._reply(201, {"stored": path})
            elif method == "POST" and rest == ["commit"]:
                manifest = json.loads(body)
                if manifest.get("bundle_sha256") != sha:
                    self._reply(400, {"error": "manifest is for another bundle"})
                    return
                if state.published.get(period) == sha:
                    self._reply(200, {"status": "already-published"})
                    return
                staged = state.staged.get((period, sha), {})
                missing = [
                    f["path"]
                    for f in manifest["files"]
                    if hashlib.sha256(staged.get(f["path"], b"\0")).hexdigest() != f["sha256"]
                ]
                if missing:
                    self._reply(409, {"error": "files missing", "missing": missing})
                    return
                state.live[period] = {**staged, "manifest.json": body}
                state.published[period] = sha
                self._reply(201, {"status": "published"})
            else:
                self._reply(405, {"error": f"{method} {self.path} is not part of the protocol"})

    def do_GET(self) -> None:  # noqa: N802
        self._handle("GET")

    def do_PUT(self) -> None:  # noqa: N802
        self._handle("PUT")

    def do_POST(self) -> None:  # noqa: N802
        self._handle("POST")


class SiteServer:
    def __init__(self, token: str) -> None:
        self.state = SiteState(token=token)
        handler = type("Handler", (_Handler,), {"state": self.state})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}{PREFIX.rstrip('/')}"

    def __enter__(self) -> SiteServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
