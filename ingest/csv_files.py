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
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import duckdb

from dti.settings import Settings
from dti.text import printable
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


_SCAN_STEP = 16 * 1024 * 1024


def long_line(data: bytes, max_line_bytes: int) -> tuple[int, int] | None:
    """(line number, length) of the first line longer than ``max_line_bytes``, else ``None``.

    LF, CRLF and CR alone all end a line. DuckDB drops a last line that is too long without a
    word (and accepts a long line anywhere else): lines are measured here first, in slices,
    so the check costs a few bytes per byte of the file and no more memory than a slice.
    """
    if len(data) <= max_line_bytes:
        return None
    import numpy as np

    last = -1  # offset of the last line break seen
    for start in range(0, len(data), _SCAN_STEP):
        part = np.frombuffer(data, np.uint8, count=min(_SCAN_STEP, len(data) - start), offset=start)
        breaks = np.flatnonzero((part == 10) | (part == 13)) + start
        ends = np.append(breaks, start + len(part)) if start + len(part) == len(data) else breaks
        if not len(ends):
            if start + len(part) - last - 1 > max_line_bytes:
                return data.count(b"\n", 0, last + 1) + 1, start + len(part) - last - 1
            continue
        lengths = np.diff(ends, prepend=last) - 1
        over = np.flatnonzero(lengths > max_line_bytes)
        if len(over):
            at = int(ends[over[0]]) - int(lengths[over[0]])
            return data.count(b"\n", 0, at) + 1, int(lengths[over[0]])
        last = int(breaks[-1]) if len(breaks) else last
    return None


def _header_line(text: str) -> str:
    """The first line: up to the first LF (a CR before it belongs to a CRLF), or up to the first
    CR in a file without LF (Excel for Mac ends lines with CR alone; DuckDB reads those)."""
    if "\n" in text:
        line = text.split("\n", 1)[0]
        return line[:-1] if line.endswith("\r") else line
    return text.split("\r", 1)[0]


def inspect(data: bytes, limits: Settings) -> CsvLayout:
    """Checks the bytes of a CSV file; raises ``FileRefused`` naming the problem.

    Every check is linear in the size of the file (the header check too, whatever its width).
    """
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
    too_long = long_line(data, limits.max_line_bytes)
    if too_long:
        line, length = too_long
        raise FileRefused(
            "line_too_long",
            f"line {line} is {length:,} bytes long, over the cap of {limits.max_line_bytes:,} "
            "(DTI_MAX_LINE_BYTES); a CSV line holds one answer: check the file's line ends",
        )
    header_line = _header_line(text_head.lstrip("\ufeff"))
    delimiter = ";" if header_line.count(";") > header_line.count(",") else ","
    if header_line.count(delimiter) + 1 > limits.max_columns:
        raise FileRefused(
            "too_many_columns",
            f"the header has {header_line.count(delimiter) + 1:,} columns, over the cap of "
            f"{limits.max_columns:,} (DTI_MAX_COLUMNS); send the columns of the contract",
        )
    if "\r" in header_line:
        raise FileRefused(
            "bad_csv",
            f"a carriage return (CR) inside the header, after "
            f"{printable(header_line.split(chr(13), 1)[0][-40:])!r}: a column name holds a line "
            "break; rename the column and send the file again",
        )
    if csv.field_size_limit() < limits.max_line_bytes:
        csv.field_size_limit(limits.max_line_bytes)  # a header field may be as long as a line
    try:
        header = next(csv.reader([header_line], delimiter=delimiter, strict=True), [])
    except csv.Error as exc:
        raise FileRefused("bad_csv", f"the header line is not well-formed CSV ({exc})") from exc
    names = [unicodedata.normalize("NFC", h).strip().lower() for h in header]
    counts = Counter(names)
    repeated = sorted(n for n in (*REQUIRED, *OPTIONAL) if counts[n] > 1)
    if repeated:
        raise FileRefused(
            "duplicate_columns",
            f"column(s) {', '.join(repeated)} appear twice in the header; keep one of each",
        )
    missing = [f for f in REQUIRED if f not in counts]
    if missing:
        found = printable(", ".join(n[:60] for n in names[:20]) or "none")
        raise FileRefused(
            "missing_columns",
            f"header lacks column(s) {', '.join(missing)} (found: {found}"
            f"{', …' if len(names) > 20 else ''}); the first row must name the columns of the "
            "submission contract (docs/spec/submissions.md)",
        )
    positions = tuple((f, names.index(f)) for f in (*REQUIRED, *OPTIONAL) if f in counts)
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
