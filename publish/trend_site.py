"""The trend sections of the site: a unit's results across the periods on its page, a block's on
the period's index. Each is a chart (``publish.trend_charts``) and a table of the same values
beside it, so a screen reader and a printout read what the chart draws.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from html import escape

from publish.marts import Level, PeriodMarts, TrendPoint, UnitScore
from publish.numbers import median, vn_number
from publish.trend_charts import METHOD_WORDS, BlockColumn, block_trend_chart, unit_trend_chart

TrendLevels = tuple[tuple[tuple[str, str], tuple[Level, ...]], ...]


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _percent(value: Decimal | None) -> str:
    return "—" if value is None else vn_number(value, 2)


def trend_levels(marts: PeriodMarts, unit: UnitScore) -> TrendLevels:
    """The level bands (``marts.dim_levels``) of every framework the unit's trend points were
    scored under, by (framework version, block): part of the unit page's inputs."""
    wanted = {(p.framework_version, p.block) for p in unit.trend}
    return tuple(
        sorted(
            ((fw.framework_version, fw.block), fw.levels)
            for fw in marts.frameworks
            if (fw.framework_version, fw.block) in wanted
        )
    )


def unit_trend_section(
    period: int, unit_name: str, points: Sequence[TrendPoint], levels: TrendLevels
) -> str:
    """The unit page's section: the chart and the table of every period up to ``period``."""
    if not points:
        return (
            '<section aria-labelledby="h-trend"><h2 id="h-trend">Qua các kỳ đánh giá</h2>'
            '<p class="trend-none">Chưa có kết quả nào của đơn vị để vẽ xu hướng.</p></section>'
        )
    chart = unit_trend_chart(
        points, dict(levels), chart_id="xu-huong", title=f"Tỷ lệ điểm qua các năm — {unit_name}"
    )
    rows = "".join(
        f'<tr data-period="{p.period}" data-method="{_e(p.method)}">'
        f'<th scope="row">{p.period}</th><td class="num">{_percent(p.percent)}</td>'
        f'<td data-level="{_e(p.level or "")}">{_e(p.level_name or "—")}</td>'
        f'<td class="num">{p.rank if p.rank is not None else "—"}</td>'
        f"<td>{_e(METHOD_WORDS.get(p.method, p.method))}</td></tr>"
        for p in points
    )
    through = any(p.method != "same_unit" for p in points)
    note = (
        " Điểm rỗng, đường đứt nét và dấu * là năm đơn vị chưa được hình thành: kết quả "
        "lấy từ các đơn vị tiền thân (một đơn vị: kết quả của đơn vị đó; nhiều đơn vị: bình "
        "quân gia quyền tỷ lệ điểm theo trọng số sáp nhập)."
        if through
        else ""
    )
    return (
        '<section aria-labelledby="h-trend"><h2 id="h-trend">Qua các kỳ đánh giá</h2>'
        f'<figure class="trend">{chart}<figcaption>Tỷ lệ điểm đạt của đơn vị qua các kỳ; '
        f"nền màu là các mức độ của khung đánh giá từng năm.{note}</figcaption></figure>"
        f'<table class="trend"><caption>Kết quả qua các kỳ đến năm {period}</caption>'
        '<thead><tr><th scope="col">Năm</th><th scope="col" class="num">Tỷ lệ (%)</th>'
        '<th scope="col">Mức độ</th><th scope="col" class="num">Hạng</th>'
        f'<th scope="col">Cách tính</th></tr></thead><tbody>{rows}</tbody></table></section>'
    )


def block_columns(marts: PeriodMarts, block: str) -> list[BlockColumn]:
    """The block in every period of the warehouse up to the marts' period, oldest first."""
    bands = {(fw.framework_version, fw.block): fw.levels for fw in marts.frameworks}
    columns = []
    for history in marts.block_history:
        if history.block != block:
            continue
        percents = history.percents
        columns.append(
            BlockColumn(
                period=history.period,
                levels=tuple(bands.get((history.framework_version, block), ())),
                low=min(percents) if percents else None,
                median=median(percents),
                high=max(percents) if percents else None,
                scored=len(percents),
                level_counts=dict(history.level_counts),
            )
        )
    return columns


def block_trend_section(marts: PeriodMarts, block: str, anchor: str, block_label: str) -> str:
    """The block's trend on the period's index: the chart and its table."""
    columns = block_columns(marts, block)
    if not columns:
        return ""
    chart = block_trend_chart(
        columns,
        chart_id=f"xu-huong-{anchor}",
        title=f"Tỷ lệ điểm qua các năm — {block_label}",
    )
    order = [lv.level for lv in max((c.levels for c in columns), key=len)][::-1]
    names = {lv.level: lv.level_name for c in columns for lv in c.levels}
    head = "".join(f'<th scope="col" class="num">{_e(names[level])}</th>' for level in order)
    rows = "".join(
        f'<tr data-period="{c.period}"><th scope="row">{c.period}</th>'
        f'<td class="num">{c.scored}</td><td class="num">{_percent(c.low)}</td>'
        f'<td class="num">{_percent(c.median)}</td><td class="num">{_percent(c.high)}</td>'
        + "".join(
            f'<td class="num" data-level="{_e(level)}">{c.level_counts.get(level, 0)}</td>'
            for level in order
        )
        + "</tr>"
        for c in columns
    )
    return (
        f'<figure class="trend">{chart}<figcaption>Mỗi năm: cột xám từ tỷ lệ thấp nhất đến cao '
        "nhất, vạch đen là trung vị; dưới mỗi năm là số đơn vị theo mức độ, từ cao xuống "
        "thấp.</figcaption></figure>"
        f'<table class="trend block-trend" data-block="{_e(block)}"><caption>{_e(block_label)} '
        f"qua các kỳ đến năm {marts.period}</caption><thead><tr>"
        '<th scope="col">Năm</th><th scope="col" class="num">Đơn vị được chấm</th>'
        '<th scope="col" class="num">Thấp nhất (%)</th><th scope="col" class="num">Trung vị (%)'
        '</th><th scope="col" class="num">Cao nhất (%)</th>'
        f"{head}</tr></thead><tbody>{rows}</tbody></table>"
    )
