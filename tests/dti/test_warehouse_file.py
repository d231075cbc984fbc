"""A damaged warehouse is refused when a job takes it, before anything writes into it."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from dti.warehouse_file import WarehouseDamaged, check_whole
from dti.warehouse_lock import hold


@pytest.fixture(scope="module")
def sound(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("sound") / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    con.execute("create table t as select range as i, md5(range::varchar) as s from range(300000)")
    con.close()
    con = duckdb.connect(str(path))  # a second checkpoint: both headers in use
    con.execute("create table u as select 1 as a")
    con.close()
    return path.read_bytes()


def test_a_sound_warehouse_and_a_new_one_pass(tmp_path: Path, sound: bytes) -> None:
    path = tmp_path / "w.duckdb"
    check_whole(path)  # absent: a job creates it
    path.write_bytes(sound)
    check_whole(path)
    with hold(path, "test"):
        pass


@pytest.mark.parametrize("keep", [-1, -262_144, 0.5, 12_288 + 262_144, 5_000])
def test_a_warehouse_cut_short_is_refused_before_any_job_writes(
    tmp_path: Path, sound: bytes, keep: float
) -> None:
    path = tmp_path / "w.duckdb"
    cut = sound[: int(len(sound) * keep)] if isinstance(keep, float) else sound[:keep]
    path.write_bytes(cut)
    with pytest.raises(WarehouseDamaged) as refused:
        with hold(path, "dti ingest"):
            pytest.fail("the job ran on a damaged warehouse")
    message = str(refused.value)
    assert str(path) in message and "backup" in message and "sao lưu" in message
    assert "cut short" in message or "no DuckDB header" in message
    assert path.read_bytes() == cut, "nothing was written into it"
    assert not path.with_name(path.name + ".wal").exists()
