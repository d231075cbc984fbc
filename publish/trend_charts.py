"""Trend charts across the published periods, as inline SVG (the style of ``publish.charts``).

A unit's chart draws its percent in every period up to the page's, over the level bands of
the framework each point was scored under (``marts.dim_levels``); a point read from the
unit's predecessors (``predecessor``, ``weighted_mean``) is hollow and its segment dashed. A
block's chart draws, per period, the range of its units' percents and their median over the
bands, and the count of units per level. Each mark carries ``data-`` attributes with the
exact values, each chart a ``<title>`` and ``<desc>``; the pages put the same values in a
table beside the chart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from html import escape

from publish.charts import MEDIAN, NEUTRAL, _frame, _n
from publish.marts import Level, TrendPoint
from publish.numbers import number_text, vn_number

# What a point read from the predecessors is called on the pages.
METHOD_WORDS = {
    "same_unit": "kết quả của chính đơn vị",
    "predecessor": "kết quả của đơn vị tiền thân",
    "weighted_mean": "bình quân gia quyền tỷ lệ của các đơn vị tiền thân",
}

WIDTH, HEIGHT = 640, 280
LEFT, RIGHT, TOP, BOTTOM = 48, 24, 24, 48
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM


def _y(percent: Decimal) -> Decimal:
    clamped = min(max(percent, Decimal(0)), Decimal(100))
    return TOP + Decimal(PLOT_H) * (100 - clamped) / 100


def _column(index: int, columns: int) -> tuple[Decimal, Decimal]:
    """Left edge and width of a period's column."""
    width = Decimal(PLOT_W) / max(columns, 1)
    return LEFT + width * index, width


@lru_cache(maxsize=1024)  # the same few frameworks and column counts on 10,000 unit pages
def _bands(index: int, columns: int, levels: tuple[Level, ...]) -> tuple[str, ...]:
    """The level bands of one period's column, each with the band in its title."""
    x, width = _column(index, columns)
    body = []
    for level in levels:
        high = level.below_pct if level.below_pct is not None else Decimal(100)
        y_top, y_bottom = _y(high), _y(level.from_pct)
        band = f"{vn_number(level.from_pct)}–{vn_number(high)} %"
        body.append(
            f'<rect class="band" data-level="{escape(level.level)}" x="{_n(x)}" '
            f'y="{_n(y_top)}" width="{_n(width)}" height="{_n(y_bottom - y_top)}" '
            f'fill="{level.background}">'
            f"<title>{escape(level.level_name)}: {band}</title></rect>"
        )
    return tuple(body)


@lru_cache(maxsize=1024)  # units with the same periods share their axes
def _axes(
    periods: tuple[int, ...], marks: tuple[str, ...] = (), title_y: int | None = None
) -> tuple[str, ...]:
    body = []
    for tick in (0, 20, 40, 60, 80, 100):
        y = _y(Decimal(tick))
        body.append(
            f'<line x1="{LEFT}" y1="{_n(y)}" x2="{LEFT + PLOT_W}" y2="{_n(y)}" '
            'stroke="#d1d5db" stroke-width="0.5"/>'
            f'<text x="{LEFT - 6}" y="{_n(y + 4)}" text-anchor="end" class="axis">{tick}</text>'
        )
    for i, period in enumerate(periods):
        x, width = _column(i, len(periods))
        mark = marks[i] if i < len(marks) else ""
        body.append(
            f'<text x="{_n(x + width / 2)}" y="{TOP + PLOT_H + 18}" text-anchor="middle" '
            f'class="axis">{period}{escape(mark)}</text>'
        )
    body.append(
        f'<text x="{LEFT + PLOT_W // 2}" y="{title_y or HEIGHT - 8}" text-anchor="middle" '
        'class="axis">Tỷ lệ điểm đạt so với điểm tối đa (%) theo kỳ đánh giá</text>'
    )
    return tuple(body)


def unit_trend_chart(
    points: Sequence[TrendPoint],
    levels: Mapping[tuple[str, str], Sequence[Level]],
    chart_id: str,
    title: str,
) -> str:
    """The unit's percent per period (``points``, oldest first) over each period's level bands
    (``levels`` by framework version and block, lowest first)."""
    periods = tuple(p.period for p in points)
    marks = tuple("*" if p.method != "same_unit" else "" for p in points)
    body: list[str] = []
    for i, point in enumerate(points):
        bands = levels.get((point.framework_version, point.block), ())
        body.extend(_bands(i, len(points), tuple(bands)))
    body.extend(_axes(periods, marks))
    centres = []
    for i, point in enumerate(points):
        x, width = _column(i, len(points))
        centres.append((x + width / 2, point))
    for (x1, a), (x2, b) in zip(centres, centres[1:], strict=False):
        if a.percent is None or b.percent is None:
            continue
        dashed = ' stroke-dasharray="6 4"' if a.method != "same_unit" else ""
        body.append(
            f'<line x1="{_n(x1)}" y1="{_n(_y(a.percent))}" x2="{_n(x2)}" '
            f'y2="{_n(_y(b.percent))}" stroke="{MEDIAN}" stroke-width="2"{dashed}/>'
        )
    for x, point in centres:
        if point.percent is None:
            continue
        bands = levels.get((point.framework_version, point.block), ())
        colour = next((lv.colour for lv in bands if lv.level == point.level), NEUTRAL)
        own = point.method == "same_unit"
        fill = colour if own else "#ffffff"
        label = f"{point.period}: {vn_number(point.percent)} % — {point.level_name or '—'}" + (
            "" if own else f" ({METHOD_WORDS.get(point.method, point.method)})"
        )
        y = _y(point.percent)
        body.append(
            f'<circle class="point" data-period="{point.period}" '
            f'data-percent="{number_text(point.percent)}" data-method="{escape(point.method)}" '
            f'data-level="{escape(point.level or "")}" cx="{_n(x)}" cy="{_n(y)}" r="6" '
            f'fill="{fill}" stroke="{colour}" stroke-width="3">'
            f"<title>{escape(label)}</title></circle>"
            f'<text x="{_n(x)}" y="{_n(y - 12)}" text-anchor="middle" class="value">'
            f"{vn_number(point.percent)}</text>"
        )
    desc = "; ".join(
        f"{p.period}: {vn_number(p.percent)} %, {p.level_name or '—'}"
        + ("" if p.method == "same_unit" else f" ({METHOD_WORDS.get(p.method, p.method)})")
        for p in points
        if p.percent is not None
    )
    return _frame(WIDTH, HEIGHT, chart_id, title, desc or "Chưa có kết quả", body)


BLOCK_HEIGHT = HEIGHT + 44  # room for the counts per level and their legend


@dataclass(frozen=True)
class BlockColumn:
    """One period of a block's trend: its scored units' percents and count per level."""

    period: int
    levels: tuple[Level, ...]  # the bands of the period's framework, lowest first
    low: Decimal | None
    median: Decimal | None
    high: Decimal | None
    scored: int
    level_counts: Mapping[str, int]


def block_trend_chart(columns: Sequence[BlockColumn], chart_id: str, title: str) -> str:
    """Per period: the range of the block's percents (a bar from lowest to highest), the
    median (a black tick) over the level bands, and under each period its count of units per
    level, highest level first, in the levels' colours."""
    body: list[str] = []
    for i, column in enumerate(columns):
        body.extend(_bands(i, len(columns), tuple(column.levels)))
    body.extend(_axes(tuple(c.period for c in columns), title_y=BLOCK_HEIGHT - 30))
    for i, column in enumerate(columns):
        x, width = _column(i, len(columns))
        centre = x + width / 2
        if column.low is not None and column.high is not None and column.median is not None:
            y_low, y_high, y_mid = _y(column.low), _y(column.high), _y(column.median)
            summary = (
                f"{column.period}: {column.scored} đơn vị, thấp nhất {vn_number(column.low)} %, "
                f"trung vị {vn_number(column.median)} %, cao nhất {vn_number(column.high)} %"
            )
            body.append(
                f'<g class="period" data-period="{column.period}" '
                f'data-scored="{column.scored}" data-low="{number_text(column.low)}" '
                f'data-median="{number_text(column.median)}" '
                f'data-high="{number_text(column.high)}"><title>{escape(summary)}</title>'
                f'<rect x="{_n(centre - 9)}" y="{_n(y_high)}" width="18" '
                f'height="{_n(max(y_low - y_high, Decimal(1)))}" fill="{NEUTRAL}" '
                'fill-opacity="0.55"/>'
                f'<line x1="{_n(centre - 18)}" y1="{_n(y_mid)}" x2="{_n(centre + 18)}" '
                f'y2="{_n(y_mid)}" stroke="{MEDIAN}" stroke-width="3"/>'
                f'<text x="{_n(centre + 22)}" y="{_n(y_mid + 4)}" class="value">'
                f"{vn_number(column.median)}</text></g>"
            )
        # units per level under the period, highest level first, each in its level's colour
        ordered = sorted(column.levels, key=lambda lv: -lv.sort_order)
        spans = "".join(
            f'<tspan class="count" data-period="{column.period}" '
            f'data-level="{escape(level.level)}" '
            f'data-count="{column.level_counts.get(level.level, 0)}" '
            f'fill="{level.colour}">'
            f"{'' if n == 0 else ' · '}■ {column.level_counts.get(level.level, 0)}</tspan>"
            for n, level in enumerate(ordered)
        )
        body.append(
            f'<text x="{_n(centre)}" y="{TOP + PLOT_H + 38}" text-anchor="middle" '
            f'class="value">{spans}</text>'
        )
    # the legend of the counts' colours
    legend_levels = max((c.levels for c in columns), key=len, default=())
    legend = "".join(
        f'<tspan fill="{lv.colour}">■</tspan><tspan> {escape(lv.level_name)}   </tspan>'
        for lv in sorted(legend_levels, key=lambda lv: -lv.sort_order)
    )
    body.append(
        f'<text x="{LEFT + PLOT_W // 2}" y="{BLOCK_HEIGHT - 8}" text-anchor="middle" '
        f'class="axis">Số đơn vị theo mức độ: {legend}</text>'
    )
    desc = "; ".join(
        f"{c.period}: {c.scored} đơn vị"
        + (
            f", thấp nhất {vn_number(c.low)} %, trung vị {vn_number(c.median)} %, "
            f"cao nhất {vn_number(c.high)} %"
            if c.median is not None and c.low is not None and c.high is not None
            else ""
        )
        + "".join(
            f", {lv.level_name} {c.level_counts.get(lv.level, 0)}"
            for lv in sorted(c.levels, key=lambda lv: -lv.sort_order)
        )
        for c in columns
    )
    return _frame(WIDTH, BLOCK_HEIGHT, chart_id, title, desc or "Chưa có kết quả", body)
