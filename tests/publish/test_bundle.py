import csv
import hashlib
import io
import json
import re
from datetime import UTC, datetime
from decimal import Decimal as D
from pathlib import Path

import duckdb
import pytest

import dti
from publish.bundle import write_bundle
from publish.marts import MartsMissing
from tests.publish.publish_marts_fixture import UnitSpec, make_warehouse, passing_runs


def _results(bundle_dir):
    return json.loads((bundle_dir / "results.json").read_text(encoding="utf-8"))


def test_units_sorted_by_block_rank_code_with_not_submitted_last(small_warehouse):
    bundle = write_bundle(small_warehouse, 2023, passing_runs(2023))
    units = _results(bundle)["units"]
    assert [u["unit_code"] for u in units] == [
        "QH-PN", "QH-10", "QH-2",
        "SO-A", "SO-C", "SO-D", "SO-B", "SO-E",
    ]  # fmt: skip
    assert [u["rank"] for u in units] == [1, 2, 3, 1, 2, 2, 4, None]


def test_results_json_follows_the_contract(small_warehouse):
    bundle = write_bundle(small_warehouse, 2023, passing_runs(2023))
    doc = _results(bundle)
    assert list(doc) == ["period", "framework_version", "units"]
    assert doc["period"] == 2023 and doc["framework_version"] == "hcm-2023"
    sonv = next(u for u in doc["units"] if u["unit_code"] == "SO-A")
    assert list(sonv) == [
        "unit_code", "unit_name", "block", "status", "total_score", "self_score",
        "applicable_max", "percent", "level", "rank", "rank_group", "rank_group_name",
        "not_ranked_reason",
        "pillars", "unanswered", "late", "margins",
    ]  # fmt: skip
    assert list(sonv["margins"]) == [
        "next_level", "points_to_next_level", "points_to_drop_level", "points_to_next_rank",
        "points_to_drop_rank",
    ]  # fmt: skip
    # Appraisal (8) overrides self (10) on NTS.2: 8 + 10 + 5 + 23.5.
    assert sonv["total_score"] == 46.5 and sonv["self_score"] == 48.5
    assert sonv["level"] == "nang_cao" and sonv["status"] == "scored"
    assert sonv["pillars"] == [
        {"pillar_code": "NTS", "pillar_name": "Nhận thức số", "score": 23, "max_points": 25,
         "rank": 1},
        {"pillar_code": "HTS", "pillar_name": "Hạ tầng số", "score": 23.5, "max_points": 25,
         "rank": 1},
    ]  # fmt: skip
    not_submitted = next(u for u in doc["units"] if u["unit_code"] == "SO-E")
    assert not_submitted["status"] == "not_submitted"
    assert not_submitted["level"] is None and not_submitted["rank"] is None
    assert not_submitted["percent"] is None and not_submitted["total_score"] == 0
    late = next(u for u in doc["units"] if u["unit_code"] == "SO-C")
    assert late["late"] is True
    # SO-C and SO-D tie on NTS (20 of 25) behind SO-A; a unit not submitted has no pillar rank
    assert [p["rank"] for p in late["pillars"]] == [2, 2]
    assert [p["rank"] for p in not_submitted["pillars"]] == [None, None]


def test_numbers_are_exact_decimal_text_never_float_noise(small_warehouse):
    text = (write_bundle(small_warehouse, 2023, passing_runs(2023)) / "results.json").read_text(
        encoding="utf-8"
    )
    assert '"total_score": 96.95,' in text
    assert '"applicable_max": 100,' in text
    assert '"total_score": 17.25,' in text
    for number in re.findall(r": (-?\d+(?:\.\d+)?)[,\n]", text):
        assert len(number.partition(".")[2]) <= 2, number
    assert "e+" not in text.lower() and "000000" not in text


def test_unanswered_indicators_in_framework_order(small_warehouse):
    doc = _results(write_bundle(small_warehouse, 2023, passing_runs(2023)))
    by_code = {u["unit_code"]: u for u in doc["units"]}
    assert by_code["SO-B"]["unanswered"] == ["NTS.2", "NTS.10"]  # not NTS.10 before NTS.2
    assert by_code["SO-E"]["unanswered"] == ["NTS.1", "NTS.2", "NTS.10", "HTS.1"]
    assert by_code["SO-A"]["unanswered"] == []


def test_same_inputs_give_byte_identical_files(small_warehouse, tmp_path):
    first = write_bundle(small_warehouse, 2023, passing_runs(2023))
    snapshot = {p.relative_to(first): p.read_bytes() for p in first.rglob("*") if p.is_file()}
    manifest_before = json.loads(snapshot.pop(Path("manifest.json")))
    second = write_bundle(
        small_warehouse.with_paths(out=tmp_path / "elsewhere"),
        2023,
        passing_runs(2023),
        built_at=datetime(2030, 1, 1, tzinfo=UTC),
    )
    again = {p.relative_to(second): p.read_bytes() for p in second.rglob("*") if p.is_file()}
    manifest_after = json.loads(again.pop(Path("manifest.json")))
    assert again == snapshot
    assert manifest_after["bundle_sha256"] == manifest_before["bundle_sha256"]
    assert manifest_after["built_at"] == "2030-01-01T00:00:00Z"
    assert b"2030" not in again[Path("results.json")]


def test_republishing_the_same_files_makes_no_new_release(small_warehouse):
    first = write_bundle(small_warehouse, 2023, passing_runs(2023))
    manifest = (first / "manifest.json").read_bytes()
    second = write_bundle(
        small_warehouse, 2023, passing_runs(2023), built_at=datetime(2030, 1, 1, tzinfo=UTC)
    )
    assert second == first
    assert (second / "manifest.json").read_bytes() == manifest  # release 1, untouched
    assert not (second / "releases").exists()


def test_vietnamese_text_is_nfc_and_not_escaped(settings):
    decomposed = "So\u031b\u0309 Ta\u0300i chi\u0301nh"  # "Sở Tài chính" typed decomposed
    make_warehouse(
        settings.warehouse,
        2023,
        [UnitSpec("SO-X", decomposed, "so_nganh", {"NTS.1": (D(10), None)})],
    )
    raw = (write_bundle(settings, 2023, passing_runs(2023)) / "results.json").read_bytes()
    assert "Sở Tài chính".encode() in raw
    assert b"\\u" not in raw


def test_csv_per_block_with_bom_pillar_columns_and_exact_numbers(small_warehouse):
    bundle = write_bundle(small_warehouse, 2023, passing_runs(2023))
    assert sorted(p.name for p in bundle.glob("results_*.csv")) == [
        "results_quan_huyen.csv",
        "results_so_nganh.csv",
    ]
    data = (bundle / "results_so_nganh.csv").read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert [r["unit_code"] for r in rows] == ["SO-A", "SO-C", "SO-D", "SO-B", "SO-E"]
    first = rows[0]
    assert first["unit_name"] == "Sở Nội vụ"
    assert (
        first["total_score"] == "46.5" and first["NTS_score"] == "23" and first["HTS_max"] == "25"
    )
    assert rows[3]["unanswered"] == "NTS.2;NTS.10"
    assert first["NTS_rank"] == "1" and first["HTS_rank"] == "1" and rows[4]["NTS_rank"] == ""
    assert "points_to_next_rank" in first and rows[4]["points_to_next_rank"] == ""
    assert rows[4]["status"] == "not_submitted" and rows[4]["rank"] == "" and rows[4]["level"] == ""


def test_csv_neutralises_spreadsheet_formulas(settings):
    units = [
        UnitSpec("SO-F1", '=HYPERLINK("http://x","bấm")', "so_nganh", {"NTS.1": (D(10), None)}),
        UnitSpec("SO-F2", "+Sở Công Thương", "so_nganh", {"NTS.1": (D(9), None)}),
        UnitSpec("SO-F3", "-1+2", "so_nganh", {"NTS.1": (D(8), None)}),
        UnitSpec("SO-F4", "@SUM(A1)", "so_nganh", {"NTS.1": (D(7), None)}),
        # a Vietnamese-locale Excel splits on ";": each part is a cell of its own
        UnitSpec("SO-F5", "Sở Tư pháp;=SUM(A1); +1", "so_nganh", {"NTS.1": (D(6), None)}),
    ]
    make_warehouse(settings.warehouse, 2023, units)
    bundle = write_bundle(settings, 2023, passing_runs(2023))
    text = (bundle / "results_so_nganh.csv").read_bytes().decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    names = [r["unit_name"] for r in rows]
    assert names == [
        '\'=HYPERLINK("http://x","bấm")', "'+Sở Công Thương", "'-1+2", "'@SUM(A1)",
        "Sở Tư pháp;'=SUM(A1);' +1",
    ]  # fmt: skip
    for separator in (",", ";"):
        for row in csv.reader(io.StringIO(text), delimiter=separator):
            assert not any(c.lstrip(" ").startswith(("=", "+", "-", "@")) for c in row), row
    # results.json keeps the name exactly as registered.
    assert _results(bundle)["units"][0]["unit_name"] == '=HYPERLINK("http://x","bấm")'


def test_manifest_lists_every_file_with_its_sha256(small_warehouse):
    bundle = write_bundle(small_warehouse, 2023, passing_runs(2023))
    manifest = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))
    on_disk = sorted(
        str(p.relative_to(bundle))
        for p in bundle.rglob("*")
        if p.is_file() and p.name not in ("manifest.json", "datapackage.json")
    )
    assert [f["path"] for f in manifest["files"]] == on_disk
    for f in [*manifest["files"], manifest["package"]]:
        assert f["sha256"] == hashlib.sha256((bundle / f["path"]).read_bytes()).hexdigest()
    assert "don-vi/SO-A.html" in on_disk and "index.html" in on_disk


def test_manifest_names_inputs_versions_and_validation(small_warehouse):
    bundle = write_bundle(small_warehouse, 2023, passing_runs(2023))
    manifest = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))
    assert [i["source_file"] for i in manifest["inputs"]] == [
        "so_nganh_2023.csv",
        "quan_huyen_2023.xlsx",
    ]
    assert manifest["inputs"][0]["sha256"] == "2023" + "a" * 60
    assert manifest["inputs"][0]["received_at"] == "2024-01-15T03:00:00.000000Z"
    assert manifest["framework_version"] == "hcm-2023"
    assert manifest["code_version"]["dti"] == dti.__version__
    commit = manifest["code_version"]["git_commit"]
    assert commit is None or re.fullmatch(r"[0-9a-f]{40}", commit)
    assert manifest["validation"] == {
        "passed": True, "runs": 4, "failed": [],
        "checkpoints": ["counted_answers", "framework", "scores", "submissions"],
    }  # fmt: skip
    assert [r["checkpoint"] for r in manifest["validation_runs"]] == [
        "framework",
        "submissions",
        "counted_answers",
        "scores",
    ]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", manifest["built_at"])
    assert manifest["release"] == {
        "number": 1,
        "previous_release": None,
        "status": "approved",
        "publication": "final",
        "approval_required": False,
    }
    assert manifest["changes"] == []


def test_manifest_records_a_failed_validation(small_warehouse):
    runs = passing_runs(2023)
    runs[-1].success = False
    manifest = json.loads(
        (write_bundle(small_warehouse, 2023, runs) / "manifest.json").read_text(encoding="utf-8")
    )
    assert manifest["validation"]["passed"] is False
    assert manifest["validation"]["failed"] == ["scores"]


def test_no_validation_runs_is_not_passing(small_warehouse):
    manifest = json.loads(
        (write_bundle(small_warehouse, 2023, []) / "manifest.json").read_text(encoding="utf-8")
    )
    assert manifest["validation"]["passed"] is False


def test_warehouse_is_closed_after_the_bundle_is_written(small_warehouse):
    write_bundle(small_warehouse, 2023, passing_runs(2023))
    con = duckdb.connect(str(small_warehouse.warehouse))  # a writer can open it again
    con.execute("create table scratch as select 1")
    con.close()


def test_missing_period_or_marts_say_what_to_run(settings, small_warehouse):
    with pytest.raises(MartsMissing, match="dti run --period 2031"):
        write_bundle(small_warehouse, 2031)
    empty = settings.warehouse.with_name("empty.duckdb")
    duckdb.connect(str(empty)).close()
    with pytest.raises(MartsMissing, match="marts are missing"):
        write_bundle(settings.with_paths(warehouse=empty), 2023)
