"""results.json and results_<block>.csv exactly as docs/spec/results.md §8 describes them."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path

from publish.jsontext import dumps
from publish.marts import PeriodMarts, UnitScore
from publish.numbers import number_text

# Excel, LibreOffice and Google Sheets run a cell starting with these as a formula; a control
# character (tab, carriage return, DDE's start) is treated alike. Leading spaces are skipped,
# as some importers trim them.
_FORMULA_START = ("=", "+", "-", "@")


# docs/spec/results.md §6a, in the order results.json and the CSVs list them
MARGIN_FIELDS = (
    "next_level",
    "points_to_next_level",
    "points_to_drop_level",
    "points_to_next_rank",
    "points_to_drop_rank",
)


def unit_order(unit: UnitScore) -> tuple:
    """Block, then rank, then unit_code; units that submitted nothing last in their block."""
    return (unit.block, not unit.scored, unit.rank if unit.rank is not None else 0, unit.unit_code)


def framework_version(marts: PeriodMarts) -> str:
    versions = sorted({u.framework_version for u in marts.units})
    return versions[0] if len(versions) == 1 else ", ".join(versions)


def previous_document(unit: UnitScore) -> dict | None:
    """docs/spec/results.md §8.1 ``previous``: what the unit is compared with a period before."""
    before = unit.previous
    if before is None:
        return None
    return {
        "period": before.period,
        "method": before.method,
        "percent": before.percent,
        "level": before.level,
        "rank": before.rank,
        "compared": [
            {
                "unit_code": c.unit_code,
                "unit_name": c.unit_name,
                "share_pct": c.weight * 100,
                "percent": c.percent,
                "level": c.level,
                "rank": c.rank,
            }
            for c in before.compared
        ],
    }


def trend_document(unit: UnitScore) -> list[dict]:
    """docs/spec/results.md §8.1.2 ``trend``: the unit's result in every period up to this one,
    through its predecessors for the periods before it existed."""
    return [
        {
            "period": point.period,
            "method": point.method,
            "percent": point.percent,
            "level": point.level,
            "rank": point.rank,
        }
        for point in unit.trend
    ]


def unit_document(unit: UnitScore) -> dict:
    document = _unit_fields(unit)
    previous = previous_document(unit)
    if previous is not None:  # absent, not null, when there is nothing to compare with
        document["previous"] = previous
    if unit.trend:  # absent in a warehouse without the trend mart, or with nothing scored
        document["trend"] = trend_document(unit)
    return document


def _unit_fields(unit: UnitScore) -> dict:
    return {
        "unit_code": unit.unit_code,
        "unit_name": unit.unit_name,
        "block": unit.block,
        "status": unit.status,
        "total_score": unit.total_score,
        "self_score": unit.self_score,
        "applicable_max": unit.applicable_max,
        "percent": unit.percent,
        "level": unit.level,
        "rank": unit.rank,
        "rank_group": unit.rank_group,
        "rank_group_name": unit.rank_group_name,
        "not_ranked_reason": unit.not_ranked_reason,
        "pillars": [
            {
                "pillar_code": p.pillar_code,
                "pillar_name": p.pillar_name,
                "score": p.score,
                "max_points": p.max_points,
                "rank": p.rank,
            }
            for p in unit.pillars
        ],
        "unanswered": list(unit.unanswered),
        "late": unit.is_late,
        "margins": {field: getattr(unit.margins, field) for field in MARGIN_FIELDS},
    }


def results_document(marts: PeriodMarts) -> dict:
    return {
        "period": marts.period,
        "framework_version": framework_version(marts),
        "units": [unit_document(u) for u in sorted(marts.units, key=unit_order)],
    }


def results_json(marts: PeriodMarts) -> bytes:
    return dumps(results_document(marts)).encode("utf-8")


def load_results(path: Path) -> dict | None:
    """A published results.json with its numbers as ``Decimal`` (``None`` if absent)."""
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal, parse_int=Decimal)


def safe_cell(text: str) -> str:
    """Text a spreadsheet shows as text: a cell starting (after spaces) with ``= + - @`` or a
    control character gets an apostrophe. The XLSX cells' guard (they are inline strings,
    never formulas, but a cell edited and entered again would be read anew)."""
    first = text.lstrip(" ")[:1]
    if first and (first in _FORMULA_START or first < " " or "\x7f" <= first <= "\x9f"):
        return "'" + text
    return text


def csv_cell(text: str) -> str:
    """A CSV text cell guarded for both list separators: a Vietnamese-locale Excel splits the
    file on ``;``, so every ``;``-separated part is guarded as a cell of its own
    (``Biên bản 12;=HYPERLINK(…)`` becomes ``Biên bản 12;'=HYPERLINK(…)``)."""
    if ";" not in text:
        return safe_cell(text)
    return ";".join(safe_cell(part) for part in text.split(";"))


def _num(value: Decimal | int | None) -> str:
    if value is None:
        return ""
    return number_text(Decimal(value))


def block_inputs(marts: PeriodMarts, block: str) -> tuple:
    """What ``results_csv`` and ``spreadsheet.results_xlsx`` read for ``block`` besides the
    block's units (whole): a revision elsewhere leaves the block's files as they are."""
    return (marts.period, block)


def results_csv(marts: PeriodMarts, block: str) -> bytes:
    """One row per unit of the block, pillars as columns, UTF-8 with BOM for Excel."""
    units = sorted(marts.block_units(block), key=unit_order)
    pillar_codes: list[str] = []
    for unit in units:
        for p in sorted(unit.pillars, key=lambda p: (p.sort_order, p.pillar_code)):
            if p.pillar_code not in pillar_codes:
                pillar_codes.append(p.pillar_code)
    header = [
        "unit_code",
        "unit_name",
        "block",
        "status",
        "total_score",
        "self_score",
        "applicable_max",
        "percent",
        "level",
        "rank",
        "rank_group",
        "rank_group_name",
        "late",
        "unanswered",
        *MARGIN_FIELDS,
    ]
    for code in pillar_codes:
        header += [f"{code}_score", f"{code}_max", f"{code}_rank"]
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([csv_cell(h) for h in header])
    for unit in units:
        by_code = {p.pillar_code: p for p in unit.pillars}
        row = [
            csv_cell(unit.unit_code),
            csv_cell(unit.unit_name),
            csv_cell(unit.block),
            csv_cell(unit.status),
            _num(unit.total_score),
            _num(unit.self_score),
            _num(unit.applicable_max),
            _num(unit.percent),
            csv_cell(unit.level or ""),
            "" if unit.rank is None else str(unit.rank),
            csv_cell(unit.rank_group),
            csv_cell(unit.rank_group_name),
            "true" if unit.is_late else "false",
            csv_cell(";".join(unit.unanswered)),
            csv_cell(unit.margins.next_level or ""),
            *(_num(getattr(unit.margins, field)) for field in MARGIN_FIELDS[1:]),
        ]
        for code in pillar_codes:
            pillar = by_code.get(code)
            row += (
                [_num(pillar.score), _num(pillar.max_points), _num(pillar.rank)]
                if pillar
                else ["", "", ""]
            )
        writer.writerow(row)
    return b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8")
