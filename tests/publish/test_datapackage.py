"""The release as an open data package (docs/spec/results.md §8.5): an outsider recomputes
and checks it from its own files, without the warehouse."""

from __future__ import annotations

import csv
import json
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import frictionless
import pytest
from jsonschema import Draft202012Validator

from dti.settings import PROJECT_ROOT, Settings
from publish import datapackage
from publish.bundle import bundle_checksum, sha256_bytes
from publish.registry_rows import read_registry, registry_csv
from testkit.reference_scoring import assert_units_match, score_period

PERIOD = 2023
# what the answers files and the registry determine; ``late`` needs the answers' times,
# which the release does not publish (results.md §7)
RECOMPUTED = (
    "unit_code", "unit_name", "block", "status", "total_score", "self_score",
    "applicable_max", "percent", "level", "rank", "unanswered",
)  # fmt: skip


@pytest.fixture(scope="module")
def bundle(sample_release: Settings) -> Path:
    return sample_release.out / str(PERIOD)


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def _problems(report: frictionless.Report) -> list:
    return report.flatten(["type", "note"])


# --- frictionless ---------------------------------------------------------------------------


def test_frictionless_validates_the_package_of_the_demo(bundle: Path) -> None:
    report = frictionless.validate(str(bundle / datapackage.PACKAGE))
    assert report.valid, _problems(report)
    package = _json(bundle / datapackage.PACKAGE)
    paths = {r["path"] for r in package["resources"]}
    csvs = {str(p.relative_to(bundle)) for p in bundle.rglob("*.csv") if "releases" not in p.parts}
    assert csvs <= paths, "every CSV of the release has a table schema"
    assert {"results.json", datapackage.RESULTS_SCHEMA, datapackage.MANIFEST_SCHEMA} <= paths
    assert package["licenses"][0]["name"] == "CC-BY-4.0"
    assert package["dti"]["bundle_sha256"] == _json(bundle / "manifest.json")["bundle_sha256"]


def test_a_file_changed_after_the_release_fails_frictionless(bundle: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(bundle, copy, ignore=shutil.ignore_patterns("releases"))
    target = copy / "registry" / "indicators.csv"
    target.write_text(target.read_text(encoding="utf-8").replace(",10,", ",11,", 1), "utf-8")
    report = frictionless.validate(str(copy / datapackage.PACKAGE))
    assert not report.valid
    assert {"hash-count"} <= {problem[0] for problem in _problems(report)}


def test_the_package_is_listed_in_the_manifest_outside_the_bundle_checksum(bundle: Path) -> None:
    manifest = _json(bundle / "manifest.json")
    data = (bundle / datapackage.PACKAGE).read_bytes()
    assert manifest["package"] == {
        "path": datapackage.PACKAGE,
        "sha256": sha256_bytes(data),
        "size_bytes": len(data),
    }
    listed = {f["path"]: f["sha256"] for f in manifest["files"]}
    assert datapackage.PACKAGE not in listed
    for path in [*datapackage.schema_files(), "registry/units.csv", "registry/indicators.csv"]:
        assert listed[path] == sha256_bytes((bundle / path).read_bytes()), path
    assert bundle_checksum(listed.items()) == manifest["bundle_sha256"]


# --- JSON Schemas -----------------------------------------------------------------------------


def test_the_schemas_in_the_release_are_the_published_contracts(bundle: Path) -> None:
    for path, data in datapackage.schema_files().items():
        assert (bundle / path).read_bytes() == data
        spec = PROJECT_ROOT / "docs" / "spec" / Path(path).name
        assert spec.read_bytes() == data, f"docs/spec/{spec.name} is the same schema"
        Draft202012Validator.check_schema(json.loads(data))


def test_results_and_manifest_follow_their_schemas(bundle: Path) -> None:
    for document, schema in (
        ("results.json", datapackage.RESULTS_SCHEMA),
        ("manifest.json", datapackage.MANIFEST_SCHEMA),
    ):
        validator = Draft202012Validator(_json(bundle / schema))
        errors = [
            f"{list(e.path)}: {e.message}" for e in validator.iter_errors(_json(bundle / document))
        ]
        assert errors == [], document


@pytest.mark.parametrize(
    "break_it",
    [
        lambda r: r["units"][0].pop("rank"),
        lambda r: r["units"][0].update(total_score="96,5"),
        lambda r: r["units"][0].update(status="done"),
        lambda r: r["units"][0]["pillars"][0].update(rank=0),
        lambda r: r["units"][0]["margins"].update(extra=1),
        lambda r: r.update(period="2023"),
    ],
    ids=[
        "rank-missing",
        "score-as-text",
        "unknown-status",
        "rank-zero",
        "margin-extra",
        "period-text",
    ],
)
def test_a_results_file_that_breaks_its_schema_fails(bundle: Path, break_it) -> None:
    results = _json(bundle / "results.json")
    break_it(results)
    validator = Draft202012Validator(_json(bundle / datapackage.RESULTS_SCHEMA))
    assert list(validator.iter_errors(results))


# --- recomputing from the bundle alone ------------------------------------------------------


def _answers_rows(folder: Path, deadline: str) -> list[dict[str, Any]]:
    """The counted answers of every block's answers file as submission rows: the unit's self
    answer and the council's appraisal where each was given, at the deadline."""
    rows = []
    for path in sorted(folder.glob("answers_*.csv")):
        for line in _csv(path):
            for stage, value in (
                ("self", line["self_value"]),
                ("appraisal", line["appraisal_value"]),
            ):
                if value != "":
                    rows.append(
                        {
                            "period": PERIOD,
                            "unit_code": line["unit_code"],
                            "indicator_code": line["indicator_code"],
                            "value": value,
                            "stage": stage,
                            "submitted_at": deadline,
                            "submission_id": f"{path.name}:{len(rows)}",
                        }
                    )
    return rows


def test_every_total_level_and_rank_recomputes_from_the_bundle_alone(
    bundle: Path, tmp_path: Path
) -> None:
    """The release copied away from the warehouse: its registry files and answers files give
    every published total, level, rank, pillar and margin (the reference scorer, fed only
    from the copy)."""
    copy = tmp_path / "bundle"
    shutil.copytree(bundle, copy, ignore=shutil.ignore_patterns("releases", "*.html", "*.xlsx"))
    registry = copy / "registry"
    (deadline,) = [row["deadline"] for row in _csv(registry / "periods.csv")]
    rows = _answers_rows(copy, deadline)
    recomputed = score_period(rows, PERIOD, registry)
    published = json.loads((copy / "results.json").read_text("utf-8"), parse_float=Decimal)
    assert len(recomputed) == len(published["units"]) > 50
    assert_units_match(published, recomputed, RECOMPUTED)


def test_the_registry_files_hold_only_the_rows_the_period_used(bundle: Path) -> None:
    results = _json(bundle / "results.json")
    units = {u["unit_code"] for u in results["units"]}
    registry = bundle / "registry"
    assert {r["unit_code"] for r in _csv(registry / "units.csv")} == units
    assert {r["framework_version"] for r in _csv(registry / "frameworks.csv")} == {"hcm-2023"}
    assert {r["framework_version"] for r in _csv(registry / "indicators.csv")} == {"hcm-2023"}
    assert [r["period"] for r in _csv(registry / "periods.csv")] == [str(PERIOD)]
    assert _csv(registry / "unit_lineage.csv") == []  # 2023 compares with nothing before
    assert len(_csv(registry / "value_words.csv")) > 10  # no period in it: whole


def test_the_package_names_no_path_of_the_machine(sample_release: Settings, bundle: Path) -> None:
    machine = str(sample_release.warehouse.parent)
    for path in [bundle / datapackage.PACKAGE, *sorted((bundle / "registry").iterdir())]:
        assert machine not in path.read_text(encoding="utf-8"), path.name


# --- the rows a period used, on a tiny warehouse ---------------------------------------------


def _tiny_warehouse() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("create schema registry; create schema marts")
    con.execute(
        "create table marts.fct_unit_scores as select * from (values "
        "(2025, 'W1', 'v25', 'ward', ''), (2024, 'D1', 'v24', 'district', '')) "
        "t(period, unit_code, framework_version, block, rank_group)"
    )
    con.execute(
        "create table registry.units as select * from (values "
        "('W1', 'ward', 2025, null), ('D1', 'district', 2023, 2024), "
        "('D0', 'district', 2023, 2023), ('X9', 'district', 2023, 2024)) "
        "t(unit_code, block, active_from, active_to)"
    )
    con.execute(
        "create table registry.unit_lineage as select * from (values "
        "('D1', 'W1', 2025, 1.0), ('D0', 'D1', 2024, 0.5), ('X9', 'Z1', 2025, 1.0)) "
        "t(predecessor_code, successor_code, from_period, weight)"
    )
    con.execute(
        "create table registry.pillars as select * from (values "
        "('v25', 'ward', 'P', 10.00), ('v24', 'district', 'P', 20.00)) "
        "t(framework_version, block, pillar_code, max_points)"
    )
    con.execute(
        "create table registry.level_labels as select * from (values "
        "('a', 'A', 1), ('b', 'B', 2)) t(level_code, level_name, sort_order)"
    )
    return con


def test_the_period_keeps_its_units_their_predecessors_and_its_framework_only() -> None:
    con = _tiny_warehouse()
    tables = {t.name: t for t in read_registry(con, 2025)}
    assert set(tables) == {"units", "unit_lineage", "pillars", "level_labels"}
    # W1, and through the lineage D1 (2025) and D0 (D1's predecessor from 2024): the trend
    assert [r[0] for r in tables["units"].rows] == ["W1", "D1", "D0"]
    assert [r[:2] for r in tables["unit_lineage"].rows] == [("D1", "W1"), ("D0", "D1")]
    assert tables["pillars"].rows == (("v25", "ward", "P", Decimal("10.00")),)
    assert len(tables["level_labels"].rows) == 2
    assert registry_csv(tables["pillars"]) == (
        b"framework_version,block,pillar_code,max_points\nv25,ward,P,10\n"
    )
    earlier = {t.name: t for t in read_registry(con, 2024)}
    assert [r[0] for r in earlier["units"].rows] == ["D1", "D0"]
    assert [r[:2] for r in earlier["unit_lineage"].rows] == [("D0", "D1")]


def test_a_csv_column_without_a_declared_type_is_refused() -> None:
    with pytest.raises(datapackage.UndescribedColumn, match="surprise"):
        datapackage.csv_resource("results_x.csv", ["unit_code", "surprise"], "0" * 64, 1, {})
    assert datapackage.results_field("NTS_rank")["type"] == "integer"
