"""What the two servers of ``publish`` share: an HTTP server run in a thread (tests, `with`)
or in the foreground (the CLI), the base URL it answers on, and ``GatedHTTPServer``, which
keeps slow clients from holding its threads.

Both servers may face a network where not every client is friendly (docs/publishing.md,
"Site server"): a connection gets a worker thread only once its request line and headers are
complete, so silent or slow connections cost a socket each, never a thread.
"""

from __future__ import annotations

import io
import logging
import selectors
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, Self

log = logging.getLogger(__name__)

MAX_HEAD_BYTES = 64 * 1024  # request line and headers
HEAD_SECONDS = 10.0  # to send the request line and headers
WORKERS = 16  # requests handled at once
MAX_WAITING = 4096  # connections still sending their head; the oldest is dropped beyond
DRAIN_BYTES = 256 * 1024  # of a refused body, read and thrown away so the answer arrives
DRAIN_SECONDS = 2.0


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


class _Prefixed(io.RawIOBase):
    """The socket's bytes after those already received with the head."""

    def __init__(self, head: bytes, raw: io.RawIOBase) -> None:
        self._head = memoryview(head)
        self._raw = raw

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        return self._raw.readinto(buffer)

    def close(self) -> None:
        self._raw.close()
        super().close()


@dataclass
class _Waiting:
    """A connection still sending its head."""

    address: Any
    deadline: float
    head: bytearray = field(default_factory=bytearray)


class GatedHTTPServer(HTTPServer):
    """An HTTP server whose connections wait for their complete head in one selector thread
    (``serve_forever``'s) and are then handled by a pool of ``workers`` threads.

    A slow or silent client holds a socket, not a thread: it is dropped with a 408 when it
    has not sent its head within ``head_seconds``, and beyond ``max_waiting`` such clients
    the oldest is dropped. Once in a worker, every read and write has the handler's socket
    timeout. A body a refusal left unread (the handler's ``unread``, in bytes) is drained (up to ``DRAIN_BYTES`` or
    ``DRAIN_SECONDS``) after the answer, so the client reads the answer instead of a reset.
    """

    request_queue_size = 1024  # the listen backlog: connections arriving at once wait there

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        workers: int = WORKERS,
        head_seconds: float = HEAD_SECONDS,
        max_waiting: int = MAX_WAITING,
    ) -> None:
        # the handler's reads start with the head this server received for it
        super().__init__(address, type(handler.__name__, (GatedHandler, handler), {}))
        self.socket.setblocking(False)
        self.head_seconds = head_seconds
        self.max_waiting = max_waiting
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="site-worker")
        self._heads: dict[socket.socket, bytes] = {}
        self._waiting: dict[socket.socket, _Waiting] = {}
        self._stop = threading.Event()
        self._stopped = threading.Event()
        self._stopped.set()
        self._wake_read, self._wake_write = socket.socketpair()  # ends the wait for shutdown

    # --- the selector thread ---------------------------------------------------------------

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        self._stopped.clear()
        selector = selectors.DefaultSelector()
        selector.register(self.socket, selectors.EVENT_READ, None)
        selector.register(self._wake_read, selectors.EVENT_READ, "wake")
        try:
            while not self._stop.is_set():
                for key, _ in selector.select(min(poll_interval, self.head_seconds)):
                    if key.data is None:
                        self._accept(selector)
                    elif key.data == "wake":
                        self._wake_read.recv(64)
                    else:
                        self._read_head(selector, key.fileobj, key.data)
                self._expire(selector)
        finally:
            for conn in list(self._waiting):
                self._drop(selector, conn)
            selector.close()
            self._stop.clear()
            self._stopped.set()

    def shutdown(self) -> None:
        self._stop.set()
        self._wake_write.send(b"x")
        self._stopped.wait()

    def server_close(self) -> None:
        super().server_close()
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._wake_read.close()
        self._wake_write.close()

    def _accept(self, selector: selectors.BaseSelector) -> None:
        for _ in range(256):  # what the backlog holds, a batch at a time
            try:
                conn, address = self.socket.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # out of descriptors: the waiting ones stay, this one waits
                log.warning("site: cannot accept a connection (%s)", exc.strerror)
                time.sleep(0.05)
                return
            if len(self._waiting) >= self.max_waiting:
                self._drop(selector, next(iter(self._waiting)))  # the oldest
            conn.setblocking(False)
            self._waiting[conn] = _Waiting(address, time.monotonic() + self.head_seconds)
            selector.register(conn, selectors.EVENT_READ, self._waiting[conn])

    def _read_head(self, selector: selectors.BaseSelector, conn: Any, waiting: _Waiting) -> None:
        try:
            data = conn.recv(MAX_HEAD_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._drop(selector, conn)
            return
        waiting.head += data
        head = bytes(waiting.head)
        if b"\r\n\r\n" in head or b"\n\n" in head:
            selector.unregister(conn)
            del self._waiting[conn]
            conn.setblocking(True)
            self._heads[conn] = head
            self._pool.submit(self._work, conn, waiting.address)
        elif len(head) > MAX_HEAD_BYTES:
            self._answer_raw(conn, "431 Request Header Fields Too Large")
            self._drop(selector, conn)

    def _expire(self, selector: selectors.BaseSelector) -> None:
        now = time.monotonic()
        late = [conn for conn, w in self._waiting.items() if w.deadline <= now]
        for conn in late:
            self._answer_raw(conn, "408 Request Timeout")
            self._drop(selector, conn)

    @staticmethod
    def _answer_raw(conn: socket.socket, status: str) -> None:
        try:
            conn.send(
                f"HTTP/1.1 {status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n".encode()
            )
        except OSError:
            pass

    def _drop(self, selector: selectors.BaseSelector, conn: socket.socket) -> None:
        self._waiting.pop(conn, None)
        try:
            selector.unregister(conn)
        except (KeyError, ValueError):
            pass
        conn.close()

    # --- a worker --------------------------------------------------------------------------

    def take_head(self, conn: socket.socket) -> bytes:
        return self._heads.pop(conn, b"")

    def _work(self, conn: socket.socket, address: Any) -> None:
        unread = 0
        try:
            handler = self.RequestHandlerClass(conn, address, self)
            unread = getattr(handler, "unread", 0)
        except Exception:
            log.exception("site: request from %s failed", address)
        finally:
            self._heads.pop(conn, None)
            if unread:
                _drain(conn)
            self.shutdown_request(conn)


def _drain(conn: socket.socket) -> None:
    """Reads and throws away what the client still sends of a refused body, for a moment,
    so that closing does not reset the connection before it read the answer."""
    try:
        conn.shutdown(socket.SHUT_WR)
        conn.settimeout(DRAIN_SECONDS)
        deadline, left = time.monotonic() + DRAIN_SECONDS, DRAIN_BYTES
        while left > 0 and time.monotonic() < deadline:
            chunk = conn.recv(min(left, 65536))
            if not chunk:
                break
            left -= len(chunk)
    except OSError:
        pass


class GatedHandler:
    """Mixed into the handler: its reads start with the head the selector thread received."""

    server: GatedHTTPServer
    connection: socket.socket
    rfile: Any

    def setup(self) -> None:
        super().setup()  # type: ignore[misc]
        head = self.server.take_head(self.connection)
        self.rfile = io.BufferedReader(_Prefixed(head, self.rfile.detach()))
