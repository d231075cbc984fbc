import json
import logging
import sys

import pytest

from publish.bundle import write_bundle
from publish.push import PushError, PushRefused, push_bundle, resolve_token
from tests.publish.publish_marts_fixture import passing_runs
from tests.publish.publish_site_server import SiteServer

TOKEN = "s3cret-token-value-7f1c"


def _no_sleep(seconds: float) -> None:
    return None


def _push(settings, server, **kwargs):
    kwargs.setdefault("sleep", _no_sleep)
    return push_bundle(settings, 2023, url=server.url, token=TOKEN, backoff_seconds=0, **kwargs)


@pytest.fixture
def bundle(small_warehouse):
    write_bundle(small_warehouse, 2023, passing_runs(2023))
    return small_warehouse


def test_push_uploads_every_file_then_commits(bundle):
    manifest = json.loads((bundle.out / "2023" / "manifest.json").read_text(encoding="utf-8"))
    with SiteServer(TOKEN) as site:
        result = _push(bundle, site)
    # every file, and the data package that describes them (results.md §8.5)
    assert result.status == "published" and result.files_uploaded == len(manifest["files"]) + 1
    assert site.state.published == {"2023": manifest["bundle_sha256"]}
    live = site.state.live["2023"]
    for f in [*manifest["files"], manifest["package"]]:
        assert live[f["path"]] == (bundle.out / "2023" / f["path"]).read_bytes()
    assert live["manifest.json"] == (bundle.out / "2023" / "manifest.json").read_bytes()
    methods = [m for m, _, _ in site.state.requests]
    assert methods[0] == "GET" and methods[-1] == "POST"
    assert all(auth == f"Bearer {TOKEN}" for _, _, auth in site.state.requests)


def test_pushing_the_same_bundle_again_uploads_nothing(bundle):
    with SiteServer(TOKEN) as site:
        _push(bundle, site)
        before = len(site.state.requests)
        again = _push(bundle, site)
        # A rebuild with the same results has the same checksum: still nothing to upload.
        write_bundle(bundle, 2023, passing_runs(2023))
        third = _push(bundle, site)
    assert again.status == "already-published" and again.files_uploaded == 0
    assert third.status == "already-published"
    assert [m for m, _, _ in site.state.requests[before:]] == ["GET", "GET"]


def test_retries_when_the_site_fails_midway(bundle):
    with SiteServer(TOKEN) as site:
        site.state.fail_requests = {4, 5}  # two 503s in the middle of the uploads
        site.state.drop_requests = {8}  # and one connection closed without an answer
        result = _push(bundle, site)
    assert result.status == "published" and result.retries == 3
    assert site.state.published["2023"] == result.bundle_sha256


def test_a_site_down_for_good_stops_the_push_and_a_rerun_completes_it(bundle):
    with SiteServer(TOKEN) as site:
        site.state.fail_from = 6  # goes down after a few uploads
        with pytest.raises(PushError, match="failed 3 times.*HTTP 503.*run `dti publish` again"):
            _push(bundle, site, attempts=3)
        assert "2023" not in site.state.published  # nothing half-published
        site.state.fail_from = None
        result = _push(bundle, site)
    assert result.status == "published"
    assert site.state.published["2023"] == result.bundle_sha256


def test_a_wrong_token_is_not_retried_and_not_shown(bundle, caplog):
    caplog.set_level(logging.DEBUG)
    with SiteServer("another-token") as site:
        with pytest.raises(PushError) as failure:
            _push(bundle, site)
    assert "HTTP 401" in str(failure.value)
    assert len(site.state.requests) == 1
    assert TOKEN not in str(failure.value) and TOKEN not in caplog.text


def test_the_token_is_never_logged_nor_in_the_bundle(bundle, caplog):
    caplog.set_level(logging.DEBUG)
    with SiteServer(TOKEN) as site:
        site.state.fail_requests = {3}
        _push(bundle, site)
    assert "retry 1 of 4" in caplog.text
    assert TOKEN not in caplog.text
    for path in (bundle.out / "2023").rglob("*"):
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes()


def test_refuses_a_bundle_without_passing_validation(small_warehouse):
    runs = passing_runs(2023)
    runs[3].success = False
    write_bundle(small_warehouse, 2023, runs)
    with SiteServer(TOKEN) as site:
        with pytest.raises(PushRefused, match="does not show passing validation.*scores"):
            _push(small_warehouse, site)
    assert site.state.requests == []


def test_refuses_a_bundle_edited_after_validation(bundle):
    index = bundle.out / "2023" / "index.html"
    index.write_text(index.read_text(encoding="utf-8").replace("Nâng cao", "Xuất sắc"))
    with SiteServer(TOKEN) as site:
        with pytest.raises(PushRefused, match="index.html changed after the bundle was validated"):
            _push(bundle, site)
    assert site.state.requests == []


def test_refuses_a_period_without_a_bundle(settings):
    with pytest.raises(PushRefused, match="manifest.json is missing"):
        push_bundle(settings, 2023, url="http://127.0.0.1:9", token=TOKEN)


def test_token_comes_from_the_settings_first(settings):
    from dataclasses import replace

    assert resolve_token(replace(settings, publish_token="from-env")) == "from-env"


def test_without_token_or_airflow_the_error_says_where_to_set_it(settings, monkeypatch):
    monkeypatch.setitem(sys.modules, "airflow", None)  # Airflow not importable
    monkeypatch.setitem(sys.modules, "airflow.sdk", None)
    monkeypatch.setitem(sys.modules, "airflow.hooks.base", None)
    with pytest.raises(PushError, match="DTI_PUBLISH_TOKEN.*dti_site"):
        resolve_token(settings)


def test_token_falls_back_to_the_airflow_connection(settings, monkeypatch, tmp_path):
    pytest.importorskip("airflow.sdk")
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path / "airflow"))
    monkeypatch.setenv(
        "AIRFLOW_CONN_DTI_SITE",
        '{"conn_type": "http", "host": "dti.example.gov.vn", "password": "from-airflow"}',
    )
    assert resolve_token(settings) == "from-airflow"


def test_refuses_a_bundle_whose_marts_were_not_validated(small_warehouse):
    runs = [r for r in passing_runs(2023) if r.checkpoint != "scores"]
    write_bundle(small_warehouse, 2023, runs)
    with pytest.raises(PushRefused, match="no validation of the scores checkpoint"):
        push_bundle(small_warehouse, 2023, url="http://127.0.0.1:9", token=TOKEN)
