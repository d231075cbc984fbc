import json
from decimal import Decimal as D

import duckdb

from publish.bundle import write_bundle
from tests.publish.publish_marts_fixture import make_warehouse, passing_runs, small_units


def _manifest(bundle):
    return json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))


def _republish_with_corrected_appraisal(settings):
    """The council corrects Ban Quản lý Khu Nam upwards: it overtakes two departments."""
    units = small_units()
    khu_nam = next(u for u in units if u.code == "SO-B")
    khu_nam.answers = {
        "NTS.1": (D(5), D(10)),
        "NTS.2": (None, D(10)),
        "NTS.10": (None, D(5)),
        "HTS.1": (D("12.25"), D("20.5")),
    }
    settings.warehouse.unlink()
    make_warehouse(settings.warehouse, 2023, units)


def test_republishing_changed_results_keeps_the_previous_bundle(small_warehouse):
    settings = small_warehouse
    first = write_bundle(settings, 2023, passing_runs(2023))
    old_results = (first / "results.json").read_bytes()
    old_manifest = (first / "manifest.json").read_bytes()

    _republish_with_corrected_appraisal(settings)
    bundle = write_bundle(settings, 2023, passing_runs(2023))

    kept = bundle / "releases" / "1"
    assert (kept / "results.json").read_bytes() == old_results
    assert (kept / "manifest.json").read_bytes() == old_manifest
    assert (kept / "index.html").is_file() and (kept / "don-vi" / "SO-B.html").is_file()
    assert (bundle / "results.json").read_bytes() != old_results

    manifest = _manifest(bundle)
    assert manifest["release"]["number"] == 2 and manifest["release"]["previous_release"] == 1
    changes = {c["unit_code"]: c["changed"] for c in manifest["changes"]}
    assert changes["SO-B"] == {
        "total_score": {"from": 17.25, "to": 45.5},
        "level": {"from": "khoi_dong", "to": "nang_cao"},
        "rank": {"from": 4, "to": 2},
    }
    assert changes["SO-C"] == {"rank": {"from": 2, "to": 3}}
    assert changes["SO-D"] == {"rank": {"from": 2, "to": 3}}
    assert set(changes) == {"SO-B", "SO-C", "SO-D"}  # the others did not move
    # The files of the release are not part of the new bundle.
    assert not any(f["path"].startswith("releases/") for f in manifest["files"])


def test_identical_results_make_no_new_release(small_warehouse):
    settings = small_warehouse
    write_bundle(settings, 2023, passing_runs(2023))
    _republish_with_corrected_appraisal(settings)
    write_bundle(settings, 2023, passing_runs(2023))
    bundle = write_bundle(settings, 2023, passing_runs(2023))
    assert sorted(p.name for p in (bundle / "releases").iterdir()) == ["1"]
    manifest = _manifest(bundle)
    assert manifest["release"]["number"] == 2 and manifest["release"]["previous_release"] == 1
    assert {c["unit_code"] for c in manifest["changes"]} == {"SO-B", "SO-C", "SO-D"}


def test_third_release_numbers_on(small_warehouse):
    settings = small_warehouse
    write_bundle(settings, 2023, passing_runs(2023))
    _republish_with_corrected_appraisal(settings)
    write_bundle(settings, 2023, passing_runs(2023))
    con = duckdb.connect(str(settings.warehouse))
    con.execute(
        "update marts.fct_unit_scores set unit_name = 'Sở Nội vụ TP' where unit_code = 'SO-A'"
    )
    con.close()
    bundle = write_bundle(settings, 2023, passing_runs(2023))
    assert sorted(p.name for p in (bundle / "releases").iterdir()) == ["1", "2"]
    manifest = _manifest(bundle)
    assert manifest["release"]["number"] == 3 and manifest["release"]["previous_release"] == 2
    assert manifest["changes"] == []  # a renamed unit: no score, level or rank moved
