"""Fixtures of the publish tests: a settings object in a temporary folder and a small
fixture warehouse (builders in publish_marts_fixture.py)."""

from __future__ import annotations

import pytest

from dti.settings import Settings
from tests.publish.publish_marts_fixture import make_warehouse, small_units


@pytest.fixture
def small_warehouse(settings: Settings) -> Settings:
    """``settings`` whose warehouse holds the small 2023 fixture."""
    make_warehouse(settings.warehouse, 2023, small_units())
    return settings
