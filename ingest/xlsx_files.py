"""XLSX inbox files: the first visible sheet, header in row 1, read in streaming mode.

An XLSX is a zip: before openpyxl touches it, the declared uncompressed sizes are summed and
the file is refused when they exceed the cap (a zip bomb). Python's zipfile never inflates an
entry past its declared size, so the cap bounds what is decompressed and held in memory.
"""

from __future__ import annotations

import logging
import unicodedata
import zipfile
from collections import Counter
from pathlib import Path

from dti.settings import Settings
from dti.text import printable
from ingest.csv_files import OPTIONAL, REQUIRED
from ingest.refusal import FileRefused
from ingest.values import as_text

log = logging.getLogger(__name__)

_FIELDS = (*REQUIRED, *OPTIONAL)


def _check_zip(path: Path, max_uncompressed: int) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise FileRefused(
            "bad_xlsx", f"not a readable XLSX workbook ({exc}); save it again from Excel"
        ) from exc
    total = sum(i.file_size for i in infos)
    if total > max_uncompressed:
        raise FileRefused(
            "too_large",
            f"the workbook decompresses to {total:,} bytes, over the cap of "
            f"{max_uncompressed:,} (a zip bomb or a sheet far too large); split it or send CSV",
        )
    if not any(i.filename == "xl/workbook.xml" for i in infos):
        raise FileRefused("bad_xlsx", "zip file without xl/workbook.xml: not an XLSX workbook")


def _open(path: Path, data_only: bool):
    import openpyxl

    # A file object, not the path: archived copies have no extension for openpyxl to check.
    handle = path.open("rb")
    try:
        return openpyxl.load_workbook(handle, read_only=True, data_only=data_only), handle
    except Exception as exc:  # openpyxl raises many types for a corrupt workbook
        handle.close()
        raise FileRefused(
            "bad_xlsx", f"not a readable XLSX workbook ({type(exc).__name__}: {exc})"
        ) from exc


def _names(cells: tuple | None) -> list[str]:
    names = [
        unicodedata.normalize("NFC", str(h)).strip().lower() if h is not None else ""
        for h in cells or ()
    ]
    while names and names[-1] == "":
        names.pop()
    return names


def _title(sheet: object) -> str:
    return printable(str(getattr(sheet, "title", "?"))[:60])


def _answer_sheet(workbook: object, limits: Settings) -> int:
    """Index of the sheet the answers are read from: the first visible worksheet.

    Refused: more than ``DTI_MAX_SHEETS`` sheets, no visible worksheet, or another visible
    worksheet whose row 1 also names the required columns (which one holds the answers cannot
    be told). Hidden sheets are never read; other visible sheets (instructions, lists) are
    ignored and logged.
    """
    sheets = workbook.worksheets
    if not sheets:
        raise FileRefused("empty_file", "the workbook has no sheet")
    if len(sheets) > limits.max_sheets:
        raise FileRefused(
            "too_many_sheets",
            f"the workbook has {len(sheets):,} sheets, over the cap of {limits.max_sheets} "
            "(DTI_MAX_SHEETS); send the answers sheet alone",
        )
    visible = [n for n, s in enumerate(sheets) if getattr(s, "sheet_state", "visible") == "visible"]
    if not visible:
        raise FileRefused(
            "ambiguous_workbook",
            "every sheet of the workbook is hidden; unhide the answers sheet and send it again",
        )
    first, others = visible[0], visible[1:]
    for n in others:
        row1 = next(sheets[n].iter_rows(max_row=1, values_only=True), None)
        if set(REQUIRED) <= set(_names(row1)[: limits.max_columns]):
            raise FileRefused(
                "ambiguous_workbook",
                f"visible sheets {_title(sheets[first])!r} and {_title(sheets[n])!r} both hold "
                "answer columns; which one counts cannot be told: send one answers sheet "
                "(the first visible sheet is read)",
            )
    ignored = [
        f"{_title(s)} ({'visible' if n in others else 'hidden'})"
        for n, s in enumerate(sheets)
        if n != first
    ]
    if ignored:
        log.info("workbook: answers read from sheet %s; not read: %s",
                 _title(sheets[first]), ", ".join(ignored))  # fmt: skip
    return first


def read_rows(path: Path, limits: Settings) -> list[dict[str, object]]:
    """Rows of the answers sheet (``_answer_sheet``) as field → text; ``source_row`` 1 is the
    row under the header.

    The workbook is read twice in lockstep, values and formulas, so that a formula cell
    without a cached value (a workbook saved by a program that does not calculate) is refused
    instead of read as "not answered". Cells read and text kept are counted against
    ``DTI_MAX_CELLS`` and ``DTI_MAX_FILE_BYTES`` as they stream (one shared string repeated in
    many cells costs its length each time it is kept).
    """
    _check_zip(path, limits.max_file_bytes)
    workbook, handle = _open(path, data_only=True)
    formulas, formula_handle = None, None
    try:
        index = _answer_sheet(workbook, limits)
        sheet = workbook.worksheets[index]
        formulas, formula_handle = _open(path, data_only=False)
        rows = sheet.iter_rows(values_only=True)
        formula_rows = formulas.worksheets[index].iter_rows(values_only=True)
        header_cells = next(rows, None)
        next(formula_rows, None)
        if header_cells is None:
            raise FileRefused("empty_file", f"the sheet {_title(sheet)!r} is empty")
        names = _names(header_cells)
        if len(names) > limits.max_columns:
            raise FileRefused(
                "too_many_columns",
                f"row 1 has {len(names):,} columns, over the cap of {limits.max_columns:,} "
                "(DTI_MAX_COLUMNS)",
            )
        counts = Counter(names)
        repeated = sorted(f for f in _FIELDS if counts[f] > 1)
        if repeated:
            raise FileRefused(
                "duplicate_columns", f"column(s) {', '.join(repeated)} appear twice in row 1"
            )
        missing = [f for f in REQUIRED if f not in counts]
        if missing:
            raise FileRefused(
                "missing_columns",
                f"row 1 of the sheet {_title(sheet)!r} (the first visible sheet) lacks "
                f"column(s) {', '.join(missing)}",
            )
        positions = {f: names.index(f) for f in _FIELDS if f in counts}
        out: list[dict[str, object]] = []
        cells_read, text_kept, uncalculated = len(header_cells), 0, []
        for number, (cells, formula_cells) in enumerate(
            zip(rows, formula_rows, strict=False), start=1
        ):
            cells_read += len(cells or ())
            if cells_read > limits.max_cells:
                raise FileRefused(
                    "too_many_cells",
                    f"the sheet has more than {limits.max_cells:,} cells (DTI_MAX_CELLS); "
                    "delete the unused rows and columns or split the workbook",
                )
            if cells is None or all(c is None or c == "" for c in cells):
                if not any(isinstance(c, str) and c.startswith("=") for c in formula_cells or ()):
                    continue
            row: dict[str, object] = {"source_row": number}
            for field_name, at in positions.items():
                value = as_text(cells[at]) if cells and at < len(cells) else None
                if value is None and formula_cells and at < len(formula_cells):
                    formula = formula_cells[at]
                    if isinstance(formula, str) and formula.startswith("="):
                        uncalculated.append(f"{field_name} of row {number + 1}")
                text_kept += len(value or "")
                row[field_name] = value
            if text_kept > limits.max_file_bytes:
                raise FileRefused(
                    "too_large",
                    f"the cells read expand to more than {limits.max_file_bytes:,} characters "
                    "(DTI_MAX_FILE_BYTES; one long text repeated in many cells?); "
                    "send the answers without it",
                )
            out.append(row)
        if uncalculated:
            raise FileRefused(
                "formula_without_value",
                f"{len(uncalculated)} answer cell(s) hold a formula without a calculated value "
                f"({', '.join(uncalculated[:5])}{', …' if len(uncalculated) > 5 else ''}); "
                "open the workbook in Excel, let it calculate, save and send it again "
                "(or type the values)",
            )
        return out
    except FileRefused:
        raise
    except Exception as exc:
        raise FileRefused(
            "bad_xlsx", f"the workbook could not be read to the end ({type(exc).__name__}: {exc})"
        ) from exc
    finally:
        for book, fh in ((workbook, handle), (formulas, formula_handle)):
            if book is not None:
                book.close()
            if fh is not None:
                fh.close()
