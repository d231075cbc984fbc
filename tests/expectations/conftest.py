"""Fixtures of the gate's tests: a fresh copy of a coherent warehouse (see gate_warehouse.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dti.settings import Settings
from tests.expectations.gate_warehouse import build_warehouse


@pytest.fixture(scope="session")
def fixture_warehouse_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "warehouse.duckdb"
    build_warehouse(path)
    return path


@pytest.fixture
def warehouse(settings: Settings, fixture_warehouse_template: Path) -> Settings:
    """Settings whose warehouse is a fresh copy of the coherent fixture warehouse."""
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    settings.warehouse.write_bytes(fixture_warehouse_template.read_bytes())
    return settings
