"""A period's bundle is a function of the warehouse and the registry alone: which other
periods were published before it, or are only drafts, changes none of its files."""

from __future__ import annotations

import json
import re
import shutil
from decimal import Decimal as D
from pathlib import Path

import pytest

from dti.settings import Settings
from publish.bundle import MANIFEST, write_bundle
from tests.publish.publish_marts_fixture import make_warehouse, passing_runs, small_units


@pytest.fixture
def two_periods(settings: Settings) -> Settings:
    """2023 and 2024 in one warehouse: in 2024 Ban Quản lý Khu Nam (SO-B) gains 10 points and
    Sở Xây dựng (SO-E), which did not submit in 2023, does."""
    make_warehouse(settings.warehouse, 2023, small_units())
    later = small_units()
    later[1].answers["NTS.2"] = (D(10), None)
    later[4].answers["NTS.1"] = (D(5), None)
    make_warehouse(settings.warehouse, 2024, later)
    return settings


def _publish(settings: Settings, root: Path, order: tuple[int, ...], approval: bool) -> Path:
    """Publishes ``order`` into an out folder of its own (over a copy of the warehouse, so no
    two orders share a page store); returns the 2024 release's folder."""
    root.mkdir()
    shutil.copy2(settings.warehouse, root / "warehouse.duckdb")
    own = settings.with_paths(warehouse=root / "warehouse.duckdb", out=root / "out")
    written = {
        period: write_bundle(own, period, passing_runs(period), approval_required=approval)
        for period in order
    }
    return written[2024].resolve()


def _files(release: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(release)): p.read_bytes()
        for p in sorted(release.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    }


def test_the_2024_bundle_is_the_same_whichever_period_was_published_first(two_periods, tmp_path):
    releases = {
        "2023 current, then 2024": _publish(two_periods, tmp_path / "a", (2023, 2024), False),
        "2023 a draft, then 2024": _publish(two_periods, tmp_path / "b", (2023, 2024), True),
        "2024, then 2023": _publish(two_periods, tmp_path / "c", (2024, 2023), True),
        "2024 alone": _publish(two_periods, tmp_path / "d", (2024,), False),
    }
    files = {name: _files(release) for name, release in releases.items()}
    manifests = {
        name: json.loads((release / MANIFEST).read_text(encoding="utf-8"))
        for name, release in releases.items()
    }
    reference = files["2023 current, then 2024"]
    for name in releases:
        assert sorted(files[name]) == sorted(reference), name
        differ = [path for path, data in reference.items() if files[name][path] != data]
        assert not differ, f"{name}: {differ}"
        assert manifests[name]["files"] == manifests["2023 current, then 2024"]["files"], name
        assert (
            manifests[name]["bundle_sha256"]
            == manifests["2023 current, then 2024"]["bundle_sha256"]
        )

    # and what every order shows is the comparison with 2023 the warehouse holds
    page = reference["don-vi/SO-B.html"].decode("utf-8")
    assert "So sánh năm 2024 với năm 2023" in page
    total_row = re.search(r"<th scope=\"row\">Tổng điểm</th>(.*?)</tr>", page).group(1)
    assert re.findall(r'<td class="num">(.*?)</td>', total_row) == [
        "17,25",
        "27,25",
        '<span class="up">+10,00</span>',
    ]
    # a unit that did not submit in 2023 is compared with its 2023 row, as 2023 published it
    newcomer = reference["don-vi/SO-E.html"].decode("utf-8")
    assert "So sánh năm 2024 với năm 2023" in newcomer
    assert "Chưa có kết quả năm 2023" not in newcomer


def test_a_unit_absent_from_the_period_before_has_nothing_to_compare_with(two_periods):
    page = write_bundle(two_periods, 2023, passing_runs(2023)) / "don-vi" / "SO-B.html"
    assert "Chưa có kết quả năm 2022 của đơn vị để so sánh." in page.read_text(encoding="utf-8")
