"""``results_<block>.xlsx``: the CSV's rows as a workbook Excel opens in any locale
(docs/spec/results.md §8.2).

A comma CSV opens as one column in Excel set to Vietnamese (its list separator is ``;``); a
workbook has no separator to guess. Same rows and order as the CSV, Vietnamese headers (the
CSV's column names in a second header row, for formulas and scripts), numbers as numbers
with two decimals, a frozen header and unit column, widths from the content.

Byte-identical for the same inputs: openpyxl stamps the save time into ``docProps/core.xml``
and every zip entry, so the workbook is re-packed with a fixed time (1980-01-01, the zip
epoch) in the same entry order.
"""

from __future__ import annotations

import io
import re
import zipfile
from datetime import datetime

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from publish.marts import PeriodMarts, UnitScore
from publish.results import safe_cell, unit_order

FIXED_TIME = datetime(1980, 1, 1)
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_CORE_TIMES = re.compile(rb"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:\2>)")

COLUMNS = [  # (CSV name, Vietnamese header, number format or None for text)
    ("unit_code", "Mã đơn vị", None),
    ("unit_name", "Tên đơn vị", None),
    ("block", "Khối", None),
    ("status", "Trạng thái", None),
    ("total_score", "Tổng điểm", "0.00"),
    ("self_score", "Điểm tự đánh giá", "0.00"),
    ("applicable_max", "Điểm tối đa", "0.00"),
    ("percent", "Tỷ lệ (%)", "0.00"),
    ("level", "Mức độ", None),
    ("rank", "Xếp hạng", "0"),
    ("late", "Nộp muộn", None),
    ("unanswered", "Chỉ số chưa trả lời", None),
]


def _pillar_codes(units: list[UnitScore]) -> list[tuple[str, str]]:
    codes: dict[str, str] = {}
    for unit in units:
        for p in sorted(unit.pillars, key=lambda p: (p.sort_order, p.pillar_code)):
            codes.setdefault(p.pillar_code, p.pillar_name)
    return list(codes.items())


def _rows(units: list[UnitScore], pillars: list[tuple[str, str]]) -> list[list]:
    rows = []
    for unit in units:
        by_code = {p.pillar_code: p for p in unit.pillars}
        row: list = [
            safe_cell(unit.unit_code),
            safe_cell(unit.unit_name),
            safe_cell(unit.block),
            safe_cell(unit.status),
            unit.total_score,
            unit.self_score,
            unit.applicable_max,
            unit.percent,
            safe_cell(unit.level or ""),
            unit.rank,
            "true" if unit.is_late else "false",
            safe_cell(";".join(unit.unanswered)),
        ]
        for code, _ in pillars:
            pillar = by_code.get(code)
            row += [pillar.score, pillar.max_points] if pillar else [None, None]
        rows.append(row)
    return rows


def _width(values: list) -> float:
    longest = max((len(str(v)) for v in values if v is not None), default=4)
    return float(min(max(longest + 2, 8), 60))


def _deterministic(data: bytes) -> bytes:
    """The same workbook with fixed times in docProps/core.xml and in every zip entry."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = _CORE_TIMES.sub(rb"\g<1>1980-01-01T00:00:00Z\g<3>", content)
            entry = zipfile.ZipInfo(info.filename, date_time=_ZIP_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o600 << 16
            target.writestr(entry, content)
    return out.getvalue()


def results_xlsx(marts: PeriodMarts, block: str) -> bytes:
    units = sorted(marts.block_units(block), key=unit_order)
    pillars = _pillar_codes(units)
    columns = list(COLUMNS)
    for code, name in pillars:
        columns += [
            (f"{code}_score", f"{name} — điểm", "0.00"),
            (f"{code}_max", f"{name} — tối đa", "0.00"),
        ]

    workbook = Workbook()
    workbook.properties.creator = "DTI"
    workbook.properties.title = f"Kết quả DTI {marts.period} — {block}"
    workbook.properties.created = FIXED_TIME
    workbook.properties.modified = FIXED_TIME
    sheet = workbook.active
    sheet.title = "Kết quả"
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="DDE7F0")
    sheet.append([vi for _, vi, _ in columns])
    sheet.append([name for name, _, _ in columns])
    for cell in sheet[1]:
        cell.font, cell.fill = bold, fill
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for cell in sheet[2]:
        cell.font = Font(italic=True, color="555555")
    rows = _rows(units, pillars)
    for row in rows:
        sheet.append(row)
    for index, (_, vi, number_format) in enumerate(columns, start=1):
        letter = get_column_letter(index)
        if number_format:
            for (cell,) in sheet.iter_rows(min_row=3, min_col=index, max_col=index):
                cell.number_format = number_format
        values = [vi, *(row[index - 1] for row in rows)]
        sheet.column_dimensions[letter].width = _width(values)
    sheet.freeze_panes = "C3"  # the two header rows and the unit code and name stay in view
    sheet.auto_filter.ref = f"A2:{get_column_letter(len(columns))}{len(rows) + 2}"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return _deterministic(buffer.getvalue())
