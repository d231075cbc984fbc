"""The release's workbooks: one streaming writer for ``results_<block>.xlsx`` and
``answers_<block>.xlsx`` (docs/spec/results.md §8.2, §8.2a).

A comma CSV opens as one column in Excel set to Vietnamese (its list separator is ``;``); a
workbook has no separator to guess. Each workbook holds one sheet: Vietnamese headers in row
1, the CSV's column names in row 2 (for formulas and scripts), numbers as numbers, the CSV's
formula guard on text, a frozen header and unit column, widths from the content.

The package is written here rather than with openpyxl: a national answers block has 500,000
rows and openpyxl builds a Python object per cell (minutes per block, gigabytes of memory).
It holds only the parts Excel needs (content types, workbook, one sheet, styles, and the
document properties when a title is given), with fixed times in every zip entry and in the
properties, so the same inputs give the same bytes.
"""

from __future__ import annotations

import io
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterable, Sequence
from operator import getitem
from typing import IO

from publish.marts import PeriodMarts, UnitScore
from publish.numbers import number_text
from publish.results import safe_cell, unit_order

# (CSV name, Vietnamese header, number format: "0.00", "0", or None for text)
Column = tuple[str, str, str | None]

RESULTS_SHEET = "Kết quả"
RESULTS_COLUMNS: tuple[Column, ...] = (
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
    ("rank_group", "Mã nhóm xếp hạng", None),
    ("rank_group_name", "Nhóm xếp hạng", None),
    ("late", "Nộp muộn", None),
    ("unanswered", "Chỉ số chưa trả lời", None),
)

_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # the zip epoch: no build time in the bytes
_PROPERTIES_TIME = "1980-01-01T00:00:00Z"
_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_CORE_REL = "http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties"
_XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_CORE_TYPE = (
    '<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-'
    'package.core-properties+xml"/>'
)
_CONTENT_TYPES = (
    _XML + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
    'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.'
    'openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.styles+xml"/>{core}</Types>'
)
_ROOT_RELS = (
    _XML + f'<Relationships xmlns="{_PKG_REL_NS}"><Relationship Id="rId1" '
    f'Type="{_REL_NS}/officeDocument" Target="xl/workbook.xml"/>{{core}}</Relationships>'
)
_WORKBOOK_RELS = (
    _XML + f'<Relationships xmlns="{_PKG_REL_NS}">'
    f'<Relationship Id="rId1" Type="{_REL_NS}/worksheet" Target="worksheets/sheet1.xml"/>'
    f'<Relationship Id="rId2" Type="{_REL_NS}/styles" Target="styles.xml"/></Relationships>'
)
# cell styles: 0 text, 1 number "0.00" (built-in format 2), 2 bold header, 3 grey italic names,
# and 4 whole number "0" (built-in format 1) in a workbook with such a column
_TEXT, _DECIMAL, _HEADER, _NAMES, _WHOLE = 0, 1, 2, 3, 4
_NUMBER_STYLES = {"0.00": _DECIMAL, "0": _WHOLE}
_WHOLE_XF = '<xf numFmtId="1" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
_STYLES = (
    _XML + f"<styleSheet {_NS}>"
    '<fonts count="3"><font><sz val="11"/><name val="Calibri"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/></font>'
    '<font><i/><sz val="11"/><color rgb="FF555555"/><name val="Calibri"/></font></fonts>'
    '<fills count="3"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill>'
    '<fill><patternFill patternType="solid"><fgColor rgb="FFDDE7F0"/></patternFill></fill>'
    "</fills>"
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="{count}"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="2" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="0" fontId="1" fillId="2" borderId="0" xfId="0" applyFont="1" '
    'applyFill="1"/>'
    '<xf numFmtId="0" fontId="2" fillId="0" borderId="0" xfId="0" applyFont="1"/>{whole}'
    "</cellXfs>"
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)
# characters XML 1.0 does not allow (a control character in a note would break the file)
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
# where a remembered cell's row number goes: NUL, which no cell holds (_NOT_XML removes it)
_ROW = "\x00"
_ROWS_PER_CHUNK = 2_000
_COPY_BYTES = 1 << 20
_MEMO_LIMIT = 50_000  # values a column remembers


def column_letter(index: int) -> str:
    """``A`` for the first column (index 0), ``AA`` for the 27th."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _xml_text(text: str) -> str:
    text = _NOT_XML.sub("", text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _text_cell(ref: str, text: str, style: int = _TEXT) -> str:
    s = f' s="{style}"' if style else ""
    return (
        f'<c r="{ref}"{s} t="inlineStr"><is><t xml:space="preserve">{_xml_text(text)}</t></is></c>'
    )


class _ColumnCells(dict):
    """One column's cells by value, with ``_ROW`` where the row number goes; filled on
    first sight. Names, words and points recur on every unit, so most
    cells are one dict look-up in C; ``width`` follows the longest text written."""

    def __init__(self, letter: str, header: str, number_format: str | None) -> None:
        super().__init__()
        self.prefix = f'<c r="{letter}{_ROW}"'
        self.style = _NUMBER_STYLES[number_format] if number_format else _TEXT
        self.width = len(header) + 2

    def __missing__(self, value: object) -> str:
        if value is None:
            return ""  # an empty cell is left out of the row (not remembered: always cheap)
        if self.style == _TEXT:
            text = safe_cell(value)  # type: ignore[arg-type]
            content = f' t="inlineStr"><is><t xml:space="preserve">{_xml_text(text)}</t></is></c>'
        else:
            text = str(value) if isinstance(value, int) else number_text(value)  # type: ignore[arg-type]
            content = f' s="{self.style}"><v>{text}</v></c>'
        self.width = max(self.width, len(text) + 2)
        found = self.prefix + content
        if len(self) < _MEMO_LIMIT:  # evidence references are mostly unique: bound the memory
            self[value] = found
        return found


def _sheet(
    columns: Sequence[Column], rows: Iterable[Sequence], spool: IO[bytes]
) -> tuple[str, str]:
    """The worksheet XML: its head (up to the data rows) and its tail, with the data rows
    written to ``spool`` as UTF-8. The head needs the column widths and the last row, known
    only after the rows, and a block's rows are hundreds of megabytes of text: they wait on
    disk, not in memory."""
    letters = [column_letter(k) for k in range(len(columns))]
    cells = [_ColumnCells(letters[k], vi, fmt) for k, (_, vi, fmt) in enumerate(columns)]
    head_rows = (
        '<row r="1">'
        + "".join(_text_cell(f"{letters[k]}1", vi, _HEADER) for k, (_, vi, _) in enumerate(columns))
        + "</row>"
        + '<row r="2">'
        + "".join(_text_cell(f"{letters[k]}2", n, _NAMES) for k, (n, _, _) in enumerate(columns))
        + "</row>"
    )
    part: list[str] = []
    count = 0
    for count, row in enumerate(rows, start=1):
        cells_xml = "".join(map(getitem, cells, row))
        part.append(f'<row r="{_ROW}">{cells_xml}</row>'.replace(_ROW, str(count + 2)))
        if len(part) == _ROWS_PER_CHUNK:
            spool.write("".join(part).encode("utf-8"))
            part = []
    spool.write("".join(part).encode("utf-8"))
    cols = "".join(
        f'<col min="{k + 1}" max="{k + 1}" width="{min(max(c.width, 8), 60)}" customWidth="1"/>'
        for k, c in enumerate(cells)
    )
    last = f"{letters[-1]}{count + 2}"
    head = (
        _XML + f'<worksheet {_NS} xmlns:r="{_REL_NS}"><dimension ref="A1:{last}"/>'
        '<sheetViews><sheetView workbookViewId="0"><pane xSplit="2" ySplit="2" '
        'topLeftCell="C3" activePane="bottomRight" state="frozen"/></sheetView></sheetViews>'
        f"<cols>{cols}</cols><sheetData>{head_rows}"
    )
    return head, f'</sheetData><autoFilter ref="A2:{last}"/></worksheet>'


def _core_properties(title: str) -> str:
    return (
        _XML + '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/'
        'metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:dcterms="http://purl.org/dc/terms/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"<dc:creator>DTI</dc:creator><dc:title>{_xml_text(title)}</dc:title>"
        f'<dcterms:created xsi:type="dcterms:W3CDTF">{_PROPERTIES_TIME}</dcterms:created>'
        f'<dcterms:modified xsi:type="dcterms:W3CDTF">{_PROPERTIES_TIME}</dcterms:modified>'
        "</cp:coreProperties>"
    )


def _entry(name: str) -> zipfile.ZipInfo:
    entry = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
    entry.compress_type = zipfile.ZIP_DEFLATED
    entry.external_attr = 0o600 << 16
    return entry


def workbook(
    sheet_name: str,
    columns: Sequence[Column],
    rows: Iterable[Sequence],
    title: str | None = None,
) -> bytes:
    """One sheet of ``rows`` (text as ``str``, numbers as ``Decimal`` or ``int``, ``None`` for
    an empty cell) under the two header rows of ``columns``; ``title`` adds the document
    properties (creator DTI, the title, the fixed time)."""
    with tempfile.TemporaryFile() as spool:
        head, tail = _sheet(columns, rows, spool)
        spool.seek(0)
        return _package(sheet_name, columns, head, spool, tail, title)


def _package(
    sheet_name: str,
    columns: Sequence[Column],
    head: str,
    rows_xml: IO[bytes],
    tail: str,
    title: str | None,
) -> bytes:
    whole = any(fmt == "0" for _, _, fmt in columns)
    core_type, core_rel = "", ""
    if title is not None:
        core_type = _CORE_TYPE
        core_rel = f'<Relationship Id="rId2" Type="{_CORE_REL}" Target="docProps/core.xml"/>'
    book = (
        _XML + f'<workbook {_NS} xmlns:r="{_REL_NS}"><sheets>'
        f'<sheet name="{_xml_text(sheet_name)}" sheetId="1" r:id="rId1"/></sheets></workbook>'
    )
    parts = [
        ("[Content_Types].xml", _CONTENT_TYPES.format(core=core_type)),
        ("_rels/.rels", _ROOT_RELS.format(core=core_rel)),
    ]
    if title is not None:
        parts.append(("docProps/core.xml", _core_properties(title)))
    parts += [
        ("xl/workbook.xml", book),
        ("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS),
        (
            "xl/styles.xml",
            _STYLES.format(count=5 if whole else 4, whole=_WHOLE_XF if whole else ""),
        ),
    ]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as package:
        for name, text in parts:
            package.writestr(_entry(name), text.encode("utf-8"))
        # streamed into the entry: the sheet is never one string (deflate gives the same
        # bytes however its input is split)
        with package.open(_entry("xl/worksheets/sheet1.xml"), "w") as sheet:
            sheet.write(head.encode("utf-8"))
            shutil.copyfileobj(rows_xml, sheet, _COPY_BYTES)
            sheet.write(tail.encode("utf-8"))
    return out.getvalue()


# --- results_<block>.xlsx ---------------------------------------------------------------------


def _pillar_codes(units: list[UnitScore]) -> list[tuple[str, str]]:
    codes: dict[str, str] = {}
    for unit in units:
        for p in sorted(unit.pillars, key=lambda p: (p.sort_order, p.pillar_code)):
            codes.setdefault(p.pillar_code, p.pillar_name)
    return list(codes.items())


def _results_rows(units: list[UnitScore], pillars: list[tuple[str, str]]) -> Iterable[list]:
    for unit in units:
        by_code = {p.pillar_code: p for p in unit.pillars}
        row: list = [
            unit.unit_code,
            unit.unit_name,
            unit.block,
            unit.status,
            unit.total_score,
            unit.self_score,
            unit.applicable_max,
            unit.percent,
            unit.level or "",
            unit.rank,
            unit.rank_group,
            unit.rank_group_name,
            "true" if unit.is_late else "false",
            ";".join(unit.unanswered),
        ]
        for code, _ in pillars:
            pillar = by_code.get(code)
            row += [pillar.score, pillar.max_points] if pillar else [None, None]
        yield row


def results_xlsx(marts: PeriodMarts, block: str) -> bytes:
    """``results_<block>.csv``'s units as sheet ``Kết quả``: the unit columns, then each
    pillar's score and maximum."""
    units = sorted(marts.block_units(block), key=unit_order)
    pillars = _pillar_codes(units)
    columns = list(RESULTS_COLUMNS)
    for code, name in pillars:
        columns += [
            (f"{code}_score", f"{name} — điểm", "0.00"),
            (f"{code}_max", f"{name} — tối đa", "0.00"),
        ]
    return workbook(
        RESULTS_SHEET,
        columns,
        _results_rows(units, pillars),
        title=f"Kết quả DTI {marts.period} — {block}",
    )
