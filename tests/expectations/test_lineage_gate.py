"""The framework checkpoint refuses a unit lineage that does not hold together.

The fixture warehouse carries the real registry seeds, 2025 wards and lineage included
(tests/expectations/gate_warehouse.py); each test breaks one lineage rule.
"""

from __future__ import annotations

import pytest

from dti.settings import Settings
from expectations.gate import GateFailed, validate_checkpoint
from tests.expectations.gate_warehouse import PERIOD, execute, query

WARD = "PX-26740"  # Phường Sài Gòn, formed from old wards of Quận 1


def _failed_checks(settings: Settings) -> tuple[set[str], GateFailed]:
    with pytest.raises(GateFailed) as caught:
        validate_checkpoint(settings, "framework", PERIOD)
    error = caught.value
    failed = {
        name
        for name, outcome in error.run.statistics["expectations"].items()
        if not outcome["success"] and outcome["severity"] == "critical"
    }
    return failed, error


def test_the_shipped_lineage_gives_every_2025_ward_a_2024_predecessor(
    warehouse: Settings,
) -> None:
    wards = query(
        warehouse,
        "select count(*) from registry.units where block = 'phuong_xa' and active_from = 2025",
    )[0][0]
    covered = query(
        warehouse,
        "select count(distinct successor_code) from registry.unit_lineage "
        "where successor_code like 'PX-%' and from_period = 2025",
    )[0][0]
    assert wards == covered == 168
    assert query(
        warehouse,
        f"select predecessor_code from registry.unit_lineage where successor_code = '{WARD}'",
    ) == [("QH-Q1",)]
    assert validate_checkpoint(warehouse, "framework", PERIOD).success


def test_a_lineage_naming_an_unknown_unit_fails_the_framework_suite(warehouse: Settings) -> None:
    execute(
        warehouse,
        f"update registry.unit_lineage set predecessor_code = 'QH-Q2' "
        f"where successor_code = '{WARD}'",
    )
    failed, error = _failed_checks(warehouse)

    assert failed == {"lineage_units_known"}
    sample = error.run.failing_samples["lineage_units_known"]
    assert [(r["predecessor_code"], r["successor_code"]) for r in sample] == [("QH-Q2", WARD)]


def test_a_predecessor_not_active_the_year_before_fails_the_framework_suite(
    warehouse: Settings,
) -> None:
    execute(warehouse, "update registry.units set active_to = 2023 where unit_code = 'QH-Q1'")
    failed, error = _failed_checks(warehouse)

    assert failed == {"lineage_units_known"}
    sample = error.run.failing_samples["lineage_units_known"]
    assert {r["predecessor_code"] for r in sample} == {"QH-Q1"}


def test_a_2025_ward_without_predecessor_fails_the_framework_suite(warehouse: Settings) -> None:
    execute(warehouse, f"delete from registry.unit_lineage where successor_code = '{WARD}'")
    failed, error = _failed_checks(warehouse)

    assert failed == {"new_block_units_have_predecessors"}
    sample = error.run.failing_samples["new_block_units_have_predecessors"]
    assert [(r["unit_code"], r["unit_name"]) for r in sample] == [(WARD, "Phường Sài Gòn")]


def test_weights_that_do_not_add_up_fail_the_framework_suite(warehouse: Settings) -> None:
    execute(
        warehouse,
        "update registry.unit_lineage set weight = 0.4 "
        "where successor_code = 'SO25-STC' and predecessor_code = 'SO-STC'",
    )
    failed, error = _failed_checks(warehouse)

    assert failed == {"lineage_weights_add_up"}
    sample = error.run.failing_samples["lineage_weights_add_up"]
    assert [(r["successor_code"], r["weights"]) for r in sample] == [("SO25-STC", "0.9000")]
