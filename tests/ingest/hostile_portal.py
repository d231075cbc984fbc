"""A misbehaving portal API on loopback (127.0.0.1 only): each ``mode`` is one way a server can
try to hold, flood, loop or rob the client. Requests go through ``testkit.portal_server``'s
honest page logic unless the mode says otherwise.

Modes: ``redirect_away`` (302 to another origin, ``elsewhere``, which records the headers it
gets), ``redirect_home`` (302 to another path of the same origin, then honest),
``slow_body`` (headers, then one byte every ``drip_s``), ``slow_headers`` (the status line, then
one header byte every ``drip_s``), ``flood`` (an endless body without Content-Length),
``flood_declared`` (Content-Length of 1 GB), ``repeat`` (always the first page, ``has_more``
true), ``backwards`` (the second page goes back in time), ``endless`` (new items for ever),
``deep`` (a page nested 100,000 levels deep).
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from testkit.portal_server import Portal, item


@dataclass
class Hostile:
    mode: str
    portal: Portal = field(default_factory=Portal)
    drip_s: float = 0.5
    requests: list[tuple[str, str | None]] = field(default_factory=list)  # (path, auth)
    elsewhere_requests: list[tuple[str, str | None]] = field(default_factory=list)
    url: str = ""
    elsewhere_url: str = ""
    bytes_sent: int = 0


def _serve(handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def start(hostile: Hostile) -> list[ThreadingHTTPServer]:
    class Elsewhere(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            hostile.elsewhere_requests.append((self.path, self.headers.get("Authorization")))
            body = json.dumps({"items": [item(999, "2023-06-01T00:00:00+00:00")]}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _json(self, doc: object) -> None:
            body = json.dumps(doc).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802
            hostile.requests.append((self.path, self.headers.get("Authorization")))
            parsed = urllib.parse.urlsplit(self.path)
            query = dict(urllib.parse.parse_qsl(parsed.query))
            mode = hostile.mode
            try:
                if mode == "redirect_away":
                    self.send_response(302)
                    self.send_header("Location", hostile.elsewhere_url + "?" + parsed.query)
                    self.end_headers()
                elif mode == "redirect_home" and parsed.path == "/api/submissions":
                    self.send_response(301)
                    self.send_header("Location", "/moved/submissions?" + parsed.query)
                    self.end_headers()
                elif mode == "slow_body":
                    self.send_response(200)
                    self.send_header("Content-Length", "100000")
                    self.end_headers()
                    for _ in range(100000):
                        self.wfile.write(b" ")
                        self.wfile.flush()
                        time.sleep(hostile.drip_s)
                elif mode == "slow_headers":
                    self.wfile.write(b"HTTP/1.1 200 OK\r\n")
                    for byte in b"X-Slow: " + b"a" * 100000:
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        time.sleep(hostile.drip_s)
                elif mode in ("flood", "flood_declared"):
                    self.send_response(200)
                    if mode == "flood_declared":
                        self.send_header("Content-Length", str(1024**3))
                    self.end_headers()
                    block = b'{"items": [' + b" " * (64 * 1024)
                    while hostile.bytes_sent < 1024**3:
                        self.wfile.write(block)
                        hostile.bytes_sent += len(block)
                elif mode == "repeat":
                    self._json({**hostile.portal.page({"limit": query.get("limit", "5")}),
                                "has_more": True})  # fmt: skip
                elif mode == "backwards" and "updated_since" in query:
                    self._json({"items": [item(1, "2023-01-01T00:00:00+00:00")], "has_more": True})
                elif mode == "endless":
                    n = len(hostile.requests)
                    stamp = f"2023-05-02T00:00:{n % 60:02d}.{n:06d}+00:00"
                    self._json({"items": [item(n, stamp)], "has_more": True})
                elif mode == "deep":
                    body = b"[" * 100_000 + b"]" * 100_000
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                else:
                    self._json(hostile.portal.page(query))
            except (BrokenPipeError, ConnectionResetError):
                pass

    servers = [_serve(Handler), _serve(Elsewhere)]
    hostile.url = f"http://127.0.0.1:{servers[0].server_address[1]}/api"
    hostile.elsewhere_url = f"http://127.0.0.1:{servers[1].server_address[1]}/api/submissions"
    return servers
