"""Fixtures shared across the test tree."""

from __future__ import annotations

from pathlib import Path

import pytest

from dti.settings import Settings, load_settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings whose every path lives in this test's temporary folder."""
    return load_settings().with_paths(
        inbox=tmp_path / "inbox", warehouse=tmp_path / "warehouse.duckdb", out=tmp_path / "out"
    )
