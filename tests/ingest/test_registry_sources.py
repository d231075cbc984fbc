"""The 2025 wards and their lineage are generated from the packages, not typed by hand.

Each test copies the committed seeds, runs the generator on the copy, and compares: the
committed rows are exactly what `dti registry units` / `dti registry lineage` produce.
"""

from __future__ import annotations

import csv
import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from dti.settings import SEEDS_DIR
from ingest.registry_sources import (
    RegistrySourceError,
    official_wards,
    refresh_seed,
    write_lineage,
    write_units,
)
from pipeline import cli

GENERATED = ("units.csv", "unit_locations.csv", "unit_lineage.csv", "former_units.csv")


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture
def registry(tmp_path: Path) -> Path:
    folder = tmp_path / "seeds"
    shutil.copytree(SEEDS_DIR, folder)
    return folder


def test_regenerating_the_wards_reproduces_the_committed_seeds(registry: Path) -> None:
    assert write_units(registry, 79, "phuong_xa", 2025, 2025) == 168
    assert write_lineage(registry, 79, 2025) == len(
        [r for r in _rows(SEEDS_DIR / "unit_lineage.csv") if r["successor_code"].startswith("PX-")]
    )
    for name in GENERATED:
        assert (registry / name).read_bytes() == (SEEDS_DIR / name).read_bytes(), name


def test_the_cli_rebuilds_removed_ward_rows_and_keeps_every_other_row(registry: Path) -> None:
    for name in ("units.csv", "unit_lineage.csv"):
        lines = (registry / name).read_bytes().splitlines(keepends=True)
        (registry / name).write_bytes(
            b"".join(line for line in lines if not line.startswith(b"PX-") and b",PX-" not in line)
        )
    (registry / "unit_locations.csv").unlink()
    (registry / "former_units.csv").unlink()

    assert cli.main(["registry", "units", "--province", "79", "--block", "phuong_xa",
                     "--from", "2025", "--registry", str(registry)]) == 0  # fmt: skip
    assert cli.main(["registry", "lineage", "--from", "2025", "--registry", str(registry)]) == 0
    for name in GENERATED:
        assert (registry / name).read_bytes() == (SEEDS_DIR / name).read_bytes(), name


def test_ward_rows_keep_the_official_code_name_and_type() -> None:
    wards = {w.official_code: w for w in official_wards(79)}
    assert len(wards) == 168
    assert wards["26740"].name == "Phường Sài Gòn"
    assert wards["26536"].name == "Phường Rạch Dừa"  # the package's doubled space removed
    assert sorted({w.division_type for w in wards.values()}) == ["phường", "xã", "đặc khu"]
    units = {r["unit_code"]: r for r in _rows(SEEDS_DIR / "units.csv")}
    locations = {r["unit_code"]: r for r in _rows(SEEDS_DIR / "unit_locations.csv")}
    for code, ward in wards.items():
        assert units[f"PX-{code}"]["unit_name"] == ward.name
        assert units[f"PX-{code}"]["block"] == "phuong_xa"
        assert locations[f"PX-{code}"]["official_code"] == code
        # within the merged city: Cần Giờ to Bình Dương's north, and Côn Đảo offshore
        assert 8 < Decimal(locations[f"PX-{code}"]["latitude"]) < 12
        assert 106 < Decimal(locations[f"PX-{code}"]["longitude"]) < 108


def test_lineage_links_every_ward_to_the_districts_it_was_formed_from() -> None:
    lineage = [
        r for r in _rows(SEEDS_DIR / "unit_lineage.csv") if r["successor_code"].startswith("PX-")
    ]
    by_ward: dict[str, list[dict[str, str]]] = {}
    for row in lineage:
        by_ward.setdefault(row["successor_code"], []).append(row)
    assert len(by_ward) == 168
    for rows in by_ward.values():
        assert sum(Decimal(r["weight"]) for r in rows) == 1
        assert {r["kind"] for r in rows} <= {"merged", "split", "renamed"}
        assert (len(rows) > 1) == (rows[0]["kind"] == "merged")
    districts = {
        r["unit_code"] for r in _rows(SEEDS_DIR / "units.csv") if r["block"] == "quan_huyen"
    }
    assert {r["predecessor_code"] for r in lineage if r["predecessor_code"].startswith("QH-")} == (
        districts
    )
    # Côn Đảo: one district became one special zone
    assert [(r["predecessor_code"], r["kind"]) for r in by_ward["PX-26732"]] == [
        ("DVHC-755", "renamed")
    ]
    former = {r["unit_code"]: r for r in _rows(SEEDS_DIR / "former_units.csv")}
    assert former["DVHC-755"]["unit_name"] == "Huyện Côn Đảo"
    assert {r["province_name"] for r in former.values()} == {
        "Tỉnh Bình Dương",
        "Tỉnh Bà Rịa - Vũng Tàu",
    }


def test_an_unknown_province_is_refused() -> None:
    with pytest.raises(RegistrySourceError, match="province code 78"):
        official_wards(78)


def test_refresh_refuses_a_seed_with_other_columns(tmp_path: Path) -> None:
    seed = tmp_path / "units.csv"
    seed.write_text("code,name\nA,B\n", encoding="utf-8")
    with pytest.raises(RegistrySourceError, match="expected"):
        refresh_seed(seed, ("unit_code", "unit_name"), [], lambda row: False)
