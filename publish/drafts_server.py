"""OUT served read-only, so an approver can open a draft release in a browser.

``dti release serve --out data/out`` starts it; a draft is then at
``http://127.0.0.1:8766/.releases/<period>/<n>/index.html``, the link the approval prompt
gives when ``DTI_DRAFTS_URL`` names this server. GET and HEAD only (anything else is 405); a
path is served only when it resolves inside OUT: ``..`` is refused, and so is a symlink that
leads out of OUT (``OUT/<period>`` and a release's ``releases/<k>`` are symlinks inside OUT
and are followed). A connection is handled once its headers are in (``GatedHTTPServer``: slow
clients hold no thread), with a socket timeout, and at most ``max_threads`` requests are
served at once. Standard library only.
"""

from __future__ import annotations

import logging
import urllib.parse
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler
from pathlib import Path, PurePosixPath
from typing import Any

from publish.served import GatedHTTPServer, Served

log = logging.getLogger(__name__)

ALLOWED = "GET, HEAD"
PORT = 8766  # `dti release serve`'s default (the stand-in DTI site has 8765)


class DraftsHandler(SimpleHTTPRequestHandler):
    root: Path  # OUT, resolved
    timeout = 30  # seconds a connection may stay silent (StreamRequestHandler sets it)

    def __getattr__(self, name: str) -> Any:
        # http.server answers a method without a ``do_<METHOD>`` with 501; every method but
        # GET and HEAD is 405 here, whatever its name
        if name.startswith("do_"):
            return self._refuse_method
        raise AttributeError(name)

    def _refuse_method(self) -> None:
        self.send_response(HTTPStatus.METHOD_NOT_ALLOWED)
        self.send_header("Allow", ALLOWED)
        self.send_header("Content-Length", "0")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        log.info("drafts: %s " + format, self.address_string(), *args)

    def end_headers(self) -> None:
        # a superseded draft leaves its number to the next one: never show a cached copy
        self.send_header("Cache-Control", "no-cache")
        self.send_header("X-Content-Type-Options", "nosniff")
        super().end_headers()

    def guess_type(self, path: str | Path) -> str:
        kind = super().guess_type(path)
        if kind.startswith("text/") or kind == "application/json":
            return f"{kind}; charset=utf-8"
        return kind

    def _inside(self, url_path: str) -> Path | None:
        """The file or folder ``url_path`` names, resolved, when it lies inside OUT."""
        path = urllib.parse.unquote(urllib.parse.urlsplit(url_path).path, errors="strict")
        parts = PurePosixPath(path).parts[1:]  # past the leading "/"
        if any(part in ("..", ".") or "\x00" in part or "\\" in part for part in parts):
            return None
        try:
            target = self.root.joinpath(*parts).resolve(strict=True)
        except (OSError, ValueError, RuntimeError):  # missing, a symlink loop
            return None
        return target if target.is_relative_to(self.root) else None

    def send_head(self):  # noqa: ANN201 - http.server's signature (a file or None)
        try:
            target = self._inside(self.path)
        except UnicodeDecodeError:
            target = None
        if target is None:
            self.send_error(HTTPStatus.NOT_FOUND, "no such file in OUT")
            return None
        if target.is_dir():
            url = urllib.parse.urlsplit(self.path)
            if not url.path.endswith("/"):  # relative links of index.html need the slash
                self.send_response(HTTPStatus.MOVED_PERMANENTLY)
                self.send_header(
                    "Location", urllib.parse.urlunsplit(url._replace(path=url.path + "/"))
                )
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            index = self._inside(url.path + "index.html")
            if index is None or not index.is_file():
                return self.list_directory(str(target))
            target = index
        try:
            handle = open(target, "rb")  # noqa: SIM115 - http.server closes it
        except OSError:
            self.send_error(HTTPStatus.NOT_FOUND, "no such file in OUT")
            return None
        size = target.stat().st_size
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", self.guess_type(target))
        self.send_header("Content-Length", str(size))
        self.end_headers()
        return handle


class DraftsServer(Served):
    """OUT (``out``) read-only on ``host:port`` (0 = any free port)."""

    def __init__(
        self, out: Path, host: str = "127.0.0.1", port: int = PORT, max_threads: int = 16
    ) -> None:
        root = out.resolve()
        if not root.is_dir():
            raise FileNotFoundError(f"{out} is not a folder: pass the OUT folder (--out, DTI_OUT)")
        handler = type("Handler", (DraftsHandler,), {"root": root})
        self._serve_in(GatedHTTPServer((host, port), handler, workers=max_threads))
