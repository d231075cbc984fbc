"""The product's stand-in DTI site (publish/site_server.py) with faults for the push tests.

Faults are injected by request number so tests can make the site fail midway: answer 503
for some requests, fail for good after a point, or drop the connection without answering.
"""

from __future__ import annotations

import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from publish import site_server

PREFIX = site_server.PREFIX


@dataclass
class SiteState:
    store: site_server.SiteStore
    requests: list[tuple[str, str, str]] = field(default_factory=list)  # method, path, auth
    fail_requests: set[int] = field(default_factory=set)  # 1-based request numbers → 503
    drop_requests: set[int] = field(default_factory=set)  # → connection closed, no answer
    fail_from: int | None = None  # every request from this number on → 503
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def published(self) -> dict[str, str]:  # period → bundle sha
        return {p: self.store.published_sha(p) for p in self.store.periods()}

    @property
    def live(self) -> dict[str, dict[str, bytes]]:  # period → files as the site shows them
        return {
            p: {
                f.relative_to(self.store.live_dir(p).resolve()).as_posix(): f.read_bytes()
                for f in self.store.live_dir(p).resolve().rglob("*")
                if f.is_file()
            }
            for p in self.store.periods()
        }

    def count(self, method: str) -> int:
        return sum(1 for m, _, _ in self.requests if m == method)


class _FaultyHandler(site_server.SiteHandler):
    state: SiteState

    def before_request(self, method: str) -> bool:
        state = self.state
        with state.lock:
            state.requests.append((method, self.path, self.headers.get("Authorization", "")))
            number = len(state.requests)
        if number in state.drop_requests:
            self.close_connection = True
            self.connection.shutdown(2)
            return False
        if number in state.fail_requests or (state.fail_from and number >= state.fail_from):
            self._reply(503, {"error": "maintenance"})
            return False
        return True


class SiteServer(site_server.SiteServer):
    def __init__(self, token: str) -> None:
        # kept after the server stops: the tests read what the site holds afterwards
        self._root = Path(tempfile.mkdtemp(prefix="dti-site-"))
        self.handler = _FaultyHandler
        super().__init__(self._root, token)
        self.state = SiteState(store=self.store)
        self.httpd.RequestHandlerClass.state = self.state
