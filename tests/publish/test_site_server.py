"""`dti site serve`: the stand-in DTI site anyone can start, pushed to by `dti publish`."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from dti.settings import PROJECT_ROOT
from publish.bundle import write_bundle
from publish.push import push_bundle
from publish.site_server import SiteServer
from tests.publish.publish_marts_fixture import passing_runs


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_dti_site_serve_receives_a_push_and_shows_the_bundle(small_warehouse, tmp_path):
    bundle = write_bundle(small_warehouse, 2023, passing_runs(2023))
    command = [sys.executable, "-m", "pipeline.cli", "site", "serve"]
    command += ["--port", "0", "--root", str(tmp_path / "site")]
    server = subprocess.Popen(
        command,
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "DTI_PUBLISH_TOKEN": "T0k"},
    )
    try:
        line = server.stdout.readline()
        base = re.search(r"(http://\S+)/  \(push to (\S+)\)", line)
        assert base, line
        result = push_bundle(small_warehouse, 2023, url=base.group(2), token="T0k")
        assert result.status == "published"
        status, page = _get(f"{base.group(1)}/2023/index.html")
        assert status == 200 and page == (bundle / "index.html").read_bytes()
        status, listing = _get(f"{base.group(1)}/")
        assert status == 200 and b'href="2023/index.html"' in listing
        assert _get(f"{base.group(1)}/2023/../../etc/passwd")[0] == 404
    finally:
        # SIGTERM, as docker stop or systemd send: a test run started in the background
        # (make test &) ignores SIGINT, and so would the server it starts
        server.send_signal(signal.SIGTERM)
        try:
            assert server.wait(timeout=120) == 0, "the site stops cleanly on SIGTERM"
        finally:
            if server.poll() is None:
                server.kill()


def test_the_site_keeps_what_it_published_across_restarts(small_warehouse, tmp_path):
    write_bundle(small_warehouse, 2023, passing_runs(2023))
    with SiteServer(tmp_path / "site", "t") as site:
        assert push_bundle(small_warehouse, 2023, url=site.url, token="t").status == "published"
    with SiteServer(tmp_path / "site", "t") as site:
        again = push_bundle(small_warehouse, 2023, url=site.url, token="t")
    assert again.status == "already-published" and again.files_uploaded == 0


def test_the_site_refuses_to_start_without_a_token(tmp_path):
    with pytest.raises(ValueError, match="needs a token"):
        SiteServer(tmp_path, "")


@pytest.fixture
def site_cli(monkeypatch):
    """`dti` with only the publish plugin, and a SiteServer that records how it was started
    instead of serving."""
    import publish.cli
    import publish.site_server
    from pipeline import cli, jobs

    monkeypatch.setattr(
        cli,
        "_register_plugins",
        lambda sub: publish.cli.register(sub, cli._paths, cli._settings, cli._print_json, jobs),
    )
    started: dict = {}

    class Recorded:
        def __init__(self, root, token, **kwargs):
            started.update(token=token, **kwargs)
            self.base = self.url = "http://127.0.0.1:0"

        def serve_forever(self):
            return None

    monkeypatch.setattr(publish.site_server, "SiteServer", Recorded)
    monkeypatch.delenv("DTI_PUBLISH_TOKEN", raising=False)
    return cli.main, started


def test_a_token_on_the_command_line_is_refused_and_not_echoed(site_cli, capsys):
    main, started = site_cli
    with pytest.raises(SystemExit) as exit_:
        main(["site", "serve", "--token", "s3cret-on-argv"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and not started
    assert "DTI_PUBLISH_TOKEN" in err and "--token-file" in err and "s3cret-on-argv" not in err


def test_the_token_comes_from_a_file_or_the_environment(site_cli, tmp_path, monkeypatch):
    main, started = site_cli
    token_file = tmp_path / "token"
    token_file.write_text("from-a-file\n", encoding="utf-8")
    assert main(["site", "serve", "--token-file", str(token_file), "--root", str(tmp_path)]) == 0
    assert started["token"] == "from-a-file"
    monkeypatch.setenv("DTI_PUBLISH_TOKEN", "from-the-env")
    assert main(["site", "serve", "--root", str(tmp_path), "--max-file-bytes", "1000"]) == 0
    assert started["token"] == "from-the-env" and started["max_file_bytes"] == 1000
