import json

import pytest

import publish.cli
from pipeline import cli, jobs
from pipeline.cli import main
from publish.bundle import write_bundle
from tests.publish.publish_marts_fixture import passing_runs
from tests.publish.publish_site_server import SiteServer


@pytest.fixture(autouse=True)
def only_the_publish_plugin(monkeypatch):
    """`dti` as built by pipeline.cli, with only this package's plugin registered.

    The other plugins import Great Expectations at import time (about 20 s); the hook and
    the helpers it passes (paths, settings, JSON printing) are the real ones.
    """

    def register(sub):
        publish.cli.register(sub, cli._paths, cli._settings, cli._print_json, jobs)

    monkeypatch.setattr(cli, "_register_plugins", register)


def test_dti_publish_pushes_the_bundle_with_the_token_from_the_environment(
    small_warehouse, monkeypatch, capsys
):
    write_bundle(small_warehouse, 2023, passing_runs(2023))
    monkeypatch.setenv("DTI_PUBLISH_TOKEN", "env-token-123")
    with SiteServer("env-token-123") as site:
        code = main(
            ["publish", "--period", "2023", "--to", site.url, "--out", str(small_warehouse.out)]
        )
        out = capsys.readouterr()
        assert code == 0, out.err
        result = json.loads(out.out)
        assert result["status"] == "published" and result["period"] == 2023
        assert site.state.published["2023"] == result["bundle_sha256"]
        assert (
            main(
                ["publish", "--period", "2023", "--to", site.url, "--out", str(small_warehouse.out)]
            )
            == 0
        )
        assert json.loads(capsys.readouterr().out)["status"] == "already-published"
    assert "env-token-123" not in out.out + out.err


def test_dti_publish_refuses_failed_validation_with_one_line(small_warehouse, monkeypatch, capsys):
    runs = passing_runs(2023)
    runs[0].success = False
    write_bundle(small_warehouse, 2023, runs)
    monkeypatch.setenv("DTI_PUBLISH_TOKEN", "env-token-123")
    code = main(
        [
            "publish",
            "--period",
            "2023",
            "--to",
            "http://127.0.0.1:9",
            "--out",
            str(small_warehouse.out),
        ]
    )
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("dti publish: PushRefused:") and "passing validation" in err
