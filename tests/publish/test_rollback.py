"""`dti release rollback`: going back to an earlier release is a new release, recorded and
approved like any other; listing the releases never changes which one is current."""

from __future__ import annotations

import json

import pytest

from pipeline import jobs
from pipeline.cli import main
from publish import releases
from publish.bundle import write_bundle
from publish.push import check_bundle
from publish.site_server import SiteServer
from tests.publish.publish_marts_fixture import passing_runs
from tests.publish.test_releases import _republish_with_corrected_appraisal

PERIOD = 2023


def _files(folder):
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in folder.rglob("*")
        if p.is_file() and p.name != "manifest.json" and "releases" not in p.parts[len(folder.parts):]
    }  # fmt: skip


@pytest.fixture
def two_releases(small_warehouse):
    """Release 1, then the council's correction as release 2, current."""
    write_bundle(small_warehouse, PERIOD, passing_runs(PERIOD))
    _republish_with_corrected_appraisal(small_warehouse)
    write_bundle(small_warehouse, PERIOD, passing_runs(PERIOD))
    assert releases.ReleaseStore(small_warehouse.out, PERIOD).live_number() == 2
    return small_warehouse


def test_roll_back_then_list_and_the_rollback_stays(two_releases, capsys):
    settings = two_releases
    out = ["--out", str(settings.out)]
    first = settings.out / ".releases" / "2023" / "1"
    rollback = ["release", "rollback", "--period", "2023", "--to", "1", "--by", "Trưởng phòng"]
    assert main([*rollback, "--reason", "bản 2 sai số liệu", *out]) == 0
    made = json.loads(capsys.readouterr().out)
    assert (made["number"], made["status"], made["rollback_of"], made["made"]) == (
        3, "approved", 1, True,
    )  # fmt: skip
    assert made["rollback_by"] == "Trưởng phòng" and made["rollback_reason"] == "bản 2 sai số liệu"
    live = settings.out / str(PERIOD)
    assert _files(live) == _files(first)
    check_bundle(live)  # fit to push: the files match the manifest

    for _ in range(2):  # listing only reads: the rollback is still current after it
        assert main(["release", "list", "--period", "2023", *out]) == 0
        listed = json.loads(capsys.readouterr().out)
        assert listed["current"] == 3
    assert [(r["number"], r.get("rollback_of")) for r in listed["releases"]] == [
        (1, None), (2, None), (3, 1),
    ]  # fmt: skip
    assert {c["unit_code"] for c in listed["releases"][2]["changes"]} == {"SO-B", "SO-C", "SO-D"}
    # what the list prints names no path of this machine
    text = json.dumps(listed)
    assert str(settings.out) not in text and listed["releases"][2]["folder"] == ".releases/2023/3"
    # the next command that re-establishes the invariant keeps it too
    assert jobs.draft_of(settings, PERIOD) is None
    assert releases.ReleaseStore(settings.out, PERIOD).live_number() == 3

    # asked again: nothing to do, release 1's files are what is current
    assert main([*rollback, "--reason", "lần nữa", *out]) == 0
    again = json.loads(capsys.readouterr().out)
    assert (again["number"], again["made"]) == (3, False)


def test_a_rollback_waits_for_approval_like_any_release(two_releases, capsys):
    settings = two_releases
    draft = jobs.rollback(
        settings, PERIOD, 1, by="Chuyên viên", reason="bản 2 sai", approval_required=True
    )
    store = releases.ReleaseStore(settings.out, PERIOD)
    assert (draft["number"], draft["status"], store.live_number()) == (3, "draft", 2)
    subject, body = releases.approval_prompt(draft)
    assert "Quay lại bản 1" in body and "bản 2 sai" in body
    assert jobs.draft_of(settings, PERIOD)["rollback_of"] == 1  # what dti_approve is shown

    approve = ["release", "approve", "--period", "2023", "--release", "3", "--by", "Giám đốc"]
    assert main([*approve, "--checksum", draft["bundle_sha256"], "--out", str(settings.out)]) == 0
    capsys.readouterr()
    assert store.live_number() == 3
    assert store.release(3).info["approved_by"] == "Giám đốc"


def test_a_rollback_is_pushed_as_a_newer_release(two_releases, tmp_path):
    from publish.push import push_bundle

    settings = two_releases
    with SiteServer(tmp_path / "site", "t") as site:
        push_bundle(settings, PERIOD, url=site.url, token="t")
        jobs.rollback(settings, PERIOD, 1, by="x", reason="sai", approval_required=False)
        assert push_bundle(settings, PERIOD, url=site.url, token="t").status == "published"
        assert site.store.shown(str(PERIOD)).release == 3
        first = settings.out / ".releases" / "2023" / "1"
        assert (
            site.store.published_sha(str(PERIOD))
            == json.loads((first / "manifest.json").read_text(encoding="utf-8"))["bundle_sha256"]
        )


def test_a_rollback_to_nothing_to_a_draft_or_without_a_reason_is_refused(two_releases):
    store = releases.ReleaseStore(two_releases.out, PERIOD)
    store.set_status(1, releases.DRAFT)  # as if release 1 had never been approved
    for to, reason, message in (
        (7, "sai", "không có bản số 7"),
        (2, "  ", "cần ghi lý do"),
        (1, "sai", "chưa từng được phê duyệt"),
    ):
        with pytest.raises(releases.PublishError, match=message):
            jobs.rollback(two_releases, PERIOD, to, by="x", reason=reason, approval_required=False)
    assert store.numbers() == [1, 2] and store.live_number() == 2


def test_folders_named_with_digits_that_are_not_ascii_are_no_releases(tmp_path):
    store = releases.ReleaseStore(tmp_path, PERIOD)
    for name in ("1", "\u00b2", "\u0663", "\uff14"):  # 1, ², Arabic-Indic 3, fullwidth 4
        (store.root / name).mkdir(parents=True)
        (tmp_path / name).mkdir(exist_ok=True)
    assert store.numbers() == [1]
    assert releases.published_periods(tmp_path) == []  # "1" holds no current release
