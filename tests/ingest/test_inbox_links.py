"""Links planted inside the inbox tree, as whoever can write the inbox would plant them: no
file is moved through a folder that is a link, and no note is written through a link."""

from __future__ import annotations

import errno
import io
import os

import pytest

from ingest import archive, ingest_sources
from tests.ingest.conftest import csv_text

GOOD = csv_text("2023,SO-SNV,NTS.1,có,QĐ 1,self,2023-05-02")


@pytest.mark.parametrize("folder", ["processed", "quarantine"])
def test_a_folder_planted_as_a_link_stops_the_run_and_nothing_is_moved(
    settings, drop, query, tmp_path, folder
):
    elsewhere = tmp_path / "another-unit"
    elsewhere.mkdir()
    settings.inbox.mkdir(parents=True)
    (settings.inbox / folder).symlink_to(elsewhere, target_is_directory=True)
    drop("good.csv", GOOD)
    drop("bad.txt", "not a submission")

    report = ingest_sources(settings)

    assert list(elsewhere.iterdir()) == []
    assert sorted(p.name for p in settings.inbox.iterdir()) == sorted(
        ["good.csv", "good.csv.ready", "bad.txt", "bad.txt.ready", folder]
    )
    assert report.files_seen == 0 and query("select count(*) from raw.load_ledger") == [(0,)]
    (error,) = report.errors
    assert "liên kết" in error and str(settings.inbox / folder) in error
    assert (settings.inbox / folder).is_symlink()  # kept as it is, for a person to look at


def test_a_folder_planted_as_a_file_is_refused_too(settings, drop):
    settings.inbox.mkdir(parents=True)
    (settings.inbox / "processed").write_bytes(b"")
    drop("good.csv", GOOD)

    report = ingest_sources(settings)

    assert "không phải thư mục" in report.errors[0]
    assert (settings.inbox / "good.csv").exists()


def test_a_note_planted_as_a_link_is_replaced_and_its_target_never_written(
    settings, drop, tmp_path
):
    victim = tmp_path / "results.json"
    victim.write_text('{"live": true}', encoding="utf-8")
    quarantine = settings.inbox / "quarantine"
    quarantine.mkdir(parents=True)
    (quarantine / "bad.txt.reason.json").symlink_to(victim)
    drop("bad.txt", "not a submission")

    report = ingest_sources(settings)

    assert report.refused == 1 and not report.errors
    assert victim.read_text(encoding="utf-8") == '{"live": true}'
    note = quarantine / "bad.txt.reason.json"
    assert not note.is_symlink() and '"unsupported_type"' in note.read_text(encoding="utf-8")
    assert not [p for p in quarantine.iterdir() if p.name.endswith(".tmp")]


def test_incoming_temporaries_a_full_disk_left_are_removed_by_the_next_run(settings, drop):
    settings.archive.mkdir(parents=True)
    left = settings.archive / ".incoming-k1ll3d"
    left.write_bytes(b"")
    decoy = settings.archive / ".incoming-link"
    decoy.symlink_to(settings.archive / "elsewhere")
    drop("good.csv", GOOD)

    report = ingest_sources(settings)

    assert report.loaded == 1
    assert not left.exists()
    assert decoy.is_symlink()  # never followed nor touched: only regular files are ours


def test_a_full_archive_disk_names_the_archive_and_leaves_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "archive"
    real_fdopen = os.fdopen

    class FullDisk(io.BufferedWriter):
        def write(self, data: bytes) -> int:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fdopen", lambda fd, mode: FullDisk(real_fdopen(fd, mode, 0)))
    with pytest.raises(archive.ArchiveError) as failure:
        archive.store_bytes(target, b"x" * 10)
    monkeypatch.undo()
    assert str(target) in str(failure.value) and os.strerror(errno.ENOSPC) in str(failure.value)
    assert list(target.iterdir()) == []
