"""`dti backup` and `dti restore` on a small deployment made by hand (a warehouse with a ledger
and an audit trail, an archive, an inbox, releases with their symlink and hard links, a GX
store): what is copied, what is moved, and every way a backup is refused. The life of a real
deployment (three periods published, backed up, restored elsewhere, run again) is in
tests/pipeline/test_years.py."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from dti import backup
from dti.checksums import sha256_file
from dti.settings import Settings
from dti.warehouse_lock import WarehouseBusy, hold
from pipeline import jobs


def _deployment(base: Path, registry: Path | None = None) -> Settings:
    settings = Settings(
        inbox=base / "inbox", warehouse=base / "w.duckdb", out=base / "out",
        archive=base / "archive", registry_dir=registry, dbt_docs=False,
    )  # fmt: skip
    stored = settings.archive / "ab" / ("ab" + "0" * 62)
    stored.parent.mkdir(parents=True)
    stored.write_bytes(b"unit,indicator\n")
    report = settings.work_dir / "gx" / "gx" / "uncommitted" / "validations" / "r.json"
    report.parent.mkdir(parents=True)
    report.write_text("{}")
    (settings.work_dir / "dbt" / "target").mkdir(parents=True)  # a cache: not copied
    (settings.work_dir / "dbt" / "target" / "partial_parse.msgpack").write_bytes(b"x")
    con = duckdb.connect(str(settings.warehouse))
    con.execute("create schema raw; create schema audit")
    con.execute("create table raw.load_ledger (batch_sha256 varchar, stored_at varchar)")
    con.execute("insert into raw.load_ledger values ('ab', ?)", [str(stored)])
    con.execute(
        "create table audit.validation_runs (run_id varchar, report_path varchar, "
        "validation_result_path varchar, data_docs_index varchar)"
    )
    con.execute("insert into audit.validation_runs values ('r', ?, ?, ?)", [str(report)] * 3)
    con.close()
    (settings.inbox / "processed").mkdir(parents=True)
    (settings.inbox / "processed" / "Bảng 2023.xlsx").write_bytes(b"PK\x03\x04 bytes")
    (settings.inbox / "waiting.csv").write_text("not taken in yet", encoding="utf-8")
    release = settings.out / ".releases" / "2023" / "1"
    release.mkdir(parents=True)
    (release / "results.json").write_text('{"period": 2023}', encoding="utf-8")
    second = settings.out / ".releases" / "2023" / "2"
    second.mkdir()
    os.link(release / "results.json", second / "results.json")  # releases share files
    os.symlink(".releases/2023/2", settings.out / "2023")
    return settings


def _tree(root: Path) -> dict[str, object]:
    found: dict[str, object] = {}
    for path in sorted(root.rglob("*")):
        key = str(path.relative_to(root))
        if path.is_symlink():
            found[key] = ("->", os.readlink(path))
        elif path.is_file():
            found[key] = path.read_bytes()
    return found


@pytest.fixture
def backed_up(tmp_path: Path) -> tuple[Settings, Path]:
    registry = tmp_path / "registry"
    registry.mkdir()
    (registry / "units.csv").write_text("unit_code\nQH-4\n", encoding="utf-8")
    settings = _deployment(tmp_path / "here", registry)
    jobs.backup(settings, tmp_path / "bk")
    return settings, tmp_path / "bk"


def test_a_backup_restored_elsewhere_is_the_same_deployment_with_its_paths_moved(
    backed_up: tuple[Settings, Path], tmp_path: Path
) -> None:
    settings, bk = backed_up
    manifest = json.loads((bk / "manifest.json").read_text(encoding="utf-8"))
    assert not any(f["path"].startswith("work/dbt") for f in manifest["files"])
    assert {"path": "out/2023", "target": ".releases/2023/2"} in manifest["symlinks"]
    assert len(manifest["links"]) == 1  # the shared file is copied once
    elsewhere = tmp_path / "there"
    new = Settings(
        inbox=elsewhere / "in", warehouse=elsewhere / "db" / "kho.duckdb",
        out=elsewhere / "site", archive=elsewhere / "raw", registry_dir=elsewhere / "reg",
        dbt_docs=False,
    )  # fmt: skip
    jobs.restore(new, bk)
    for was, now in (
        (settings.inbox, new.inbox), (settings.out, new.out), (settings.archive, new.archive),
        (settings.registry_dir, new.registry_dir),
    ):  # fmt: skip
        assert _tree(now) == _tree(was)
    assert (new.out / "2023" / "results.json").read_text() == '{"period": 2023}'
    first, second = (new.out / ".releases" / "2023" / n / "results.json" for n in "12")
    assert first.stat().st_ino == second.stat().st_ino
    assert not (new.work_dir / "dbt").exists()
    con = duckdb.connect(str(new.warehouse), read_only=True)
    (stored,) = con.execute("select stored_at from raw.load_ledger").fetchone()
    paths = con.execute("select * exclude (run_id) from audit.validation_runs").fetchone()
    con.close()
    assert stored == str(new.archive / "ab" / ("ab" + "0" * 62)) and Path(stored).is_file()
    assert set(paths) == {
        str(new.work_dir / "gx" / "gx" / "uncommitted" / "validations" / "r.json")
    }


def _refused(settings: Settings, bk: Path, key: str) -> str:
    with pytest.raises(backup.BackupError) as caught:
        jobs.restore(settings, bk)
    assert caught.value.key == key
    assert not settings.warehouse.exists() or key == "place_not_empty"
    return str(caught.value)


@pytest.fixture
def fresh(tmp_path: Path) -> Settings:
    base = tmp_path / "fresh"
    return Settings(
        inbox=base / "inbox", warehouse=base / "w.duckdb", out=base / "out",
        archive=base / "archive", registry_dir=base / "registry", dbt_docs=False,
    )  # fmt: skip


def test_a_truncated_file_is_refused_with_its_name_and_nothing_is_written(
    backed_up: tuple[Settings, Path], fresh: Settings
) -> None:
    _, bk = backed_up
    archived = next((bk / "archive").rglob("ab0*"))
    with archived.open("r+b") as fh:
        fh.truncate(3)
    reason = _refused(fresh, bk, "size_differs")
    assert "bị cắt ngắn" in reason and archived.name in reason
    assert not fresh.warehouse.parent.exists()


def test_a_changed_file_a_missing_file_and_a_missing_manifest_are_refused(
    backed_up: tuple[Settings, Path], fresh: Settings
) -> None:
    _, bk = backed_up
    page = bk / "out" / ".releases" / "2023" / "1" / "results.json"
    page.write_text('{"period": 2024}', encoding="utf-8")  # same size, other bytes
    assert "sha256" in _refused(fresh, bk, "checksum_differs")
    page.unlink()
    assert "thiếu tệp" in _refused(fresh, bk, "missing_file")
    (bk / "manifest.json").write_text('{"format": "dti-backup/1", "fil', encoding="utf-8")
    assert "manifest.json không đọc được" in _refused(fresh, bk, "bad_manifest")
    (bk / "manifest.json").unlink()
    assert "không đầy đủ" in _refused(fresh, bk, "no_manifest")


def test_a_manifest_naming_a_path_outside_the_backup_is_refused(
    backed_up: tuple[Settings, Path], fresh: Settings
) -> None:
    _, bk = backed_up
    manifest = json.loads((bk / "manifest.json").read_text(encoding="utf-8"))
    manifest["symlinks"].append({"path": "out/../../evil", "target": "/etc"})
    (bk / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    _refused(fresh, bk, "unsafe_path")


def test_restore_writes_only_into_empty_places(
    backed_up: tuple[Settings, Path], fresh: Settings
) -> None:
    settings, bk = backed_up
    assert "đã có dữ liệu" in _refused(settings, bk, "place_not_empty")
    fresh.out.mkdir(parents=True)
    (fresh.out / "index.html").write_text("a live site")
    assert "thư mục công bố" in _refused(fresh, bk, "place_not_empty")


def test_the_bundled_registry_is_checked_not_written(tmp_path: Path) -> None:
    settings = _deployment(tmp_path / "here")  # scores with the bundled registry
    jobs.backup(settings, tmp_path / "bk")
    new = Settings(warehouse=tmp_path / "new" / "w.duckdb", out=tmp_path / "new" / "out",
                   inbox=tmp_path / "new" / "in", archive=tmp_path / "new" / "a")  # fmt: skip
    jobs.restore(new, tmp_path / "bk")
    assert new.warehouse.is_file()
    manifest = json.loads((tmp_path / "bk" / "manifest.json").read_text(encoding="utf-8"))
    registry = next(f for f in manifest["files"] if f["path"].startswith("registry/"))
    shutil.rmtree(tmp_path / "new")
    (tmp_path / "bk" / registry["path"]).write_text("changed")
    registry["sha256"] = sha256_file(tmp_path / "bk" / registry["path"])
    registry["size_bytes"] = len("changed")
    (tmp_path / "bk" / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    assert "--registry" in _refused(new, tmp_path / "bk", "registry_differs")


def test_backup_holds_the_warehouse_and_refuses_a_used_folder(
    backed_up: tuple[Settings, Path], tmp_path: Path
) -> None:
    settings, bk = backed_up
    with pytest.raises(backup.BackupError, match="đã có nội dung"):
        jobs.backup(settings, bk)
    with pytest.raises(backup.BackupError, match="tự chép chính nó"):
        jobs.backup(settings, settings.out / "backup")
    assert not (settings.out / "backup").exists()
    # another process holds the warehouse: the backup waits for nobody and copies nothing
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys,time\nfrom dti.warehouse_lock import hold\n"
         f"with hold({str(settings.warehouse)!r}, 'dti run'):\n print('held', flush=True)\n"
         " sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(WarehouseBusy):
            jobs.backup(settings, tmp_path / "bk2")
        assert not (tmp_path / "bk2").exists()
    finally:
        holder.communicate("", timeout=30)
    with hold(settings.warehouse, "a reader", shared=True):
        pass


def test_the_cli_says_the_reason_in_vietnamese_and_exits_non_zero(
    backed_up: tuple[Settings, Path], fresh: Settings
) -> None:
    _, bk = backed_up
    (bk / "manifest.json").unlink()
    done = subprocess.run(
        [str(Path(sys.executable).with_name("dti")), "restore", "--from", str(bk),
         "--warehouse", str(fresh.warehouse), "--out", str(fresh.out)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1
    assert (
        done.stderr.startswith("dti restore: Bản sao lưu") and "thiếu manifest.json" in done.stderr
    )
