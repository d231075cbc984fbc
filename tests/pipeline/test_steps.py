"""`dti run` end to end on the bundled sample, checked unit by unit against the reference scorer."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest

from dti.settings import PROJECT_ROOT, SEEDS_DIR
from pipeline.sample import write_sample
from testkit.reference_scoring import assert_units_match, read_inbox, score_period

PERIOD = 2023
DTI = [sys.executable, "-m", "pipeline.cli"]


def dti_run(
    tmp: Path, *extra: str, period: int = PERIOD, dbt_docs: bool = False
) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DTI_")}
    env["DTI_DBT_DOCS"] = str(dbt_docs).lower()
    return subprocess.run(
        [*DTI, "run", "--period", str(period), "--inbox", str(tmp / "inbox"),
         "--warehouse", str(tmp / "warehouse.duckdb"), "--out", str(tmp / "out"), *extra],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory) -> dict:
    """Two runs of the same sample, each on its own fresh inbox, warehouse and out folder; the
    first builds the dbt docs into its release, the second does not."""
    runs = {}
    for name in ("first", "second"):
        tmp = tmp_path_factory.mktemp(name)
        write_sample(tmp / "inbox", period=PERIOD)
        rows = read_inbox(tmp / "inbox")
        done = dti_run(tmp, "--show-ranking", dbt_docs=name == "first")
        runs[name] = {"tmp": tmp, "rows": rows, "proc": done}
    return runs


def test_run_succeeds_and_prints_a_summary_per_block(two_runs) -> None:
    proc = two_runs["first"]["proc"]
    assert proc.returncode == 0, proc.stderr[-2000:]
    for label in ("so_nganh", "quan_huyen"):
        assert label in proc.stdout
    assert "Sở Nội vụ" in proc.stdout, "the ranking shows Vietnamese names intact"
    assert str(two_runs["first"]["tmp"] / "out" / str(PERIOD) / "index.html") in proc.stdout


def test_every_unit_matches_the_reference_scorer(two_runs) -> None:
    run = two_runs["first"]
    bundle = run["tmp"] / "out" / str(PERIOD)
    published = json.loads(
        (bundle / "results.json").read_text(encoding="utf-8"), parse_float=Decimal
    )
    expected = score_period(run["rows"], PERIOD, SEEDS_DIR)
    assert published["period"] == PERIOD
    assert published["framework_version"] == "hcm-2023"
    assert_units_match(published, expected)


def test_the_same_inputs_give_a_byte_identical_results_json(two_runs) -> None:
    first, second = (
        two_runs[n]["tmp"] / "out" / str(PERIOD) / "results.json" for n in ("first", "second")
    )
    assert first.read_bytes() == second.read_bytes()


def test_published_levels_look_like_the_2023_picture(two_runs) -> None:
    bundle = two_runs["first"]["tmp"] / "out" / str(PERIOD)
    units = json.loads((bundle / "results.json").read_text(encoding="utf-8"))["units"]
    departments = [u for u in units if u["block"] == "so_nganh"]
    levels = {
        lvl: sum(u["level"] == lvl for u in departments)
        for lvl in ("nang_cao", "hinh_thanh", "khoi_dong")
    }
    assert levels == {"nang_cao": 11, "hinh_thanh": 18, "khoi_dong": 2}
    assert [u["unit_code"] for u in departments[:5]] == [
        "SO-HEPZA",
        "SO-SNV",
        "SO-STTTT",
        "SO-SKHCN",
        "SO-SKHDT",
    ]
    districts = [u for u in units if u["block"] == "quan_huyen"]
    assert districts[0]["unit_code"] == "QH-PN"
    assert [u["status"] for u in districts].count("not_submitted") == 1


def test_a_failed_run_exits_non_zero_with_a_one_line_reason(tmp_path) -> None:
    (tmp_path / "inbox").mkdir()
    proc = dti_run(tmp_path, period=2031)
    assert proc.returncode != 0
    # the progress lines of the steps that ran (the failed one last), then the one-line reason
    *steps, reason = proc.stderr.strip().splitlines()
    assert reason.startswith("dti run:") and "2031" in reason, proc.stderr[-2000:]
    assert steps and all(line.startswith(("ok ", "FAILED ")) for line in steps), steps
    assert steps[-1].startswith("FAILED ")
    assert not (tmp_path / "out" / "2031" / "results.json").exists()


def test_each_release_keeps_the_dbt_docs_of_its_models(two_runs) -> None:
    first, second = (two_runs[n]["tmp"] / "out" / str(PERIOD) for n in ("first", "second"))
    manifest = json.loads((first / "manifest.json").read_text(encoding="utf-8"))
    [docs] = manifest["audit"]
    page = first / docs["path"]
    assert docs["path"] == "audit/dbt_docs.html"
    assert hashlib.sha256(page.read_bytes()).hexdigest() == docs["sha256"]
    assert "fct_unit_scores" in page.read_text(encoding="utf-8")
    # the dbt docs are audit material, not a published file: not in `files`, not in the
    # bundle's checksum (the statistical audit beside them is: results.md §8.6)
    published = {f["path"] for f in manifest["files"]}
    assert docs["path"] not in published and "audit/thong-ke.html" in published
    without = json.loads((second / "manifest.json").read_text(encoding="utf-8"))
    assert without["audit"] == [] and without["bundle_sha256"] == manifest["bundle_sha256"]
    # its cost is a step of its own in the progress lines
    proc = two_runs["first"]["proc"]
    assert re.search(r"^ok docs +[0-9.]+ s$", proc.stdout + proc.stderr, re.M)
    assert not re.search(r"^ok docs ", two_runs["second"]["proc"].stderr, re.M)
    # the Data Docs index links the release's docs
    index = two_runs["first"]["tmp"] / "warehouse_work" / "gx" / "gx" / "uncommitted"
    index = index / "data_docs" / "local_site" / "index.html"
    links = re.findall(r'class="dti-model-docs" href="([^"]+)">2023, release 1<', index.read_text())
    assert [(index.parent / href).resolve() for href in links] == [page.resolve()]


def _published_bytes(release: Path) -> dict[str, bytes]:
    """Every file of a release (audit material included), each xlsx also by its members."""
    found = {}
    for path in sorted(p for p in release.rglob("*") if p.is_file()):
        name = str(path.relative_to(release))
        found[name] = path.read_bytes()
        if path.suffix == ".xlsx":
            with zipfile.ZipFile(path) as book:
                for member in book.namelist():
                    found[f"{name}!{member}"] = book.read(member)
    return found


def test_no_published_file_names_a_path_of_the_machine(two_runs) -> None:
    tmp = two_runs["first"]["tmp"]
    release = (tmp / "out" / str(PERIOD)).resolve()
    machine = {
        "the run's folder": tmp,
        "the warehouse": tmp / "warehouse.duckdb",
        "the work folder": tmp / "warehouse_work",
        "the inbox": tmp / "inbox",
        "the out folder": tmp / "out",
        "the registry": SEEDS_DIR,
        "the project and working directory": PROJECT_ROOT,
        "the home folder": Path.home(),
    }
    files = _published_bytes(release)
    assert "audit/dbt_docs.html" in files and any("!xl/" in name for name in files)
    assert any(name.startswith("don-vi/") for name in files)
    found = [
        f"{name} names {what} ({folder})"
        for what, folder in machine.items()
        for spelt in {str(folder), str(folder.resolve()), json.dumps(str(folder))[1:-1]}
        for name, data in files.items()
        if spelt.encode("utf-8") in data
    ]
    assert not found, found
    manifest = json.loads(files["manifest.json"])
    assert manifest["validation_runs"] and "folder" not in manifest["registry"]
    assert all("report_path" not in run for run in manifest["validation_runs"])


@pytest.mark.browser  # beside the other tests of these two runs, not in the e2e process
def test_the_dbt_docs_open_with_the_network_blocked(two_runs, tmp_path) -> None:
    """dbt inlines its scripts and styles: the page asks nothing of the internet."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from tests.browser import headless_chromium
    from tests.expectations.test_data_docs_browser import NO_NETWORK, _network_events

    page = two_runs["first"]["tmp"] / "out" / str(PERIOD) / "audit" / "dbt_docs.html"
    with headless_chromium(tmp_path / "profile", NO_NETWORK, log_network=True) as driver:
        driver.get("about:blank")
        driver.get_log("performance")  # Chromium's own start-up requests
        driver.get(page.as_uri() + "#!/model/model.dti.fct_unit_scores")
        WebDriverWait(driver, 30).until(
            lambda d: "one row per period and unit" in d.find_element(By.TAG_NAME, "body").text
        )
        events = _network_events(driver)
    urls = {
        e["params"]["requestId"]: e["params"]["request"]["url"]
        for e in events
        if e["method"] == "Network.requestWillBeSent"
    }
    assert urls and all(u.startswith(("file:", "data:")) for u in urls.values()), urls
    # what fails is dbt's own, online too: image addresses of its templates that the page asks
    # for before rendering them (``{{ getIcon(…) }}``, ``${require(…favicon.ico)}``)
    failed = [
        urls.get(e["params"]["requestId"], "?")
        for e in events
        if e["method"] == "Network.loadingFailed"
    ]
    assert all(u.startswith(page.parent.as_uri()) and "%7B" in u for u in failed), failed
