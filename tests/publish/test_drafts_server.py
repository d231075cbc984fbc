"""`dti release serve`: OUT read-only over HTTP, so an approver opens the draft the prompt links."""

from __future__ import annotations

import http.client
import os
import re
import signal
import subprocess
import sys

import pytest

from dti.settings import PROJECT_ROOT
from publish.bundle import write_bundle
from publish.drafts_server import DraftsServer
from tests.publish.publish_marts_fixture import passing_runs

PERIOD = 2023


def _request(server: DraftsServer, method: str, path: str, body: bytes | None = None):
    """(status, headers, body) of one raw request: the path is sent as written (``..`` too)."""
    host, port = server.httpd.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=10)
    try:
        connection.request(method, path, body=body)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


@pytest.fixture
def drafts(small_warehouse, tmp_path):
    """OUT with release 1 current and draft 2 waiting, served; a secret beside OUT."""
    settings = small_warehouse
    write_bundle(settings, PERIOD, passing_runs(PERIOD))
    from tests.publish.test_releases import _republish_with_corrected_appraisal

    _republish_with_corrected_appraisal(settings)
    write_bundle(settings, PERIOD, passing_runs(PERIOD), approval_required=True)
    secret = settings.out.parent / "secret.txt"
    secret.write_text("mật khẩu", encoding="utf-8")
    with DraftsServer(settings.out, port=0) as server:
        yield settings.out, server


def test_a_draft_page_is_served_as_it_is_on_disk(drafts):
    out, server = drafts
    draft = out / ".releases" / str(PERIOD) / "2"
    status, headers, body = _request(server, "GET", "/.releases/2023/2/index.html")
    assert status == 200 and body == (draft / "index.html").read_bytes()
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["Cache-Control"] == "no-cache"  # a superseded draft's number is reused
    # the symlinks inside OUT are followed: the current release, a draft's earlier releases
    current = (out / str(PERIOD) / "index.html").read_bytes()
    assert _request(server, "GET", "/2023/index.html")[2] == current
    assert _request(server, "GET", "/.releases/2023/2/releases/1/index.html")[2] == current
    status, headers, body = _request(server, "HEAD", "/.releases/2023/2/manifest.json")
    assert status == 200 and body == b""
    assert headers["Content-Length"] == str((draft / "manifest.json").stat().st_size)
    status, headers, _ = _request(server, "GET", "/.releases/2023/2")
    assert status == 301 and headers["Location"] == "/.releases/2023/2/"
    assert _request(server, "GET", "/.releases/2023/2/")[2] == (draft / "index.html").read_bytes()


@pytest.mark.parametrize("method", ["PUT", "POST", "DELETE", "PATCH", "PROPFIND"])
def test_only_get_and_head_are_answered(drafts, method):
    out, server = drafts
    before = (out / str(PERIOD) / "index.html").read_bytes()
    status, headers, _ = _request(server, method, "/2023/index.html", body=b"<h1>gia mao</h1>")
    assert status == 405 and headers["Allow"] == "GET, HEAD"
    assert (out / str(PERIOD) / "index.html").read_bytes() == before


@pytest.mark.parametrize(
    "path",
    [
        "/../secret.txt",
        "/2023/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/.releases/2023/2/%2E%2E/%2E%2E/%2E%2E/secret.txt",
        "/2023/..%2f..%2fsecret.txt",
        "/escape/secret.txt",
    ],
)
def test_nothing_outside_out_is_served(drafts, path):
    out, server = drafts
    os.symlink(out.parent, out / "escape")  # a symlink inside OUT that leads out of it
    status, _, body = _request(server, "GET", path)
    assert status == 404 and "mật khẩu".encode() not in body


def test_dti_release_serve_prints_its_url_and_stops_on_sigterm(small_warehouse):
    write_bundle(small_warehouse, PERIOD, passing_runs(PERIOD), approval_required=True)
    command = [sys.executable, "-m", "pipeline.cli", "release", "serve", "--port", "0"]
    command += ["--out", str(small_warehouse.out)]
    server = subprocess.Popen(
        command,
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
    )
    try:
        line = server.stdout.readline()
        base = re.search(r"(http://127\.0\.0\.1:(\d+))/", line)
        assert base, line
        connection = http.client.HTTPConnection("127.0.0.1", int(base.group(2)), timeout=10)
        connection.request("GET", "/.releases/2023/1/index.html")
        response = connection.getresponse()
        assert response.status == 200 and "Kết quả" in response.read().decode("utf-8")
        connection.close()
    finally:
        server.send_signal(signal.SIGTERM)  # as docker stop or systemd; see test_site_server
        try:
            assert server.wait(timeout=120) == 0, "the drafts server stops cleanly on SIGTERM"
        finally:
            if server.poll() is None:
                server.kill()
            server.stdout.close()
