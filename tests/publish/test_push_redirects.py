"""A site redirecting to an address that is no address gets the same refusal as any redirect
(the push names where it was sent and what to set), never an unhandled ValueError."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from publish.push import PushError, _Client


@pytest.mark.parametrize("location", ["http://h:P:Q/", "http://[::1/x", "http://h:99999999/"])
def test_a_redirect_to_no_address_is_refused_with_a_reason(location):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            self.send_response(302)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    client = _Client(
        f"http://127.0.0.1:{server.server_address[1]}/api/bundles", "tok", attempts=1,
        backoff_seconds=0, timeout=5, sleep=lambda s: None,
    )  # fmt: skip
    try:
        with pytest.raises(PushError, match="redirected.*DTI_PUBLISH_URL"):
            client.request("GET", "2023/" + "a" * 64)
    finally:
        server.shutdown()
        server.server_close()
