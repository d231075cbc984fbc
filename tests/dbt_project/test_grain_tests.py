"""Every model a user reads has a grain test: dbt-project-evaluator's "missing primary key
test" rule (fct_missing_primary_key_tests), applied to our manifest.

The evaluator counts a model as tested when one column has both a `unique` and a `not_null`
test (or a `unique` test and a not_null constraint), or when a test built on one of the
macros of its `primary_key_test_macros` variable depends on it; dbt_project.yml sets that
variable to include our `unique_combination` test. This test reads the same variable, so a
model without a grain test fails here as it would in the evaluator.
"""

from __future__ import annotations

import json

import pytest
import yaml

from dbt_project import runner as dbt_runner
from dti.settings import Settings


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One `dbt parse` for the module's tests (they only read the manifest)."""
    folder = tmp_path_factory.mktemp("manifest")
    settings = Settings(warehouse=folder / "warehouse.duckdb", dbt_docs=False)
    dbt_runner.invoke(settings, "parse")
    return json.loads((settings.work_dir / "dbt" / "target" / "manifest.json").read_text())


def _primary_key_macros() -> list[list[str]]:
    project = yaml.safe_load((Settings().dbt_project_dir / "dbt_project.yml").read_text())
    return project["vars"]["dbt_project_evaluator"]["primary_key_test_macros"]


def test_every_model_has_a_grain_test(manifest: dict) -> None:
    macro_sets = _primary_key_macros()
    tests_of: dict[str, list[dict]] = {}
    for node in manifest["nodes"].values():
        if node["resource_type"] == "test" and node.get("attached_node"):
            tests_of.setdefault(node["attached_node"], []).append(node)
    models = [n for n in manifest["nodes"].values() if n["resource_type"] == "model"]
    assert len(models) >= 20, "the manifest lists the project's models"

    def uses(test: dict, macro: str) -> bool:
        return any(m == f"macro.{macro}" for m in test["depends_on"]["macros"])

    missing = []
    for model in models:
        tests = tests_of.get(model["unique_id"], [])
        by_column: dict[str, set[str]] = {}
        for test in tests:
            column = test.get("column_name") or ""
            for macro_set in macro_sets:
                for macro in macro_set:
                    if uses(test, macro):
                        by_column.setdefault(column, set()).add(macro)
        not_null_constraints = {
            name
            for name, column in model["columns"].items()
            if any(c["type"] == "not_null" for c in column.get("constraints", []))
        }
        tested = any(
            set(macro_set) <= by_column.get(column, set())
            for macro_set in macro_sets
            for column in by_column
        ) or any(
            "dbt.test_unique" in macros and column in not_null_constraints
            for column, macros in by_column.items()
        )
        if not tested:
            missing.append(model["name"])
    assert missing == []


def test_the_raw_answers_have_a_freshness_rule(manifest: dict) -> None:
    (source,) = [s for s in manifest["sources"].values() if s["name"] == "submission_rows"]
    assert source["loaded_at_field"] == "loaded_at"
    assert source["freshness"]["warn_after"]["count"] > 0
    assert source["freshness"]["error_after"]["count"] > source["freshness"]["warn_after"]["count"]


def test_every_mart_enforces_a_contract_that_types_each_column(manifest: dict) -> None:
    """A consumer (publish/, the GX suites, whoever queries the warehouse) reads the marts: a
    renamed column or a changed type fails the build, not the reader."""
    marts = [
        n
        for n in manifest["nodes"].values()
        if n["resource_type"] == "model" and n["fqn"][1] == "marts"
    ]
    assert len(marts) >= 11
    unenforced = [m["name"] for m in marts if not m["config"]["contract"]["enforced"]]
    assert unenforced == []
    untyped = [
        f"{m['name']}.{name}"
        for m in marts
        for name, column in m["columns"].items()
        if not column.get("data_type")
    ]
    assert untyped == []
