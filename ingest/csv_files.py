"""CSV inbox files: checked in Python on the bytes, read in bulk by DuckDB.

The bytes are checked first (UTF-8, header) so that a legacy code page is refused with a
reason instead of being loaded as mojibake. Files sharing a header layout are then read by
one ``read_csv`` call into the temp table ``csv_rows`` (in parallel, in file order), from
where the load transaction judges them straight into ``raw`` (``ingest.rows``): this is what
makes bulk ingest fast.
"""

from __future__ import annotations

import csv
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import duckdb

from ingest.refusal import FileRefused

REQUIRED = ("period", "unit_code", "indicator_code", "value", "stage", "submitted_at")
OPTIONAL = ("evidence_ref", "note", "appraiser", "reason")


@dataclass(frozen=True)
class CsvLayout:
    """Where each field sits in a file's header; files with equal layouts are read together."""

    delimiter: str
    n_columns: int
    positions: tuple[tuple[str, int], ...]
    needs_nfc: bool  # some text is decomposed (NFD): normalised while collecting


@dataclass(frozen=True)
class CsvFile:
    sha256: str
    source_file: str
    stored_at: Path


def not_utf8_reason(data: bytes, error: UnicodeDecodeError) -> str:
    line = data.count(b"\n", 0, error.start) + 1
    bad = data[error.start : error.start + 4].hex(" ")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        guess = "it is UTF-16 (Excel's 'Unicode text')"
    else:
        try:
            sample = data[max(0, error.start - 20) : error.start + 20].decode("cp1258")
            guess = f"it looks like the Windows-1258 code page (would read as {sample!r})"
        except UnicodeDecodeError:
            guess = "it is in a legacy code page (Windows-1258, TCVN3 or VNI)"
    return (
        f"not valid UTF-8: byte(s) {bad} at line {line} (offset {error.start}); {guess}. "
        "Re-save the file as 'CSV UTF-8' and send it again"
    )


def inspect(data: bytes) -> CsvLayout:
    """Checks the bytes of a CSV file; raises ``FileRefused`` naming the problem."""
    if not data.strip(b"\xef\xbb\xbf \t\r\n"):
        raise FileRefused("empty_file", "the file is empty; send the file with its answers")
    try:
        text_head = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FileRefused("not_utf8", not_utf8_reason(data, exc)) from exc
    if "\x00" in text_head:
        line = text_head.count("\n", 0, text_head.index("\x00")) + 1
        raise FileRefused(
            "bad_csv", f"NUL byte at line {line}: this is a binary file, not a CSV text file"
        )
    header_line = text_head.lstrip("\ufeff").split("\n", 1)[0].rstrip("\r")
    delimiter = ";" if header_line.count(";") > header_line.count(",") else ","
    header = next(csv.reader([header_line], delimiter=delimiter), [])
    names = [unicodedata.normalize("NFC", h).strip().lower() for h in header]
    repeated = sorted({n for n in names if n and names.count(n) > 1} & {*REQUIRED, *OPTIONAL})
    if repeated:
        raise FileRefused(
            "duplicate_columns",
            f"column(s) {', '.join(repeated)} appear twice in the header; keep one of each",
        )
    missing = [f for f in REQUIRED if f not in names]
    if missing:
        raise FileRefused(
            "missing_columns",
            f"header lacks column(s) {', '.join(missing)} (found: {', '.join(names) or 'none'});"
            " the first row must name the columns of the submission contract (README)",
        )
    positions = tuple((f, names.index(f)) for f in (*REQUIRED, *OPTIONAL) if f in names)
    needs_nfc = not text_head.isascii() and not unicodedata.is_normalized("NFC", text_head)
    return CsvLayout(delimiter, len(names), positions, needs_nfc)


class CsvInterleaved(Exception):
    """The scan did not keep each file's rows together; files are then read one by one."""


def collect(
    con: duckdb.DuckDBPyConnection, layout: CsvLayout, files: list[CsvFile], source: str
) -> None:
    """Reads ``files`` (same layout) with one ``read_csv`` into ``csv_rows``, and each file's
    first row id and row count into ``csv_batches``.

    Raises ``duckdb.Error`` on a malformed file (nothing is kept then). The insert keeps the
    scan's order (``preserve_insertion_order``) while reading files in parallel, so a file's
    rows have consecutive row ids and ``source_row`` 1 is the first data row of every file;
    this is checked here (``CsvInterleaved``). Numbering rows in the scan itself (``with
    ordinality``) would read and judge on one thread only.
    """
    columns = {f"c{i}": "VARCHAR" for i in range(layout.n_columns)}
    picked = dict(layout.positions)

    def field(name: str) -> str:
        if name not in picked:
            return "null"
        column = f"c{picked[name]}"
        return f"nfc_normalize({column})" if layout.needs_nfc else column

    fields = ", ".join(
        field(f)
        for f in (
            "period",
            "unit_code",
            "indicator_code",
            "value",
            "evidence_ref",
            "stage",
            "submitted_at",
            "note",
            "appraiser",
            "reason",
        )
    )
    (first_no,) = con.execute("select count(*) from csv_batches").fetchone()
    con.execute("set preserve_insertion_order = true")  # the row ids number the rows
    try:
        con.execute(
            f"""insert into csv_rows
                select cast(file_index as integer) + ?, {fields}
                from read_csv(?, header = true, auto_detect = false, delim = ?, quote = '"',
                              escape = '"', columns = {columns!r}, encoding = 'utf-8')""",
            [first_no, [str(f.stored_at) for f in files], layout.delimiter],
        )
    finally:
        con.execute("reset preserve_insertion_order")
    spans = con.execute(
        """select file_no, min(rowid), max(rowid), count(*) from csv_rows
           where file_no >= ? group by file_no""",
        [first_no],
    ).fetchall()
    if any(last - first + 1 != n for _, first, last, n in spans):
        con.execute("delete from csv_rows where file_no >= ?", [first_no])
        raise CsvInterleaved("rows of several files were interleaved by the scan")
    first_rowid = {no: first for no, first, _, _ in spans}
    rows_collected = {no: n for no, _, _, n in spans}
    con.executemany(
        "insert into csv_batches values (?, ?, ?, ?, ?)",
        [
            [no, f.sha256, source, first_rowid.get(no), rows_collected.get(no, 0)]
            for no, f in enumerate(files, start=first_no)
        ],
    )
