"""The stand-in DTI site attacked as a hostile client on loopback would: malformed requests get
a 4xx, slow clients cannot starve a normal reader of threads, and a stale push replayed later
never switches the site back."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import replace

import pytest

from publish.bundle import write_bundle
from publish.push import PushRefused, push_bundle
from publish.site_server import SiteServer
from tests.publish.publish_marts_fixture import passing_runs

TOKEN = "t0k-hostile"
SHA = "a" * 64


def _request(site, method, path, body=b"", headers=None) -> tuple[int, dict]:
    """One request over a raw connection (http.client sends what it is told, malformed too)."""
    conn = http.client.HTTPConnection("127.0.0.1", site.httpd.server_address[1], timeout=10)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            conn.putheader(name, value.encode("utf-8"))  # UTF-8 bytes, as a hostile client may
        conn.endheaders(body or None)
        response = conn.getresponse()
        payload = response.read()
        return response.status, json.loads(payload) if payload.startswith(b"{") else {}
    finally:
        conn.close()


@pytest.fixture
def site(tmp_path):
    with SiteServer(tmp_path / "site", TOKEN, head_seconds=2) as served:
        yield served


AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.mark.parametrize(
    ("method", "path", "body", "headers", "status"),
    [
        ("GET", "/2023/%00index.html", b"", {}, 400),
        ("GET", f"/api/bundles/2023/{SHA}%00", b"", AUTH, 400),
        ("GET", "/2023/%ff", b"", {}, 400),  # not UTF-8
        ("PUT", f"/api/bundles/2023/{SHA}/files/a.html", b"", {**AUTH, "Content-Length": "-1",
                                                                "X-DTI-SHA256": SHA}, 400),
        ("PUT", f"/api/bundles/2023/{SHA}/files/a.html", b"", {**AUTH, "Content-Length": "1e9",
                                                                "X-DTI-SHA256": SHA}, 400),
        ("PUT", f"/api/bundles/2023/{SHA}/files/a.html", b"x", {**AUTH,
                                                                 "Transfer-Encoding": "chunked"}, 411),
        ("POST", f"/api/bundles/2023/{SHA}/commit", b"[]", {**AUTH, "Content-Length": "2"}, 400),
        ("POST", f"/api/bundles/2023/{SHA}/commit", b'{"bundle_sha256": "' + SHA.encode()
         + b'", "files": "x", "release": {"number": 1}}', {**AUTH, "Content-Length": "84"}, 400),
        ("GET", "/api/bundles/\u00b2\u00b3/" + SHA, b"", AUTH, 404),  # ² ³: not ASCII digits
        ("GET", "/api/bundles/2023/" + "\uff41" * 64, b"", AUTH, 404),  # fullwidth a
        ("PUT", f"/api/bundles/2023/{SHA}/files/a.html", b"x",
         {**AUTH, "Content-Length": "1", "X-DTI-SHA256": "\uff41" * 64}, 400),
        ("DELETE", f"/api/bundles/2023/{SHA}", b"", AUTH, 405),
        ("GET", f"/api/bundles/2023/{SHA}", b"", {**AUTH, "X-DTI-Release": "\u0663"}, 400),
    ],
)  # fmt: skip
def test_every_malformed_request_gets_a_4xx_not_a_dropped_connection(
    site, method, path, body, headers, status
):
    quoted = urllib.parse.quote(path, safe="/%")  # non-ASCII as the push client sends it
    assert _request(site, method, quoted, body, headers)[0] == status


def _rss_bytes() -> int:
    status = open("/proc/self/status", encoding="ascii").read()  # noqa: SIM115
    return int(status.split("VmRSS:")[1].split()[0]) * 1024


def test_a_gigabyte_without_a_token_is_refused_before_its_body_is_read(site):
    rss_before = _rss_bytes()  # the site runs in this process: its memory is ours
    conn = socket.create_connection(site.httpd.server_address, timeout=10)
    try:
        conn.sendall(
            f"PUT /api/bundles/2023/{SHA}/files/big.bin HTTP/1.1\r\nHost: x\r\n"
            f"Content-Length: {10**9}\r\nX-DTI-SHA256: {SHA}\r\n\r\n".encode()
            + b"\0" * 65536
        )
        answer = conn.recv(4096)
        assert answer.startswith(b"HTTP/1.0 401"), answer[:80]
        # the site reads a little more of the refused body (so the 401 arrives), then hangs up:
        # a client going on with its gigabyte is cut off long before the end
        sent = 0
        with pytest.raises(OSError):
            while sent < 10**9:
                conn.sendall(b"\0" * (1 << 20))
                sent += 1 << 20
        assert sent < 64 * (1 << 20)
    finally:
        conn.close()
    assert _rss_bytes() - rss_before < 32 * (1 << 20)
    assert not list((site.store.root / "staged").rglob("*"))


def test_a_file_over_the_cap_is_refused_before_it_is_read(tmp_path):
    with SiteServer(tmp_path / "site", TOKEN, max_file_bytes=1000) as site:
        status, payload = _request(
            site, "PUT", f"/api/bundles/2023/{SHA}/files/a.bin", b"x" * 1001,
            {**AUTH, "Content-Length": "1001", "X-DTI-SHA256": SHA},
        )  # fmt: skip
    assert status == 413 and "1,001" in payload["error"]


def test_five_hundred_slow_clients_leave_a_normal_reader_answered(tmp_path):
    site = SiteServer(tmp_path / "site", TOKEN).__enter__()  # the default head deadline
    threads_before = threading.active_count()
    slow = []
    try:
        for _ in range(500):
            conn = socket.create_connection(site.httpd.server_address, timeout=10)
            conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")  # and never the rest
            slow.append(conn)
        started = time.monotonic()
        with urllib.request.urlopen(f"{site.base}/", timeout=30) as response:
            assert response.status == 200
        waited = time.monotonic() - started
        # the slow ones hold sockets, not threads: no thread was started for them
        assert threading.active_count() - threads_before < 20
    finally:
        for conn in slow:
            conn.close()
        site.__exit__(None, None, None)
    print(f"GET answered in {waited:.3f} s beside 500 slow clients")


def test_a_client_silent_past_the_head_deadline_is_answered_408_and_dropped(tmp_path):
    with SiteServer(tmp_path / "site", TOKEN, head_seconds=0.3) as site:
        conn = socket.create_connection(site.httpd.server_address, timeout=10)
        try:
            conn.sendall(b"GET / HTTP/1.1\r\n")
            assert conn.recv(4096).startswith(b"HTTP/1.1 408")
            assert conn.recv(4096) == b""
        finally:
            conn.close()


def test_an_old_push_replayed_is_refused_and_the_site_keeps_the_newer_release(
    small_warehouse, tmp_path
):
    runs = passing_runs(2023)
    write_bundle(small_warehouse, 2023, runs, publication="preliminary")  # release 1
    first = small_warehouse.out / ".releases" / "2023" / "1"
    old_out = tmp_path / "old-out"  # release 1 as a stale copy of OUT would still show it
    old_out.mkdir()
    (old_out / "2023").symlink_to(first)
    old = replace(small_warehouse, out=old_out)
    with SiteServer(tmp_path / "site", TOKEN) as site:
        assert push_bundle(old, 2023, url=site.url, token=TOKEN).status == "published"
        write_bundle(small_warehouse, 2023, runs)  # release 2, final
        newer = push_bundle(small_warehouse, 2023, url=site.url, token=TOKEN)
        assert newer.status == "published"

        with pytest.raises(PushRefused, match="newer release.*dti release rollback"):
            push_bundle(old, 2023, url=site.url, token=TOKEN)
        # the same replay by hand, without the release header: the commit's manifest says 1
        manifest = (first / "manifest.json").read_bytes()
        sha = json.loads(manifest)["bundle_sha256"]
        status, payload = _request(
            site, "POST", f"/api/bundles/2023/{sha}/commit", manifest,
            {**AUTH, "Content-Length": str(len(manifest))},
        )  # fmt: skip
        assert (status, payload["live_release"]) == (409, 2)
        assert site.store.published_sha("2023") == newer.bundle_sha256
        assert site.store.shown("2023").release == 2
