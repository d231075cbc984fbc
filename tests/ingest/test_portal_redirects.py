"""A redirect whose address is no address (``http://h:P:Q/``) is refused with a reason by both
HTTP clients, the portal pull and the push to the DTI site, instead of an unhandled ValueError."""

from __future__ import annotations

import dataclasses
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ingest import ingest_sources, portal_api

TOKEN = "s3cret-token"
LOCATIONS = ["http://h:P:Q/", "http://[::1/x", "http://h:99999999/"]


@pytest.fixture
def redirecting():
    """A server answering every GET with a 302 to ``redirecting.location``."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            self.send_response(302)
            self.send_header("Location", server.location)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.location = LOCATIONS[0]
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("location", LOCATIONS)
def test_the_portal_pull_refuses_a_redirect_to_no_address(settings, redirecting, location):
    redirecting.location = location
    settings = dataclasses.replace(
        settings,
        portal_api_url=f"http://127.0.0.1:{redirecting.server_address[1]}/api/submissions",
        portal_api_token=TOKEN,
    )
    report = ingest_sources(settings, ("portal_api",))
    (error,) = report.errors
    assert "invalid address" in error and "DTI_PORTAL_API_URL" in error and TOKEN not in error
    assert portal_api.PortalError.__name__ not in error  # a reason, not a traceback's words
