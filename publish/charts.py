"""Charts as inline SVG text, drawn in Python: no JavaScript, nothing fetched, prints well.

Geometry is computed in ``Decimal`` like the scores; every label is HTML-escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from html import escape

from publish.marts import Level
from publish.numbers import number_text, vn_number

# A level's colour is the registry's (levels.csv through marts.dim_levels); these are for marks
# without a level (not submitted, no framework).
NEUTRAL = "#6b7280"
MEDIAN = "#111827"


def _n(value: Decimal | int) -> str:
    return number_text(Decimal(value))


def _frame(width: int, height: int, chart_id: str, title: str, desc: str, body: list[str]) -> str:
    return (
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-labelledby="{chart_id}-title {chart_id}-desc">'
        f'<title id="{chart_id}-title">{escape(title)}</title>'
        f'<desc id="{chart_id}-desc">{escape(desc)}</desc>' + "".join(body) + "</svg>"
    )


def _band_colour(percent: Decimal, levels: Sequence[Level]) -> str:
    for level in levels:
        if level.covers(percent):
            return level.colour
    return NEUTRAL


def distribution_chart(
    percents: Sequence[Decimal],
    levels: Sequence[Level],
    chart_id: str,
    title: str,
    bin_width: int = 10,
) -> str:
    """Histogram of units by percent of their maximum, bins of ``bin_width`` points.

    Bars take the colour of the level whose band (``marts.dim_levels``, lowest first) holds
    their lower bound; dashed lines mark where each level above the lowest starts.
    """
    width, height = 640, 260
    left, right, top, bottom = 44, 16, 24, 46
    plot_w, plot_h = width - left - right, height - top - bottom
    bins = list(range(0, 100, bin_width))
    counts = [0] * len(bins)
    for p in percents:
        index = min(int(p // bin_width), len(bins) - 1)
        counts[max(index, 0)] += 1
    top_count = max(max(counts, default=0), 1)
    bar_w = Decimal(plot_w) / len(bins)
    body = [
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
        'stroke="#374151" stroke-width="1"/>'
    ]
    for step in range(0, top_count + 1, max(1, (top_count + 3) // 4)):
        y = top + plot_h - Decimal(plot_h) * step / top_count
        body.append(
            f'<line x1="{left}" y1="{_n(y)}" x2="{left + plot_w}" y2="{_n(y)}" '
            'stroke="#e5e7eb" stroke-width="1"/>'
            f'<text x="{left - 6}" y="{_n(y + 4)}" text-anchor="end" class="axis">{step}</text>'
        )
    for i, (low, count) in enumerate(zip(bins, counts, strict=True)):
        x = left + bar_w * i
        bar_h = Decimal(plot_h) * count / top_count
        colour = _band_colour(Decimal(low), levels)
        label = f"{low}–{low + bin_width} %: {count} đơn vị"
        if count:
            body.append(
                f'<rect x="{_n(x + 3)}" y="{_n(top + plot_h - bar_h)}" width="{_n(bar_w - 6)}" '
                f'height="{_n(bar_h)}" fill="{colour}"><title>{escape(label)}</title></rect>'
                f'<text x="{_n(x + bar_w / 2)}" y="{_n(top + plot_h - bar_h - 5)}" '
                f'text-anchor="middle" class="value">{count}</text>'
            )
        body.append(
            f'<text x="{_n(x + bar_w / 2)}" y="{top + plot_h + 16}" text-anchor="middle" '
            f'class="axis">{low}–{low + bin_width}</text>'
        )
    for threshold in (level.from_pct for level in levels[1:]):
        x = left + Decimal(plot_w) * threshold / 100
        body.append(
            f'<line x1="{_n(x)}" y1="{top - 8}" x2="{_n(x)}" y2="{top + plot_h}" '
            'stroke="#111827" stroke-width="1.5" stroke-dasharray="5 4"/>'
            f'<text x="{_n(x + 4)}" y="{top - 10}" class="axis">{vn_number(threshold)} %</text>'
        )
    body.append(
        f'<text x="{left + plot_w // 2}" y="{height - 8}" text-anchor="middle" class="axis">'
        "Tỷ lệ điểm đạt so với điểm tối đa (%)</text>"
    )
    desc = "; ".join(
        f"{low}–{low + bin_width} %: {count} đơn vị"
        for low, count in zip(bins, counts, strict=True)
        if count
    )
    return _frame(width, height, chart_id, title, desc or "Không có đơn vị được chấm điểm", body)


@dataclass(frozen=True)
class PillarBar:
    name: str
    percent: Decimal
    median_percent: Decimal | None


@lru_cache(maxsize=1 << 16)  # text of a value only: equal percents give the same text
def _bar_width(percent: Decimal, plot_w: int) -> str:
    return _n(Decimal(plot_w) * min(max(percent, Decimal(0)), Decimal(100)) / 100)


@lru_cache(maxsize=1 << 12)
def _median_x(median_percent: Decimal, label_w: int, plot_w: int) -> str:
    return _n(label_w + Decimal(plot_w) * min(median_percent, Decimal(100)) / 100)


def pillar_chart(bars: Sequence[PillarBar], chart_id: str, title: str, level: Level | None) -> str:
    """Horizontal bars: the unit's percent per pillar, a black tick at the block's median;
    the bars take the colour of the unit's level (``None``: no level, neutral)."""
    row_h, label_w, plot_w, right = 34, 230, 360, 70
    top = 30
    width = label_w + plot_w + right
    height = top + row_h * len(bars) + 34
    colour = level.colour if level is not None else NEUTRAL
    body = [
        f'<rect x="{label_w}" y="6" width="14" height="12" fill="{colour}"/>'
        f'<text x="{label_w + 20}" y="16" class="axis">Đơn vị</text>'
        f'<line x1="{label_w + 90}" y1="4" x2="{label_w + 90}" y2="20" stroke="{MEDIAN}" '
        'stroke-width="3"/>'
        f'<text x="{label_w + 98}" y="16" class="axis">Trung vị của khối</text>'
    ]
    for i, bar in enumerate(bars):
        y = top + row_h * i
        w = _bar_width(bar.percent, plot_w)
        body.append(
            f'<text x="{label_w - 8}" y="{y + 21}" text-anchor="end" class="label">'
            f"{escape(bar.name)}</text>"
            f'<rect x="{label_w}" y="{y + 8}" width="{plot_w}" height="18" fill="#f3f4f6"/>'
            f'<rect x="{label_w}" y="{y + 8}" width="{w}" height="18" fill="{colour}">'
            f"<title>{escape(bar.name)}: {vn_number(bar.percent)} %</title></rect>"
            f'<text x="{label_w + plot_w + 8}" y="{y + 21}" class="value">'
            f"{vn_number(bar.percent)} %</text>"
        )
        if bar.median_percent is not None:
            mx = _median_x(bar.median_percent, label_w, plot_w)
            body.append(
                f'<line x1="{mx}" y1="{y + 3}" x2="{mx}" y2="{y + 31}" '
                f'stroke="{MEDIAN}" stroke-width="3"><title>Trung vị của khối: '
                f"{vn_number(bar.median_percent)} %</title></line>"
            )
    axis_y = top + row_h * len(bars) + 16
    for tick in (0, 20, 40, 60, 80, 100):
        x = label_w + Decimal(plot_w) * tick / 100
        body.append(
            f'<text x="{_n(x)}" y="{axis_y}" text-anchor="middle" class="axis">{tick}</text>'
        )
    desc = "; ".join(
        f"{b.name}: {vn_number(b.percent)} %"
        + (
            f" (trung vị khối {vn_number(b.median_percent)} %)"
            if b.median_percent is not None
            else ""
        )
        for b in bars
    )
    return _frame(width, height, chart_id, title, desc, body)
