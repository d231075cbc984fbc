"""A small portal HTTP API on loopback, as the README's contract describes it.

``GET /submissions?updated_since=&after_id=&limit=`` with a bearer token; items ordered by
``(updated_at, id)``. ``faults`` maps a request number (1-based) to what goes wrong then:
``"503"``, ``"slow"`` (answers after ``slow_s``), ``"drop"`` (closes the connection) or
``"kill"`` (SIGKILLs ``victim_pid``: the puller crashes in the middle of its pull).
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Portal:
    token: str = "s3cret-token"
    items: list[dict] = field(default_factory=list)
    faults: dict[int, str] = field(default_factory=dict)
    slow_s: float = 1.0
    victim_pid: int | None = None
    requests: list[str] = field(default_factory=list)
    url: str = ""

    def page(self, query: dict[str, str]) -> dict:
        limit = int(query.get("limit", "100"))
        items = sorted(self.items, key=lambda i: (i["updated_at"], i["id"]))
        if "updated_since" in query:
            after = (query["updated_since"], query.get("after_id", ""))
            items = [i for i in items if (i["updated_at"], i["id"]) > after]
        return {"items": items[:limit], "has_more": len(items) > limit}


def item(n: int, updated_at: str, **fields: object) -> dict:
    """Portal item ``n``: a valid self answer of SO-SNV unless ``fields`` say otherwise."""
    return {
        "id": f"ans-{n:05d}",
        "updated_at": updated_at,
        "period": 2023,
        "unit_code": "SO-SNV",
        "indicator_code": "NTS.4",
        "value": str(n % 100),
        "evidence_ref": f"Báo cáo số {n}",
        "stage": "self",
        "submitted_at": "2023-05-02T09:00:00+07:00",
        **fields,
    }


def start(portal: Portal) -> tuple[ThreadingHTTPServer, threading.Thread]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # keep the test output quiet
            pass

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            portal.requests.append(self.path)
            fault = portal.faults.get(len(portal.requests))
            if self.headers.get("Authorization") != f"Bearer {portal.token}":
                self.send_error(401, "bad token")
                return
            if fault == "503":
                self.send_error(503, "maintenance")
                return
            if fault == "drop":
                self.connection.close()
                return
            if fault == "kill" and portal.victim_pid:
                os.kill(portal.victim_pid, signal.SIGKILL)
                time.sleep(0.2)
            if fault == "slow":
                time.sleep(portal.slow_s)
            parsed = urllib.parse.urlsplit(self.path)
            if parsed.path != "/api/submissions":
                self.send_error(404)
                return
            query = dict(urllib.parse.parse_qsl(parsed.query))
            body = json.dumps(portal.page(query), ensure_ascii=False).encode("utf-8")
            try:
                self.send_response(200)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    portal.url = f"http://127.0.0.1:{server.server_address[1]}/api"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread
