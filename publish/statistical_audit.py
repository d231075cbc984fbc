"""``audit/thong-ke.html`` and ``audit/thong-ke.json``: the statistical audit of the index
(kiểm định thống kê, docs/spec/results.md §8.6).

The figures are computed in the warehouse (``marts.fct_indicator_audit``,
``marts.fct_pillar_audit``); this module reads them, marks what a council should look at
before it keeps an indicator for next year (the thresholds are settings: ``DTI_AUDIT_*``),
and writes the same figures as a page (from ``templates/thong-ke.html``) and as JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path

import duckdb
import jinja2

from publish.jsontext import dumps
from publish.numbers import vn_number

FOLDER = "audit"
PAGE = f"{FOLDER}/thong-ke.html"
FIGURES = f"{FOLDER}/thong-ke.json"
TEMPLATES = Path(__file__).resolve().parent / "templates"

# what a flag means, in the words of the page
FLAG_WORDS = {
    "constant": "không phân hóa: mọi đơn vị cùng một điểm",
    "extreme": "ít phân hóa: phần lớn đơn vị ở điểm 0 hoặc điểm tối đa",
    "negative": "tương quan âm với chỉ số chính hoặc tổng điểm",
    "weak": "tương quan với tổng điểm gần bằng 0",
    "low_alpha": "các chỉ số thành phần ít nhất quán (Cronbach's alpha thấp)",
}


@dataclass(frozen=True)
class Thresholds:
    """When a figure is flagged (``Settings.audit_*``)."""

    weak_correlation: Decimal  # |correlation with the total| below this
    extreme_share_pct: Decimal  # share of units at zero, or at the maximum, from this
    min_alpha: Decimal  # a pillar's Cronbach's alpha below this


@dataclass(frozen=True)
class IndicatorFigures:
    block: str
    framework_version: str
    pillar_code: str
    indicator_code: str
    indicator_name: str
    max_points: Decimal
    nominal_weight: Decimal | None
    units: int
    pct_at_zero: Decimal
    pct_at_max: Decimal
    mean_points: Decimal
    sd_points: Decimal
    corr_pillar: Decimal | None
    corr_total: Decimal | None
    effective_weight: Decimal | None
    ranks_moved: int
    max_rank_shift: int


@dataclass(frozen=True)
class PillarFigures:
    block: str
    framework_version: str
    pillar_code: str
    indicators: int
    units: int
    cronbach_alpha: Decimal | None


@dataclass(frozen=True)
class StatisticalAudit:
    indicators: tuple[IndicatorFigures, ...]
    pillars: tuple[PillarFigures, ...]

    def blocks(self) -> tuple[str, ...]:
        return tuple(sorted({i.block for i in self.indicators}))


def read_statistical_audit(con: duckdb.DuckDBPyConnection, period: int) -> StatisticalAudit | None:
    """The period's audit marts, or None for a warehouse built before they existed."""
    try:
        indicators = con.execute(
            """
            select block, framework_version, pillar_code, indicator_code, indicator_name,
                max_points, nominal_weight, units, pct_at_zero, pct_at_max, mean_points,
                cast(sd_points as decimal(18, 4)), cast(corr_pillar as decimal(9, 4)),
                cast(corr_total as decimal(9, 4)), cast(effective_weight as decimal(9, 4)),
                ranks_moved, max_rank_shift
            from marts.fct_indicator_audit
            where period = ?
            order by block, indicator_code
            """,
            [period],
        ).fetchall()
        pillars = con.execute(
            """
            select block, framework_version, pillar_code, indicators, units,
                cast(cronbach_alpha as decimal(9, 4))
            from marts.fct_pillar_audit
            where period = ?
            order by block, pillar_code
            """,
            [period],
        ).fetchall()
    except duckdb.CatalogException:
        return None
    return StatisticalAudit(
        tuple(IndicatorFigures(*row) for row in indicators),
        tuple(PillarFigures(*row) for row in pillars),
    )


def indicator_flags(figures: IndicatorFigures, thresholds: Thresholds) -> list[str]:
    """What a council should look at on this indicator (keys of ``FLAG_WORDS``)."""
    flags = []
    if figures.sd_points == 0:
        flags.append("constant")
    elif max(figures.pct_at_zero, figures.pct_at_max) >= thresholds.extreme_share_pct:
        flags.append("extreme")
    correlations = [c for c in (figures.corr_pillar, figures.corr_total) if c is not None]
    if any(c < 0 for c in correlations):
        flags.append("negative")
    if figures.corr_total is not None and abs(figures.corr_total) < thresholds.weak_correlation:
        flags.append("weak")
    return flags


def pillar_flags(figures: PillarFigures, thresholds: Thresholds) -> list[str]:
    alpha = figures.cronbach_alpha
    return ["low_alpha"] if alpha is not None and alpha < thresholds.min_alpha else []


def audit_document(
    period: int,
    audit: StatisticalAudit,
    thresholds: Thresholds,
    pillar_names: Mapping[tuple[str, str], str],
) -> dict:
    """The figures of ``thong-ke.json`` (and of the page), per block: the pillars with their
    alpha, the indicators with their figures, each with its flags."""
    blocks = []
    for block in audit.blocks():
        pillars = [p for p in audit.pillars if p.block == block]
        indicators = [i for i in audit.indicators if i.block == block]
        blocks.append(
            {
                "block": block,
                "framework_version": indicators[0].framework_version,
                "pillars": [
                    {
                        **{k: _number(v) for k, v in asdict(p).items() if k != "block"},
                        "pillar_name": pillar_names.get((block, p.pillar_code), p.pillar_code),
                        "flags": pillar_flags(p, thresholds),
                    }
                    for p in pillars
                ],
                "indicators": [
                    {
                        **{k: _number(v) for k, v in asdict(i).items() if k != "block"},
                        "flags": indicator_flags(i, thresholds),
                    }
                    for i in indicators
                ],
            }
        )
    return {
        "period": period,
        "thresholds": {k: _number(v) for k, v in asdict(thresholds).items()},
        "flag_words": FLAG_WORDS,
        "blocks": blocks,
    }


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters["vn"] = figure_text
    return env


def figure_text(value: object) -> str:
    """A figure in Vietnamese writing with the decimals it has (at most 4): ``0,9449``, ``6``."""
    if value is None:
        return "—"
    exact = Decimal(str(value)).normalize()
    return vn_number(exact, max(0, min(4, -int(exact.as_tuple().exponent))))


def _number(value: object) -> object:
    """A ``Decimal`` figure as JSON writes it: an int when whole, else the float of its text
    (``publish.jsontext`` writes a ``Decimal`` with 2 decimals; the figures have 4)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def render_files(
    document: dict, block_names: Mapping[str, str], anchors: Mapping[str, str], publication: str
) -> dict[str, bytes]:
    """The page and the JSON of the same figures, by path in the release; ``anchors``: each
    block's section id (the index links ``thong-ke.html#<anchor>``)."""
    page = (
        _environment()
        .get_template("thong-ke.html")
        .render(audit=document, block_names=block_names, anchors=anchors, publication=publication)
    )
    return {PAGE: page.encode("utf-8"), FIGURES: dumps(document).encode("utf-8")}
