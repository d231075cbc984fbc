"""XLSX zip bombs are refused without inflating them."""

from __future__ import annotations

import dataclasses
import io
import struct
import tracemalloc
import zipfile

from dti.settings import Settings
from ingest import ingest_sources
from ingest.refusal import FileRefused
from ingest.xlsx_files import read_rows
from tests.ingest.corpus import xlsx_bytes, zip_bomb


def _lying_zip(real_bytes: int, claimed_bytes: int) -> bytes:
    """A real workbook whose sheet holds ``real_bytes`` but whose headers claim fewer."""
    source = zipfile.ZipFile(io.BytesIO(xlsx_bytes([["period", "unit_code"], [2023, "SO-SNV"]])))
    name = "xl/worksheets/sheet1.xml"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == name:  # padding inside the sheet: valid XML, just huge
                content = content.replace(b"<sheetData>", b"<sheetData>" + b" " * real_bytes)
            archive.writestr(info.filename, content)
    data = bytearray(buffer.getvalue())
    encoded = name.encode()
    for signature, name_at, size_at in ((b"PK\x03\x04", 30, 22), (b"PK\x01\x02", 46, 24)):
        at = data.index(signature)
        while data[at + name_at : at + name_at + len(encoded)] != encoded:
            at = data.index(signature, at + 4)
        struct.pack_into("<I", data, at + size_at, claimed_bytes)
    return bytes(data)


def test_a_zip_bomb_is_refused_before_anything_is_inflated(settings, drop, query):
    bomb = zip_bomb(64 * 1024 * 1024)
    assert len(bomb) < 200 * 1024
    capped = dataclasses.replace(settings, max_file_bytes=8 * 1024 * 1024)
    ingest_sources(capped)  # imports done before memory is traced
    drop("bomb.xlsx", bomb)

    tracemalloc.start()
    report = ingest_sources(capped)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    assert report.refused == 1
    assert query("select reason_code from raw.load_ledger") == [("too_large",)]
    assert peak < 8 * 1024 * 1024


def test_a_zip_that_lies_about_its_sizes_is_refused_after_at_most_the_claimed_bytes(tmp_path):
    path = tmp_path / "liar.xlsx"
    path.write_bytes(_lying_zip(real_bytes=30 * 1024 * 1024, claimed_bytes=64 * 1024))
    tracemalloc.start()
    try:
        read_rows(path, Settings(max_file_bytes=1024 * 1024))
        raise AssertionError("a lying zip must be refused")
    except FileRefused as refusal:
        assert refusal.code == "bad_xlsx"
        assert "could not be read to the end" in refusal.reason
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert peak < 16 * 1024 * 1024
