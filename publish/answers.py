"""``answers_<block>.csv`` and ``answers_<block>.xlsx``: every unit's answer per indicator, with
the evidence, note, appraiser and reason of the answer that counts (docs/spec/results.md §8.2a).

The results CSVs have one row per unit; a dispute is about one answer, so the answers file
has one row per (unit, applicable indicator): what the unit and the council sent, which stage
counts, the points, and what the counted answer cites. Same order as ``results.json`` (units)
and the framework's reading order (indicators), the same number format and formula guard as
``results_<block>.csv``.

The workbook is written by a small streaming writer here rather than openpyxl: a national
block has 500,000 answer rows, and openpyxl builds a Python object per cell (about 40 s per
50,000 rows on the project's shared machine, minutes for a block). The package holds the
parts Excel needs (content types, workbook, one sheet, styles), fixed times in every zip
entry, so the same inputs give the same bytes.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import zipfile
from collections.abc import Iterator, Mapping, Sequence

from publish.marts import IndicatorPoints, PeriodMarts, UnitScore
from publish.numbers import number_text
from publish.results import safe_cell, unit_order

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
NUMBER_COLUMNS = frozenset(i for i, (_, _, fmt) in enumerate(COLUMNS) if fmt)


def answers_paths(block: str) -> tuple[str, str]:
    return f"answers_{block}.csv", f"answers_{block}.xlsx"


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


def answers_csv(
    marts: PeriodMarts, block: str, indicators: Mapping[str, Sequence[IndicatorPoints]]
) -> bytes:
    """UTF-8 with BOM, comma separated, CRLF, like ``results_<block>.csv``."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([name for name, _, _ in COLUMNS])
    numbers = NUMBER_COLUMNS
    # unit and indicator names, words and points recur on every unit: convert each once
    cells: dict[tuple[bool, object], str] = {}

    def cell(k: int, value: object) -> str:
        key = (k in numbers, value)
        found = cells.get(key)
        if found is None:
            if value is None:
                found = ""
            else:
                found = number_text(value) if key[0] else safe_cell(value)  # type: ignore[arg-type]
            cells[key] = found
        return found

    writer.writerows(
        [cell(k, v) for k, v in enumerate(row)]
        for row in _rows(_block_units(marts, block), indicators)
    )
    return b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8")


# --- the workbook ----------------------------------------------------------------------------

_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_CONTENT_TYPES = (
    _XML + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
    'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.'
    'openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.styles+xml"/></Types>'
)
_ROOT_RELS = (
    _XML + f'<Relationships xmlns="{_PKG_REL_NS}"><Relationship Id="rId1" '
    f'Type="{_REL_NS}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK_RELS = (
    _XML + f'<Relationships xmlns="{_PKG_REL_NS}">'
    f'<Relationship Id="rId1" Type="{_REL_NS}/worksheet" Target="worksheets/sheet1.xml"/>'
    f'<Relationship Id="rId2" Type="{_REL_NS}/styles" Target="styles.xml"/></Relationships>'
)
# cell styles: 0 text, 1 number "0.00" (built-in format 2), 2 bold header, 3 grey italic names
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
    '<cellXfs count="4"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="2" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="0" fontId="1" fillId="2" borderId="0" xfId="0" applyFont="1" '
    'applyFill="1"/>'
    '<xf numFmtId="0" fontId="2" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)
# characters XML 1.0 does not allow (a control character in a note would break the file)
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


_LETTERS = [_letter(i) for i in range(len(COLUMNS))]


def _xml_text(text: str) -> str:
    text = _NOT_XML.sub("", text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _text_cell(ref: str, text: str, style: int = 0) -> str:
    s = f' s="{style}"' if style else ""
    return (
        f'<c r="{ref}"{s} t="inlineStr"><is><t xml:space="preserve">{_xml_text(text)}</t></is></c>'
    )


def _sheet(rows: Iterator[tuple]) -> tuple[str, int]:
    """The worksheet XML and the number of data rows."""
    letters, numbers = _LETTERS, NUMBER_COLUMNS
    widths = [len(vi) + 2 for _, vi, _ in COLUMNS]
    body = [
        '<row r="1">'
        + "".join(_text_cell(f"{letters[k]}1", vi, 2) for k, (_, vi, _) in enumerate(COLUMNS))
        + "</row>",
        '<row r="2">'
        + "".join(_text_cell(f"{letters[k]}2", n, 3) for k, (n, _, _) in enumerate(COLUMNS))
        + "</row>",
    ]
    # the part of a cell after its reference, per column and value (names and points recur)
    contents: dict[tuple[int, object], str] = {}
    count = 0
    for count, row in enumerate(rows, start=1):
        r = count + 2
        cells = []
        for k, value in enumerate(row):
            if value is None:
                continue
            content = contents.get((k, value))
            if content is None:
                if k in numbers:
                    content = f' s="1"><v>{number_text(value)}</v></c>'
                else:
                    text = safe_cell(value)
                    widths[k] = max(widths[k], len(text) + 2)
                    content = (
                        f' t="inlineStr"><is><t xml:space="preserve">{_xml_text(text)}</t></is></c>'
                    )
                contents[(k, value)] = content
            cells.append(f'<c r="{letters[k]}{r}"{content}')
        body.append(f'<row r="{r}">{"".join(cells)}</row>')
        if len(contents) > 200_000:  # evidence references are mostly unique: bound the memo
            contents.clear()
    cols = "".join(
        f'<col min="{k + 1}" max="{k + 1}" width="{min(max(w, 8), 60)}" customWidth="1"/>'
        for k, w in enumerate(widths)
    )
    last = f"{letters[-1]}{count + 2}"
    sheet = (
        _XML + f'<worksheet {_NS} xmlns:r="{_REL_NS}"><dimension ref="A1:{last}"/>'
        '<sheetViews><sheetView workbookViewId="0"><pane xSplit="2" ySplit="2" '
        'topLeftCell="C3" activePane="bottomRight" state="frozen"/></sheetView></sheetViews>'
        f"<cols>{cols}</cols><sheetData>{''.join(body)}</sheetData>"
        f'<autoFilter ref="A2:{last}"/></worksheet>'
    )
    return sheet, count


def answers_xlsx(
    marts: PeriodMarts, block: str, indicators: Mapping[str, Sequence[IndicatorPoints]]
) -> bytes:
    """The CSV's rows as a workbook (sheet ``Trả lời``): Vietnamese headers in row 1, the CSV's
    column names in row 2, numbers as numbers (``0.00``), the same formula guard."""
    sheet, _ = _sheet(_rows(_block_units(marts, block), indicators))
    workbook = (
        _XML + f'<workbook {_NS} xmlns:r="{_REL_NS}"><sheets>'
        f'<sheet name="{_xml_text(SHEET)}" sheetId="1" r:id="rId1"/></sheets></workbook>'
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as package:
        for name, text in (
            ("[Content_Types].xml", _CONTENT_TYPES),
            ("_rels/.rels", _ROOT_RELS),
            ("xl/workbook.xml", workbook),
            ("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS),
            ("xl/styles.xml", _STYLES),
            ("xl/worksheets/sheet1.xml", sheet),
        ):
            entry = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o600 << 16
            package.writestr(entry, text.encode("utf-8"))
    return out.getvalue()


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
