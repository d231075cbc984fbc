"""CSV inbox files: checked in Python on the bytes, read and judged in bulk by DuckDB.

The bytes are checked first (UTF-8, header) so that a legacy code page is refused with a
reason instead of being loaded as mojibake. Files sharing a header layout are then read by
one ``read_csv`` call whose rows go straight from the row judgement into ``raw`` (no staging
copy), which is what makes bulk ingest fast: ``count_rows`` first (outside the transaction: a
malformed file is found before anything is written), then ``load_accepted`` for every file
and ``load_refused`` only for the files that turned out to hold refused rows.
"""

from __future__ import annotations

import csv
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import duckdb

from ingest import rows
from ingest.refusal import FileRefused

REQUIRED = ("period", "unit_code", "indicator_code", "value", "stage", "submitted_at")
OPTIONAL = ("evidence_ref",)


@dataclass(frozen=True)
class CsvLayout:
    """Where each field sits in a file's header; files with equal layouts are read together."""

    delimiter: str
    n_columns: int
    positions: tuple[tuple[str, int], ...]
    needs_nfc: bool  # some text is decomposed (NFD): normalised while staging


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


def _scan(layout: CsvLayout, files: list[CsvFile], counts: list[int]) -> tuple[str, list]:
    """One ``read_csv`` over ``files`` as staged rows (``rows.STAGE_COLUMNS``), numbered per file.

    The scan numbers rows across all files (``with ordinality``) in file order; a file's row
    number is that number less the rows of the files before it (``counts``, from
    ``count_rows``), so that ``source_row`` 1 is the first data row of every file. The caller
    checks afterwards that the numbers written fill 1..count for every file.
    """
    columns = {f"c{i}": "VARCHAR" for i in range(layout.n_columns)}
    picked = dict(layout.positions)

    def field(name: str) -> str:
        if name not in picked:
            return f"null as {name}"
        column = f"c{picked[name]}"
        return f"nfc_normalize({column}) as {name}" if layout.needs_nfc else f"{column} as {name}"

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
        )
    )
    rows_before = [sum(counts[:i]) for i in range(len(counts))]
    # The archive path ends with the sha256, so no join is needed to tag each row.
    scan = f"""(select right(filename, 64) as batch_sha256, ? as source,
                       ordinality - list_extract(?::bigint[], cast(file_index as bigint) + 1)
                           as source_row,
                       {fields}, null as submission_id
                from read_csv(?, header = true, auto_detect = false, delim = ?, quote = '"',
                              escape = '"', columns = {columns!r}, filename = true,
                              encoding = 'utf-8') with ordinality)"""
    return scan, [rows_before, [str(f.stored_at) for f in files], layout.delimiter]


def count_rows(
    con: duckdb.DuckDBPyConnection, layout: CsvLayout, files: list[CsvFile]
) -> list[int]:
    """The number of data rows of each of ``files`` (same layout), in one scan.

    Raises ``duckdb.Error`` on a malformed file, as reading its rows would.
    """
    columns = {f"c{i}": "VARCHAR" for i in range(layout.n_columns)}
    found = dict(
        con.execute(
            f"""select file_index, count(*)
                from read_csv(?, header = true, auto_detect = false, delim = ?, quote = '"',
                              escape = '"', columns = {columns!r}, encoding = 'utf-8')
                group by file_index""",
            [[str(f.stored_at) for f in files], layout.delimiter],
        ).fetchall()
    )
    return [found.get(i, 0) for i in range(len(files))]


def load_accepted(
    con: duckdb.DuckDBPyConnection,
    layout: CsvLayout,
    files: list[CsvFile],
    counts: list[int],
    source: str,
) -> None:
    """Judges every row of ``files`` and appends the accepted ones to ``raw.submission_rows``
    (inside the caller's transaction)."""
    scan, params = _scan(layout, files, counts)
    rows.insert_accepted(con, scan, [source, *params])


def load_refused(
    con: duckdb.DuckDBPyConnection,
    layout: CsvLayout,
    files: list[CsvFile],
    counts: list[int],
    source: str,
) -> None:
    """Judges every row of ``files`` and appends the refused ones to ``raw.quarantine_rows``
    (inside the caller's transaction); called only for files known to hold refused rows."""
    scan, params = _scan(layout, files, counts)
    rows.insert_refused(con, scan, [source, *params])


@dataclass
class CsvGroup:
    """CSV files sharing a layout, read by one scan, with their row counts (``count_rows``)."""

    layout: CsvLayout
    files: list[CsvFile]
    counts: list[int]
    source: str

    def one_by_one(self) -> list[CsvGroup]:
        return [
            CsvGroup(self.layout, [f], [n], self.source)
            for f, n in zip(self.files, self.counts, strict=True)
        ]


def write(con: duckdb.DuckDBPyConnection, groups: list[CsvGroup]) -> dict[str, rows.BatchCounts]:
    """Judges the rows of every group into ``raw``, inside the caller's transaction; returns
    what was written for each file.

    Accepted rows go straight from one scan per group to ``raw.submission_rows``; only the
    files that came up short (some rows refused) are read again for ``raw.quarantine_rows``.
    Raises ``CsvInterleaved`` (the caller rolls back and reads the files one by one) when the
    row numbers written for a file are not exactly 1..its row count.
    """
    for group in groups:
        load_accepted(con, group.layout, group.files, group.counts, group.source)
    expected = {f.sha256: n for g in groups for f, n in zip(g.files, g.counts, strict=True)}
    counts = rows.written_counts(con, list(expected))
    short = set()
    for group in groups:
        picked = [
            (f, n)
            for f, n in zip(group.files, group.counts, strict=True)
            if counts.get(f.sha256, rows.BatchCounts()).rows_loaded < n
        ]
        if picked:
            files, ns = zip(*picked, strict=True)
            load_refused(con, group.layout, list(files), list(ns), group.source)
            short.update(f.sha256 for f in files)
    if short:
        counts.update(rows.written_counts(con, sorted(short)))
    distinct = rows.distinct_rows(con, sorted(short))
    for sha, n in expected.items():
        got = counts.setdefault(sha, rows.BatchCounts())
        numbered = got.rows_total == 0 or (got.first_row, got.last_row) == (1, got.rows_total)
        if got.rows_total != n or not numbered or distinct.get(sha, n) != n:
            raise CsvInterleaved(
                f"rows of several files were interleaved by the scan ({sha[:12]}…: "
                f"{got.rows_total} rows, {distinct.get(sha, got.rows_total)} distinct numbers "
                f"from {got.first_row} to {got.last_row}; expected 1 to {n})"
            )
    return counts
