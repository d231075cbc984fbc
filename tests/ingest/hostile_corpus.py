"""A corpus of hostile (or just unlucky) inbox files: each one once stopped the ingest, cost
unbounded time, memory or disk, read outside the inbox or lost data without a word.

``drop_hostile(inbox, outside, limits)`` writes every case into ``inbox`` (links point into
``outside``, a folder beside it holding a secret and a good CSV the sender never sent) with its
``.ready`` flag, and returns what must become of each: (name, outcome, reason code).
``LIMITS`` are small limits under which every case runs in seconds; with the default limits
(the combined run) the same files are refused for the same reasons.
"""

from __future__ import annotations

import io
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import openpyxl

from tests.ingest.conftest import HEADER, csv_text
from tests.ingest.corpus import GOOD_ROW

OUTSIDE_ROW = "2023,SO-SYT,NTS.1,1,,self,2023-05-02T11:11:11+07:00"
SECRET = "DTI_SECRET_LINE=outside-the-inbox-4f7a"
COLUMNS = ["period", "unit_code", "indicator_code", "value", "stage", "submitted_at"]
GOOD_CELLS = [2023, "SO-STTTT", "NTS.4", 75.5, "self", "2023-05-02"]

# Limits small enough for every case to run in a second or two (tests/ingest).
LIMITS = {
    "max_file_bytes": 2 * 1024 * 1024,
    "max_line_bytes": 256 * 1024,
    "max_columns": 200,
    "max_cells": 20_000,
    "max_json_depth": 32,
    "max_sheets": 5,
}


@dataclass(frozen=True)
class Case:
    name: str
    outcome: str
    code: str
    read: bool = True  # False: refused without opening it (moved as it is, not archived)


def _workbook(sheets: list[tuple[str, list[list[object]], str]]) -> bytes:
    """An XLSX of ``(title, rows, state)`` sheets, in order."""
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for title, rows, state in sheets:
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(row)
        sheet.sheet_state = state
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


_SST = b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" '


def entity_bomb() -> bytes:
    """Shared strings whose one entity expands to 10^9 characters ("billion laughs")."""
    entities = b"".join(
        b'<!ENTITY %s "%s">' % (bytes([98 + i]), (b"&" + bytes([97 + i]) + b";") * 10)
        for i in range(9)
    )
    return (b'<?xml version="1.0"?><!DOCTYPE sst [<!ENTITY a "aaaaaaaaaa">' + entities + b"]>"
            + _SST + b'uniqueCount="1"><si><t>&j;</t></si></sst>')  # fmt: skip


def external_entity(target: Path) -> bytes:
    """Shared strings whose one entity is the content of ``target`` (outside the inbox)."""
    return (b'<?xml version="1.0"?><!DOCTYPE sst [<!ENTITY x SYSTEM "file://'
            + str(target).encode() + b'">]>' + _SST + b'uniqueCount="1"><si><t>&x;</t></si></sst>')  # fmt: skip


def shared_string_bomb(text_bytes: int, cells: int, shared: bytes | None = None) -> bytes:
    """A small XLSX whose one shared string of ``text_bytes`` is used by ``cells`` cells: the
    zip and its XML stay small, the cells expand to ``text_bytes × cells``. (``shared``: other
    shared strings XML instead.)"""
    rows = [COLUMNS + ["evidence_ref"]]
    rows += [[*GOOD_CELLS[:5], "2023-05-02", "BOMB"] for _ in range(cells)]
    small = zipfile.ZipFile(io.BytesIO(_workbook([("Trả lời", rows, "visible")])))
    long_text = "ư".encode() * (text_bytes // 2)
    shared = shared or _SST + b'uniqueCount="1"><si><t>' + long_text + b"</t></si></sst>"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bomb:
        for info in small.infolist():
            content = small.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":  # each BOMB cell: shared string 0
                content = content.replace(
                    b't="inlineStr"><is><t>BOMB</t></is></c>', b't="s"><v>0</v></c>'
                )
            elif info.filename == "[Content_Types].xml":
                content = content.replace(b"</Types>", b'<Override PartName="/xl/sharedStrings'
                    b'.xml" ContentType="application/vnd.openxmlformats-officedocument.'
                    b'spreadsheetml.sharedStrings+xml" /></Types>')  # fmt: skip
            elif info.filename == "xl/_rels/workbook.xml.rels":
                content = content.replace(b"</Relationships>", b'<Relationship Type="http://'
                    b"schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"
                    b'" Target="sharedStrings.xml" Id="rId9" /></Relationships>')  # fmt: skip
            bomb.writestr(info.filename, content)
        bomb.writestr("xl/sharedStrings.xml", shared)
    return buffer.getvalue()


def with_cached_value(workbook: bytes, value: bytes) -> bytes:
    """``workbook`` with its (first) formula's calculated value filled in, as Excel saves it."""
    source = zipfile.ZipFile(io.BytesIO(workbook))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                content = content.replace(b"</f><v />", b"</f><v>" + value + b"</v>", 1)
            out.writestr(info.filename, content)
    return buffer.getvalue()


def long_name(prefix: str, suffix: str, total_bytes: int) -> str:
    """A Vietnamese file name of ``total_bytes`` bytes (3 bytes per 'ệ')."""
    room = total_bytes - len((prefix + suffix).encode())
    return prefix + "ệ" * (room // 3) + "a" * (room % 3) + suffix


def drop_hostile(inbox: Path, outside: Path, limits: dict[str, int]) -> list[Case]:
    inbox.mkdir(parents=True, exist_ok=True)
    outside.mkdir(parents=True, exist_ok=True)
    (outside / "secret.env").write_text(SECRET + "\n", encoding="utf-8")
    (outside / "other-unit.csv").write_text(csv_text(OUTSIDE_ROW), encoding="utf-8")
    line_cap, columns_cap = limits["max_line_bytes"], limits["max_columns"]
    cases: list[Case] = []

    def add(name: str, data: bytes | None, outcome: str, code: str, read: bool = True) -> None:
        if data is not None:
            (inbox / name).write_bytes(data)
        (inbox / (name + ".ready")).write_bytes(b"")
        cases.append(Case(name, outcome, code, read))

    # --- poison pills: each once escaped the refusal path and aborted the whole ingest
    add("deep.json", b"[" * 100_000 + b"]" * 100_000, "refused", "too_deep")
    deep_value = b"[" * 5000 + b"1" + b"]" * 5000
    add("deep-value.json", b'{"period": 2023, "unit_code": "SO-SNV", "stage": "self", '
        b'"submitted_at": "2023-05-02", "answers": [{"indicator_code": "NTS.1", "value": '
        + deep_value + b"}]}", "refused", "too_deep")  # fmt: skip
    add("excel-for-mac.csv", csv_text(GOOD_ROW, newline="\r").encode(), "loaded", "ok")
    add("cr-in-header.csv", csv_text(GOOD_ROW).replace("value", "va\rlue", 1).encode(),
        "refused", "bad_csv")  # fmt: skip
    wide_field = HEADER + ',"' + "x" * 140_000 + '"\n' + GOOD_ROW + ",\n"
    add("wide-header-field.csv", wide_field.encode(), "loaded", "ok")  # a field past 131,072
    add("header-over-the-line-cap.csv", (HEADER + "," + "y" * line_cap + "\n").encode(),
        "refused", "line_too_long")  # fmt: skip
    # --- resource bombs
    add("many-columns.csv", (HEADER + ",a" * (columns_cap * 5) + "\n" + GOOD_ROW + "\n").encode(),
        "refused", "too_many_columns")  # fmt: skip
    add("shared-string-bomb.xlsx", shared_string_bomb(256 * 1024, limits["max_file_bytes"] // 80_000),
        "refused", "too_large")  # fmt: skip
    with open(inbox / "sparse.csv", "wb") as sparse:  # 3 GB that take 4 KB on disk
        sparse.write(HEADER.encode() + b"\n")
        sparse.truncate(3 * 1024**3)
    add("sparse.csv", None, "refused", "too_large", read=False)
    add("entity-bomb.xlsx", shared_string_bomb(0, 3, entity_bomb()), "refused", "bad_xlsx")
    add("external-entity.xlsx", shared_string_bomb(0, 3, external_entity(outside / "secret.env")),
        "refused", "bad_xlsx")  # fmt: skip
    if limits["max_cells"] <= 100_000:  # (a workbook of millions of cells takes minutes to write)
        many_cells = [COLUMNS] + [GOOD_CELLS] * (limits["max_cells"] // len(COLUMNS) + 10)
        add("many-cells.xlsx", _workbook([("Trả lời", many_cells, "visible")]),
            "refused", "too_many_cells")  # fmt: skip
    answers = b",".join([b'{"indicator_code": "NTS.1", "value": 1}'] * (limits["max_cells"] // 2))
    add("many-values.json", b'{"period": 2023, "unit_code": "SO-SNV", "stage": "self", '
        b'"submitted_at": "2023-05-02", "answers": [' + answers + b"]}",
        "refused", "too_many_cells")  # fmt: skip
    # --- nothing outside the inbox is read
    os.symlink(outside / "other-unit.csv", inbox / "link-to-a-csv.csv")
    add("link-to-a-csv.csv", None, "refused", "link_refused", read=False)
    os.symlink(outside / "secret.env", inbox / "link-to-a-secret.csv")
    add("link-to-a-secret.csv", None, "refused", "link_refused", read=False)
    os.symlink("/proc/self/environ", inbox / "environ.json")
    add("environ.json", None, "refused", "link_refused", read=False)
    os.link(outside / "secret.env", inbox / "hard-link.csv")
    add("hard-link.csv", None, "refused", "link_refused", read=False)
    os.mkfifo(inbox / "pipe.csv")  # opening it for reading would block for ever
    add("pipe.csv", None, "refused", "not_regular_file", read=False)
    (inbox / "folder.csv").mkdir()
    add("folder.csv", None, "refused", "not_regular_file", read=False)
    # --- silent loss
    last_line = csv_text(GOOD_ROW).encode() + b"2023,SO-SNV,NTS.1,1," + b"z" * line_cap
    add("long-last-line.csv", last_line, "refused", "line_too_long")
    add("formula-without-value.xlsx", _workbook([("Trả lời", [COLUMNS,
        [2023, "SO-STTTT", "NTS.4", "=40+35.5", "self", "2023-05-02"]], "visible")]),
        "refused", "formula_without_value")  # fmt: skip
    add("formula-with-value.xlsx", with_cached_value(_workbook([("Trả lời", [COLUMNS,
        [2023, "SO-SKHDT", "NTS.4", "=40+35.5", "self", "2023-05-02"]], "visible")]), b"75.5"),
        "loaded", "ok")  # fmt: skip
    add("hidden-first-sheet.xlsx", _workbook([
        ("Cũ", [COLUMNS, [2023, "SO-STTTT", "NTS.4", 1, "self", "2023-05-02"]], "hidden"),
        ("Trả lời", [COLUMNS, GOOD_CELLS], "visible"),
    ]), "loaded", "ok")  # fmt: skip
    add("two-answer-sheets.xlsx", _workbook([
        ("Tự đánh giá", [COLUMNS, GOOD_CELLS], "visible"),
        ("Bản sửa", [COLUMNS, GOOD_CELLS], "visible"),
    ]), "refused", "ambiguous_workbook")  # fmt: skip
    add("instructions-sheet.xlsx", _workbook([
        ("Trả lời", [COLUMNS, [2023, "SO-SKHCN", "NTS.4", 60, "self", "2023-05-02"]], "visible"),
        ("Hướng dẫn", [["Điền một dòng cho mỗi chỉ số"]], "visible"),
    ]), "loaded", "ok")  # fmt: skip
    add("many-sheets.xlsx", _workbook(
        [(f"S{n}", [COLUMNS, GOOD_CELLS], "visible" if n == 0 else "hidden")
         for n in range(limits["max_sheets"] + 2)]
    ), "refused", "too_many_sheets")  # fmt: skip
    add("duplicate-keys.json", b'{"period": 2023, "unit_code": "SO-SNV", "stage": "self", '
        b'"submitted_at": "2023-05-02", "answers": [{"indicator_code": "NTS.1", "value": 0, '
        b'"value": 1}]}', "refused", "duplicate_keys")  # fmt: skip
    # --- crashes after the commit
    name = long_name("Sở Nội vụ - ", ".csv", 245)
    add(name, csv_text(GOOD_ROW, "2023,SO-SNV,NTS.1,1,,self,infinity").encode(),
        "partial", "rows_refused")  # fmt: skip
    add("answers.csv.ready", csv_text(GOOD_ROW).encode(), "refused", "unsupported_type")
    # control characters in a name must not forge a line of `dti ledger`
    add("forged\n2023-05-02T00:00:00Z  loaded   9 loaded .csv",
        csv_text("2023,SO-SNV,NTS.1,1,,self,2023-05-02").encode(), "loaded", "ok")  # fmt: skip
    return cases
