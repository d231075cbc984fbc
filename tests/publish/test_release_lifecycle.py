"""Draft → current when approved; rejecting keeps the current release (results.md §8.4)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from dti.settings import PROJECT_ROOT
from pipeline.cli import main
from publish import releases
from publish.bundle import write_bundle
from publish.push import PushRefused, check_bundle
from tests.publish.publish_marts_fixture import passing_runs
from tests.publish.test_releases import _republish_with_corrected_appraisal

PERIOD = 2023


def _manifest(path):
    return json.loads((path / "manifest.json").read_text(encoding="utf-8"))


def _checksum(release_dir) -> str:
    """What the approver reviewed: the draft's bundle checksum."""
    return _manifest(release_dir)["bundle_sha256"]


def _draft_of_a_correction(settings):
    """Release 1 current, then the council's correction built as a draft."""
    write_bundle(settings, PERIOD, passing_runs(PERIOD))
    _republish_with_corrected_appraisal(settings)
    draft = write_bundle(settings, PERIOD, passing_runs(PERIOD), approval_required=True)
    return draft


def test_a_draft_changes_nothing_live_until_approved(small_warehouse):
    settings = small_warehouse
    live = settings.out / str(PERIOD)
    write_bundle(settings, PERIOD, passing_runs(PERIOD))
    before = {p: p.read_bytes() for p in live.rglob("*") if p.is_file()}
    _republish_with_corrected_appraisal(settings)

    draft = write_bundle(settings, PERIOD, passing_runs(PERIOD), approval_required=True)
    assert draft != live and draft.name == "2"
    assert {p: p.read_bytes() for p in live.rglob("*") if p.is_file()} == before
    assert _manifest(draft)["release"]["status"] == "draft"
    with pytest.raises(PushRefused, match="only an approved release is pushed"):
        check_bundle(draft)

    store = releases.ReleaseStore(settings.out, PERIOD)
    approved = store.approve(2, by="Trưởng phòng CĐS", reviewed_sha256=_checksum(draft))
    assert store.live_number() == 2
    info = _manifest(live)["release"]
    assert info["status"] == "approved" and info["approved_by"] == "Trưởng phòng CĐS"
    assert info["approved_at"].endswith("Z") and approved.number == 2
    assert (live / "releases" / "1" / "results.json").is_file()
    check_bundle(live)


def test_rejecting_keeps_the_current_release_and_records_who(small_warehouse):
    settings = small_warehouse
    live = settings.out / str(PERIOD)
    _draft_of_a_correction(settings)
    current = (live / "results.json").read_bytes()

    store = releases.ReleaseStore(settings.out, PERIOD)
    rejected = store.reject(2, by="Hội đồng", reason="chờ giải trình của Sở B")
    assert store.live_number() == 1 and (live / "results.json").read_bytes() == current
    assert store.numbers() == [1] and store.draft() is None
    (record,) = store.rejected()
    assert record["status"] == "rejected" and record["rejected_by"] == "Hội đồng"
    assert record["reason"] == "chờ giải trình của Sở B" and record["number"] == 2
    assert rejected.path.parent.name == "rejected"

    # The next draft takes number 2 again: no gap in the releases.
    draft = write_bundle(settings, PERIOD, passing_runs(PERIOD), approval_required=True)
    assert draft.name == "2"


def test_a_new_build_supersedes_the_waiting_draft(small_warehouse):
    settings = small_warehouse
    _draft_of_a_correction(settings)
    store = releases.ReleaseStore(settings.out, PERIOD)
    write_bundle(
        settings, PERIOD, passing_runs(PERIOD), approval_required=True, publication="final"
    )
    assert store.draft().number == 2  # the same files: the waiting draft stays
    write_bundle(
        settings, PERIOD, passing_runs(PERIOD), approval_required=True, publication="preliminary"
    )
    assert store.draft().number == 2 and store.draft().info["publication"] == "preliminary"
    assert [r["status"] for r in store.rejected()] == ["superseded"]


@pytest.mark.parametrize("point", ["approved", "before-switch"])
def test_a_kill_during_dti_release_approve_is_completed_by_the_next_command(small_warehouse, point):
    settings = small_warehouse
    draft = _draft_of_a_correction(settings)
    store = releases.ReleaseStore(settings.out, PERIOD)
    done = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "release", "approve", "--period", "2023"]
        + ["--release", "2", "--checksum", _checksum(draft)[:12]]
        + ["--out", str(settings.out), "--by", "b"],
        cwd=PROJECT_ROOT,
        env={**os.environ, releases.KILL_ENV: point, "PYTHONPATH": str(PROJECT_ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]
    assert store.live_number() == 1  # killed after the decision, before the switch
    check_bundle(settings.out / str(PERIOD))
    store.recover()  # what every publish and `dti release` command does first
    assert store.live_number() == 2
    assert _manifest(settings.out / str(PERIOD))["release"]["approved_by"] == "b"


def test_preliminary_results_carry_a_banner_on_every_page(small_warehouse):
    bundle = write_bundle(small_warehouse, PERIOD, passing_runs(PERIOD), publication="preliminary")
    assert _manifest(bundle)["release"]["publication"] == "preliminary"
    for page in [bundle / "index.html", *(bundle / "don-vi").iterdir()]:
        assert "Kết quả công bố sơ bộ" in page.read_text(encoding="utf-8"), page
    final = write_bundle(small_warehouse, PERIOD, passing_runs(PERIOD))
    assert "sơ bộ" not in (final / "index.html").read_text(encoding="utf-8")
    assert _manifest(final)["release"]["number"] == 2


def test_a_manifest_that_names_the_publication_stage_is_still_read(small_warehouse):
    """Manifests written before the publication had its own word keep ``release.stage``."""
    settings = small_warehouse
    draft = write_bundle(
        settings, PERIOD, passing_runs(PERIOD), approval_required=True, publication="preliminary"
    )
    manifest = _manifest(draft)
    manifest["release"]["stage"] = manifest["release"].pop("publication")
    (draft / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")

    store = releases.ReleaseStore(settings.out, PERIOD)
    described = releases.describe(store.draft())
    assert described["publication"] == "preliminary" and "stage" not in described
    subject, body = releases.approval_prompt(described)
    assert subject.endswith("(sơ bộ)")
    assert "- Hình thức công bố: **sơ bộ**." in body
    store.approve(1, by="b", reviewed_sha256=_checksum(draft))  # rewrites the manifest
    rewritten = _manifest(settings.out / str(PERIOD))["release"]
    assert rewritten["publication"] == "preliminary" and "stage" not in rewritten
    assert releases.release_info({"release": {"number": 1}})["publication"] == "final"


def test_dti_release_commands_list_approve_and_reject(small_warehouse, capsys):
    settings = small_warehouse
    draft = _draft_of_a_correction(settings)
    out = ["--out", str(settings.out)]
    assert main(["release", "list", "--period", "2023", *out]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["current"] == 1
    assert [(r["number"], r["status"], r["current"]) for r in listed["releases"]] == [
        (1, "approved", True),
        (2, "draft", False),
    ]
    # what the approver checks and names in the decision: the draft's checksum
    assert listed["releases"][1]["bundle_sha256"] == _checksum(draft)
    assert {c["unit_code"] for c in listed["releases"][1]["changes"]} == {"SO-B", "SO-C", "SO-D"}
    approve = ["release", "approve", "--period", "2023", "--release", "2", "--by", "x", *out]
    assert main([*approve, "--checksum", _checksum(draft)[:16]]) == 0
    assert json.loads(capsys.readouterr().out)["approved_by"] == "x"
    # approving again what is already current changes nothing, as Airflow's second click
    assert main([*approve, "--checksum", _checksum(draft)]) == 0
    assert json.loads(capsys.readouterr().out)["approved_by"] == "x"
    reject = ["release", "reject", "--period", "2023", "--release", "3", "--by", "x", *out]
    assert main([*reject, "--reason", "sai"]) == 1  # nothing waits
    assert "không có bản nháp số 3 đang chờ phê duyệt" in capsys.readouterr().err
