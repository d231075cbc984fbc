"""``answers_<block>.csv`` and ``answers_<block>.xlsx``: every unit's answer per indicator, with
the evidence, note, appraiser and reason of the answer that counts (docs/spec/results.md §8.2a).

The results CSVs have one row per unit; a dispute is about one answer, so the answers file
has one row per (unit, applicable indicator): what the unit and the council sent, which stage
counts, the points, and what the counted answer cites. Same order as ``results.json`` (units)
and the framework's reading order (indicators), the same number format and formula guard as
``results_<block>.csv``.

The workbook comes from the release's one streaming writer (``publish.spreadsheet``): a
national block has 500,000 answer rows.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterator, Mapping, Sequence
from operator import getitem

from dti.codes import file_part
from publish import spreadsheet
from publish.marts import IndicatorPoints, PeriodMarts, UnitScore
from publish.numbers import number_text
from publish.results import csv_cell, unit_order

SHEET = "Trả lời"
# (CSV name, Vietnamese header, number format: "0.00", or None for text)
COLUMNS = (
    ("unit_code", "Mã đơn vị", None),
    ("unit_name", "Tên đơn vị", None),
    ("pillar_code", "Chỉ số chính", None),
    ("indicator_code", "Mã chỉ số", None),
    ("indicator_name", "Chỉ số thành phần", None),
    ("method", "Phương pháp", None),
    ("max_points", "Điểm tối đa", "0.00"),
    ("self_value", "Giá trị tự đánh giá", None),
    ("appraisal_value", "Giá trị thẩm định", None),
    ("counted_stage", "Giai đoạn được tính", None),
    ("self_points", "Điểm tự đánh giá", "0.00"),
    ("final_points", "Điểm sau thẩm định", "0.00"),
    ("late", "Nộp muộn", None),
    ("evidence_ref", "Minh chứng", None),
    ("note", "Giải trình của đơn vị", None),
    ("appraiser", "Người thẩm định", None),
    ("reason", "Lý do thẩm định", None),
)


def answers_paths(block: str) -> tuple[str, str]:
    name = file_part(block)
    return f"answers_{name}.csv", f"answers_{name}.xlsx"


def _rows(
    units: Sequence[UnitScore], indicators: Mapping[str, Sequence[IndicatorPoints]]
) -> Iterator[tuple]:
    """One tuple per (unit, indicator): text cells as ``str`` or ``None``, numbers as ``Decimal``."""
    for unit in units:
        rows = indicators.get(unit.unit_code, ()) if unit.indicator_digest else ()
        for i in rows:
            yield (
                unit.unit_code,
                unit.unit_name,
                i.pillar_code,
                i.indicator_code,
                i.indicator_name,
                i.method,
                i.max_points,
                i.self_value,
                i.appraisal_value,
                i.scored_stage,
                i.self_points,
                i.final_points,
                "true" if i.is_late else "false",
                i.evidence_ref,
                i.note,
                i.appraiser,
                i.appraisal_reason,
            )


def _block_units(marts: PeriodMarts, block: str) -> list[UnitScore]:
    return sorted(marts.block_units(block), key=unit_order)


def fingerprint(marts: PeriodMarts, block: str, renderer: str) -> str:
    """sha256 of everything the block's answers files hold: the units in order, their names
    and the digest of their indicator rows (computed in DuckDB), and the renderer's version.
    ``publish.incremental`` keeps the files of the last release when it is unchanged."""
    digest = hashlib.sha256(f"{renderer}\n{block}\n".encode())
    for unit in _block_units(marts, block):
        digest.update(f"{unit.unit_code}\t{unit.unit_name}\t{unit.indicator_digest}\n".encode())
    return digest.hexdigest()


class _CsvCells(dict):
    """One column's CSV text by value, converted on first sight: unit and indicator names,
    words and points recur on every unit, so most cells are one dict look-up in C."""

    def __init__(self, number: bool) -> None:
        super().__init__()
        self.number = number

    def __missing__(self, value: object) -> str:
        if value is None:
            return ""
        text = number_text(value) if self.number else csv_cell(value)  # type: ignore[arg-type]
        if len(self) < 50_000:  # evidence references are mostly unique: bound the memory
            self[value] = text
        return text


def answers_csv(
    marts: PeriodMarts, block: str, indicators: Mapping[str, Sequence[IndicatorPoints]]
) -> bytes:
    """UTF-8 with BOM, comma separated, CRLF, like ``results_<block>.csv``."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([csv_cell(name) for name, _, _ in COLUMNS])
    cells = [_CsvCells(fmt is not None) for _, _, fmt in COLUMNS]
    writer.writerows(
        map(getitem, cells, row) for row in _rows(_block_units(marts, block), indicators)
    )
    return b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8")


def answers_xlsx(
    marts: PeriodMarts, block: str, indicators: Mapping[str, Sequence[IndicatorPoints]]
) -> bytes:
    """The CSV's rows as a workbook (sheet ``Trả lời``): Vietnamese headers in row 1, the CSV's
    column names in row 2, numbers as numbers (``0.00``), the same formula guard."""
    return spreadsheet.workbook(SHEET, COLUMNS, _rows(_block_units(marts, block), indicators))


def render_answers(
    marts: PeriodMarts,
    indicators: Mapping[str, Sequence[IndicatorPoints]],
    blocks: Sequence[str],
) -> dict[str, bytes]:
    """The answers files of ``blocks``, by path relative to the bundle."""
    files: dict[str, bytes] = {}
    for block in blocks:
        csv_path, xlsx_path = answers_paths(block)
        files[csv_path] = answers_csv(marts, block, indicators)
        files[xlsx_path] = answers_xlsx(marts, block, indicators)
    return files
