"""The jobs keep their guarantees whichever door calls them: one job at a time on a
warehouse, one decision per period's release naming what was reviewed, a bundle that is a
function of the warehouse and the registry alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dti.settings import PROJECT_ROOT, Settings
from dti.warehouse_lock import WarehouseBusy, hold, lock_path
from pipeline import jobs
from pipeline.cli import main
from publish import releases
from publish.bundle import write_bundle
from tests.publish.publish_marts_fixture import make_warehouse, passing_runs, small_units
from tests.publish.test_releases import _republish_with_corrected_appraisal

HOLD_IN_A_CHILD = """
import sys, time
from pathlib import Path
from dti.warehouse_lock import hold
with hold(Path(sys.argv[1]), "dti run"):
    print("held", flush=True)
    time.sleep(60)
"""


@pytest.fixture
def held_elsewhere(settings: Settings):
    """Another process holds the warehouse (a `dti run` in its middle)."""
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD_IN_A_CHILD, str(settings.warehouse)],
        cwd=PROJECT_ROOT, env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert child.stdout.readline().strip() == "held"
    yield child
    child.kill()
    child.wait()


def test_a_job_is_refused_at_once_while_another_process_holds_the_warehouse(
    settings: Settings, held_elsewhere: subprocess.Popen, capsys
) -> None:
    with pytest.raises(WarehouseBusy) as busy:
        with hold(settings.warehouse, "dti ingest"):
            pytest.fail("the lock was taken twice")
    assert f"PID {held_elsewhere.pid}" in str(busy.value) and "dti run" in str(busy.value)
    # a reader is refused too, rather than failing halfway
    with pytest.raises(WarehouseBusy):
        with hold(settings.warehouse, "dti explain", shared=True):
            pass
    # every writing door goes through the jobs: none gets past its first step
    for argv in (["ingest"], ["run", "--period", "2023"], ["validate", "--checkpoint", "scores",
                 "--period", "2023"]):  # fmt: skip
        settings.warehouse.touch()
        code = main([*argv, "--warehouse", str(settings.warehouse), "--out", str(settings.out)]
                    if argv[0] == "run" else [*argv, "--warehouse", str(settings.warehouse)])  # fmt: skip
        err = capsys.readouterr().err
        assert code == 1 and "WarehouseBusy" in err and f"PID {held_elsewhere.pid}" in err, err
    assert not settings.out.exists()
    held_elsewhere.kill()
    held_elsewhere.wait()
    with hold(settings.warehouse, "dti ingest"):  # a killed holder leaves no lock behind
        assert "dti ingest" in lock_path(settings.warehouse).read_text()


def test_the_lock_is_reentrant_within_a_job_and_shared_between_readers(
    settings: Settings,
) -> None:
    with hold(settings.warehouse, "dti run"):
        with hold(settings.warehouse, "dti ingest"):  # run → take_in
            pass
        with hold(settings.warehouse, "dti explain", shared=True):
            pass
    with hold(settings.warehouse, "dti audit", shared=True):
        with hold(settings.warehouse, "dti missing", shared=True):
            pass
        with pytest.raises(RuntimeError, match="only reads"):
            with hold(settings.warehouse, "dti validate"):
                pass


def test_a_second_dti_run_is_refused_before_its_first_step_and_the_first_publishes(
    tmp_path: Path,
) -> None:
    from pipeline.sample import write_sample

    write_sample(tmp_path / "inbox", period=2023)
    paths = ["--inbox", str(tmp_path / "inbox"), "--warehouse", str(tmp_path / "w.duckdb"),
             "--out", str(tmp_path / "out")]  # fmt: skip
    argv = [sys.executable, "-m", "pipeline.cli", "run", "--period", "2023", *paths]
    first = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lock = lock_path(tmp_path / "w.duckdb")
    deadline = time.monotonic() + 60
    while not (lock.exists() and lock.read_text()) and first.poll() is None:
        assert time.monotonic() < deadline, "the first run never took the warehouse"
        time.sleep(0.1)
    time.sleep(1)  # one second apart, the first one in its ingest or build by now
    second = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    out, err = first.communicate(timeout=600)

    assert second.returncode == 1
    assert "WarehouseBusy" in second.stderr and f"PID {first.pid}" in second.stderr
    assert "ok " not in second.stderr and not second.stdout  # refused before any step
    assert "Could not set lock" not in second.stderr + err  # DuckDB's own error never shows
    assert first.returncode == 0, err[-3000:]
    manifest = json.loads((tmp_path / "out" / "2023" / "manifest.json").read_text())
    assert manifest["release"]["number"] == 1 and manifest["validation"]["passed"]


# --- one decision per period's release ------------------------------------------------------


def _checksum(release_dir: Path) -> str:
    return json.loads((release_dir / "manifest.json").read_text())["bundle_sha256"]


def test_an_approval_of_a_draft_rebuilt_since_its_review_is_refused(
    settings: Settings, capsys
) -> None:
    make_warehouse(settings.warehouse, 2023, small_units())
    write_bundle(settings, 2023, passing_runs(2023))
    _republish_with_corrected_appraisal(settings)
    reviewed = write_bundle(settings, 2023, passing_runs(2023), approval_required=True)
    reviewed_sha = _checksum(reviewed)
    live = settings.out / "2023"
    before = (live / "results.json").read_bytes()

    # between the review and the click, a run rebuilds the draft under the same number
    make_warehouse_twice = small_units()
    next(u for u in make_warehouse_twice if u.code == "SO-C").answers.clear()
    settings.warehouse.unlink()
    make_warehouse(settings.warehouse, 2023, make_warehouse_twice)
    rebuilt = write_bundle(settings, 2023, passing_runs(2023), approval_required=True)
    assert rebuilt.name == reviewed.name == "2" and _checksum(rebuilt) != reviewed_sha

    with pytest.raises(releases.PublishError, match="đã thay đổi kể từ khi được xem xét"):
        jobs.approve(settings, 2023, 2, by="Trưởng phòng", reviewed_sha256=reviewed_sha)
    out = ["--out", str(settings.out), "--period", "2023", "--release", "2", "--by", "x"]
    assert main(["release", "approve", *out, "--checksum", reviewed_sha[:12]]) == 1
    assert "đã thay đổi kể từ khi được xem xét" in capsys.readouterr().err
    assert main(["release", "approve", *out, "--checksum", "abc"]) == 1  # too short to name one
    assert "ít nhất 12 ký tự" in capsys.readouterr().err
    store = releases.ReleaseStore(settings.out, 2023)
    assert store.live_number() == 1 and (live / "results.json").read_bytes() == before
    assert store.draft().number == 2  # still waiting, for a decision on what it is now

    # the draft as it is now, reviewed and approved: current, with who and why
    approved = jobs.approve(
        settings, 2023, 2, by="Trưởng phòng", reviewed_sha256=_checksum(rebuilt), reason="đã rà"
    )
    assert approved["approved_by"] == "Trưởng phòng" and store.live_number() == 2
    assert approved["approval_reason"] == "đã rà"


def test_a_rejection_says_why_and_a_second_one_changes_nothing(settings: Settings) -> None:
    make_warehouse(settings.warehouse, 2023, small_units())
    write_bundle(settings, 2023, passing_runs(2023))
    _republish_with_corrected_appraisal(settings)
    draft = write_bundle(settings, 2023, passing_runs(2023), approval_required=True)
    with pytest.raises(releases.PublishError, match="cần ghi lý do"):
        jobs.reject(settings, 2023, 2, by="Hội đồng", reason=" ")
    first = jobs.reject(
        settings, 2023, 2, by="Hội đồng", reason="chờ giải trình", reviewed_sha256=_checksum(draft)
    )
    again = jobs.reject(settings, 2023, 2, by="Người khác", reason="lần hai")
    assert first["rejected_by"] == again["rejected_by"] == "Hội đồng"
    assert again["reason"] == "chờ giải trình"
    assert len(releases.ReleaseStore(settings.out, 2023).rejected()) == 1


# --- a period's bundle is a function of the warehouse and the registry ------------------------


@pytest.fixture(scope="module")
def two_periods(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The 2023 and 2024 samples taken in and validated in one warehouse, nothing released."""
    from pipeline.sample import write_sample

    work = tmp_path_factory.mktemp("two_periods")
    settings = Settings(
        inbox=work / "inbox", warehouse=work / "w.duckdb", out=work / "out",
        archive=work / "archive", dbt_docs=False,
    )  # fmt: skip
    for period in (2023, 2024):
        write_sample(settings.inbox, period=period)
    jobs.take_in(settings)
    assert jobs.transform(settings, None).periods == [2023, 2024]
    return settings


def _files(release: Path) -> dict[str, bytes]:
    """Every published file of a release but its manifest (which names its own release)."""
    return {
        str(p.relative_to(release)): p.read_bytes()
        for p in sorted(release.rglob("*"))
        if p.is_file()
        and p.name != "manifest.json"
        and "releases" not in p.relative_to(release).parts
    }


def test_two_periods_two_drafts_and_approving_one_makes_only_it_current(
    two_periods: Settings,
) -> None:
    together = two_periods.with_paths(out=two_periods.out.parent / "together")
    released = jobs.release(together, [2023, 2024], approval_required=True)
    assert [(d["period"], d["number"]) for d in released.drafts] == [(2023, 1), (2024, 1)]
    assert not (together.out / "2023").exists() and not (together.out / "2024").exists()

    draft_2024 = next(d for d in released.drafts if d["period"] == 2024)
    jobs.approve(together, 2024, 1, by="Hội đồng", reviewed_sha256=draft_2024["bundle_sha256"])
    assert (together.out / "2024" / "index.html").is_file()
    assert not (together.out / "2023").exists()  # 2023's draft still waits for its own decision
    assert releases.ReleaseStore(together.out, 2023).draft().number == 1
    # 2024's pages compare with 2023 from the marts, though no 2023 release is current
    results = json.loads((together.out / "2024" / "results.json").read_text(encoding="utf-8"))
    compared = [
        u for u in results["units"] if u["status"] == "scored" and u["unit_code"].startswith("SO-")
    ]
    page = (together.out / "2024" / "don-vi" / f"{compared[0]['unit_code']}.html").read_text(
        encoding="utf-8"
    )
    assert "So sánh năm 2024 với năm 2023" in page

    # the same 2024 bytes whatever was published before it, or beside it
    apart = {}
    for order in ((2023, 2024), (2024, 2023)):
        settings = two_periods.with_paths(out=two_periods.out.parent / f"{order[0]}-first")
        for period in order:
            jobs.release(settings, [period], approval_required=False)
        apart[order] = _files(settings.out / "2024")
    published = _files(together.out / "2024")
    assert published and published == apart[(2023, 2024)] == apart[(2024, 2023)]


def test_explain_names_the_rank_group_by_its_label(two_periods: Settings, capsys) -> None:
    argv = ["explain", "--period", "2024", "--unit", "SO-SNV"]
    argv += ["--warehouse", str(two_periods.warehouse), "--out", str(two_periods.out)]
    assert main([*argv, "--json"]) == 0
    rank = json.loads(capsys.readouterr().out)["rank"]
    assert rank["rank_group"] == "cung_cap_dvc"
    assert rank["rank_group_name"] == "Cơ quan có cung cấp dịch vụ công"
    assert main(argv) == 0
    assert "nhóm Cơ quan có cung cấp dịch vụ công [cung_cap_dvc]" in capsys.readouterr().out
