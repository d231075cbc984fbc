"""The push to the DTI site follows the portal client's rules against a misbehaving site on
loopback: no redirect is followed (the token stays with the configured site), and a site that
answers one byte at a time is given up at the request's deadline."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from publish.bundle import write_bundle
from publish.push import PushError, push_bundle
from tests.publish.publish_marts_fixture import passing_runs

TOKEN = "s3cret-token-value-7f1c"


@pytest.fixture
def bundle(small_warehouse):
    write_bundle(small_warehouse, 2023, passing_runs(2023))
    return small_warehouse


def _serve(mode: str, seen: list, elsewhere_port: int = 0) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            seen.append((self.server.server_address[1], self.headers.get("Authorization")))
            if mode == "redirect":
                self.send_response(302)
                self.send_header("Location", f"http://127.0.0.1:{elsewhere_port}/steal")
                self.end_headers()
            elif mode == "slow":
                self.send_response(200)
                self.send_header("Content-Length", "10000")
                self.end_headers()
                try:
                    for _ in range(10000):
                        self.wfile.write(b" ")
                        self.wfile.flush()
                        time.sleep(0.2)
                except (BrokenPipeError, ConnectionResetError):
                    pass
            else:
                self.send_response(404)
                self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.mark.parametrize("mode", ["redirect", "slow"])
def test_a_misbehaving_site_gets_no_token_elsewhere_and_no_endless_wait(bundle, mode):
    seen: list = []
    elsewhere = _serve("elsewhere", seen)
    elsewhere_port = elsewhere.server_address[1]
    site = _serve(mode, seen, elsewhere_port)
    started = time.monotonic()
    try:
        with pytest.raises(PushError) as failure:
            push_bundle(
                bundle, 2023, url=f"http://127.0.0.1:{site.server_address[1]}/releases",
                token=TOKEN, attempts=2, backoff_seconds=0, timeout=1.0, sleep=lambda s: None,
            )  # fmt: skip
    finally:
        for server in (site, elsewhere):
            server.shutdown()
            server.server_close()
    assert all(port != elsewhere_port for port, _ in seen)
    assert TOKEN not in str(failure.value)
    assert ("redirected" if mode == "redirect" else "failed 2 times") in str(failure.value)
    assert time.monotonic() - started < 2 * 1.0 + 2
