"""XLSX inbox files: the first sheet, header in row 1, read in streaming mode.

An XLSX is a zip: before openpyxl touches it, the declared uncompressed sizes are summed and
the file is refused when they exceed the cap (a zip bomb). Python's zipfile never inflates an
entry past its declared size, so the cap bounds what is decompressed and held in memory.
"""

from __future__ import annotations

import logging
import unicodedata
import zipfile
from pathlib import Path

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


def read_rows(path: Path, max_uncompressed: int) -> list[dict[str, object]]:
    """Rows of the first sheet as field → text; ``source_row`` 1 is the row under the header."""
    _check_zip(path, max_uncompressed)
    import openpyxl

    # A file object, not the path: archived copies have no extension for openpyxl to check.
    handle = path.open("rb")
    try:
        workbook = openpyxl.load_workbook(handle, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a corrupt workbook
        handle.close()
        raise FileRefused(
            "bad_xlsx", f"not a readable XLSX workbook ({type(exc).__name__}: {exc})"
        ) from exc
    try:
        if not workbook.worksheets:
            raise FileRefused("empty_file", "the workbook has no sheet")
        sheet = workbook.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        header_cells = next(rows, None)
        if header_cells is None:
            raise FileRefused("empty_file", "the first sheet is empty")
        names = [
            unicodedata.normalize("NFC", str(h)).strip().lower() if h is not None else ""
            for h in header_cells
        ]
        repeated = sorted({n for n in names if names.count(n) > 1} & set(_FIELDS))
        if repeated:
            raise FileRefused(
                "duplicate_columns", f"column(s) {', '.join(repeated)} appear twice in row 1"
            )
        missing = [f for f in REQUIRED if f not in names]
        if missing:
            raise FileRefused(
                "missing_columns",
                f"row 1 of the first sheet lacks column(s) {', '.join(missing)}",
            )
        positions = {f: names.index(f) for f in _FIELDS if f in names}
        out: list[dict[str, object]] = []
        for number, cells in enumerate(rows, start=1):
            if cells is None or all(c is None or c == "" for c in cells):
                continue
            row: dict[str, object] = {"source_row": number}
            for field_name, index in positions.items():
                row[field_name] = as_text(cells[index]) if index < len(cells) else None
            out.append(row)
        return out
    except FileRefused:
        raise
    except Exception as exc:
        raise FileRefused(
            "bad_xlsx", f"the workbook could not be read to the end ({type(exc).__name__}: {exc})"
        ) from exc
    finally:
        workbook.close()
        handle.close()
