"""Why a whole file or batch is refused: a machine code and a sentence saying what to do."""

from __future__ import annotations

__all__ = ["FILE_REASONS", "FileRefused"]

# Every reason code a ledger row can carry besides ``ok`` (docs/spec/submissions.md §7.1,
# §9); the tests' corpus covers each.
FILE_REASONS = {
    "empty_file": "the file holds no answer rows",
    "not_utf8": "text that is not valid UTF-8 (often a legacy code page such as Windows-1258)",
    "bad_csv": "not a well-formed CSV (ragged rows, unterminated quotes, NUL bytes)",
    "bad_json": "not valid JSON or not shaped like a submission",
    "bad_xlsx": "not a readable XLSX workbook",
    "too_large": "larger than the size cap (or decompresses or expands beyond it)",
    "too_many_columns": "a header with more columns than DTI_MAX_COLUMNS",
    "line_too_long": "a CSV line longer than DTI_MAX_LINE_BYTES",
    "too_many_cells": "a workbook or JSON file with more cells than DTI_MAX_CELLS",
    "too_deep": "JSON nested deeper than DTI_MAX_JSON_DEPTH",
    "too_many_sheets": "a workbook with more worksheets than DTI_MAX_SHEETS",
    "duplicate_keys": "a JSON object that names the same key twice",
    "ambiguous_workbook": "several visible sheets hold answers, or no visible sheet",
    "formula_without_value": "an answer cell holds a formula Excel has not calculated",
    "link_refused": "a symbolic link: never followed, never opened",
    "not_regular_file": "a folder, pipe or device instead of a file",
    "watermark_not_advancing": "an API page that does not move the pull forward",
    "missing_columns": "a required column is missing from the header",
    "duplicate_columns": "a column name appears twice in the header",
    "unsupported_type": "not a .csv, .xlsx or .json file",
    "all_rows_refused": "every row was refused; see `dti quarantine`",
    "rows_refused": "some rows were refused (outcome partial); see `dti quarantine`",
    "duplicate_file": "exact copy of a file already loaded",
}


class FileRefused(Exception):
    """A file or batch that cannot be read at all; it is archived and refused whole."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
