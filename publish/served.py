"""What the two servers of ``publish`` share: an HTTP server run in a thread (tests, `with`)
or in the foreground (the CLI), and the base URL it answers on."""

from __future__ import annotations

import threading
from http.server import HTTPServer
from typing import Self


class Served:
    """A server whose ``httpd`` runs in a daemon thread inside ``with``, or until interrupted
    by ``serve_forever``."""

    httpd: HTTPServer

    def _serve_in(self, httpd: HTTPServer) -> None:
        self.httpd = httpd
        self.thread = threading.Thread(target=httpd.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def serve_forever(self) -> None:
        try:
            self.httpd.serve_forever()
        finally:
            self.httpd.server_close()
