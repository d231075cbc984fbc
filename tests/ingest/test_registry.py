"""The registry as ingest reads it: a rank group is named by its label, so every group a
unit ranks in needs one."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import duckdb
import pytest

from dti.settings import SEEDS_DIR
from ingest.registry import RegistryError, load_registry


def _copy(tmp_path: Path) -> Path:
    copy = tmp_path / "registry"
    shutil.copytree(SEEDS_DIR, copy)
    return copy


def _load(folder: Path) -> None:
    con = duckdb.connect()
    try:
        load_registry(con, folder)
    finally:
        con.close()


def test_the_bundled_registry_labels_every_rank_group() -> None:
    _load(SEEDS_DIR)


def test_a_rank_group_of_the_period_without_a_label_is_refused(tmp_path: Path) -> None:
    registry = _copy(tmp_path)
    labels = registry / "rank_groups.csv"
    labels.write_text(
        "".join(line for line in labels.open(encoding="utf-8") if "khong_cung_cap" not in line),
        encoding="utf-8",
    )
    with pytest.raises(RegistryError) as refused:
        _load(registry)
    reason = str(refused.value)
    assert "rank_groups.csv" in reason and "rank_group_name" in reason
    # both files that put a unit in the group are named, each unit once
    assert "SO-TTTP: khong_cung_cap_dvc (unit_rank_groups.csv)" in reason
    assert "SO25-VPUB: khong_cung_cap_dvc (units.csv)" in reason
    assert "cung_cap_dvc (" not in reason.replace("khong_cung_cap_dvc (", "")  # still labelled


def test_a_default_rank_group_without_a_label_is_refused(tmp_path: Path) -> None:
    registry = _copy(tmp_path)
    (registry / "rank_groups.csv").unlink()
    units = registry / "units.csv"
    text = units.read_text(encoding="utf-8").replace(
        "SO-SNV,Sở Nội vụ,so_nganh,,", "SO-SNV,Sở Nội vụ,so_nganh,chuyen_nganh,"
    )
    units.write_text(text, encoding="utf-8")
    (registry / "unit_rank_groups.csv").unlink()
    with pytest.raises(RegistryError, match=r"SO-SNV: chuyen_nganh \(units\.csv\)"):
        _load(registry)


def test_a_registry_without_rank_groups_needs_no_labels(tmp_path: Path) -> None:
    """An operator's registry from before the groups: every block ranks as one."""
    registry = _copy(tmp_path)
    (registry / "rank_groups.csv").unlink()
    (registry / "unit_rank_groups.csv").unlink()
    units = registry / "units.csv"
    with units.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    with units.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({**row, "rank_group": ""} for row in rows)
    _load(registry)
