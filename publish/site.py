"""The static site of a period: ``index.html``, one page per unit, one stylesheet.

Works from a plain folder or ``file://`` (relative links, no JavaScript, no CDN). Every text
that comes from data goes through ``escape``; numbers are shown the Vietnamese way (96,95).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from html import escape

from dti.codes import file_part
from publish.answers import answers_paths
from publish.charts import PillarBar, distribution_chart, pillar_chart
from publish.collation import vietnamese_key
from publish.explanation import SECTION_ID, Explanation, explanations, render_explanation
from publish.map import MAP_CSS, map_figure, map_page_name
from publish.marts import (
    IndicatorPoints,
    Level,
    OwnPreviousResult,
    PeriodMarts,
    UnitComplaint,
    UnitScore,
)
from publish.numbers import median, percent_of, round2, vn_number
from publish.statistical_audit import PAGE as STATISTICS_PAGE
from publish.trend_site import TrendLevels, block_trend_section, trend_levels, unit_trend_section

UNIT_DIR = "don-vi"
STYLESHEET = "assets/site.css"
METHODOLOGY_PAGE = "phuong-phap.html"  # written by publish.methodology, linked from every page

BLOCK_NAMES = {
    "so_nganh": "Sở, ban, ngành",
    "quan_huyen": "Quận, huyện và thành phố Thủ Đức",
    "phuong_xa": "Phường, xã, đặc khu",
}
STAGE_NAMES = {"self": "Tự đánh giá", "appraisal": "Thẩm định"}
METHOD_NAMES = {"boolean": "Có/không", "ratio": "Tỷ lệ", "tiers": "Theo mức", "points": "Điểm"}

CSS = """\
:root { --ink: #111827; --muted: #4b5563; --line: #d1d5db; --band: #f9fafb; }
* { box-sizing: border-box; }
body { font-family: "Noto Sans", "DejaVu Sans", Arial, sans-serif; color: var(--ink);
  margin: 0; line-height: 1.5; }
.skip { position: absolute; left: -999px; }
.banner { border: 2px solid #b45309; background: #fef3c7; color: #451a03; padding: 8px 12px; }
.skip:focus { left: 8px; top: 8px; background: #fff; padding: 4px 8px; }
header.site { background: #0f3d75; color: #fff; padding: 16px 24px; }
header.site a { color: #fff; }
header.site h1 { margin: 0 0 4px; font-size: 1.6rem; }
nav.blocks a { margin-right: 16px; }
main { padding: 16px 24px; max-width: 1440px; }
h2 { border-bottom: 2px solid #0f3d75; padding-bottom: 4px; margin-top: 32px; }
table { border-collapse: collapse; width: 100%; margin: 8px 0 24px; font-size: 0.92rem; }
caption { text-align: left; font-weight: 600; padding: 6px 0; }
th, td { border-bottom: 1px solid var(--line); padding: 6px 8px; vertical-align: top; }
thead th { background: #e8eef7; text-align: left; position: sticky; top: 0; }
tbody tr:nth-child(even) { background: var(--band); }
tbody th, tfoot th { text-align: left; font-weight: 500; }
table.ranking tbody th { min-width: 17rem; }
table.ranking thead th { vertical-align: bottom; }
table.ranking th.pillar { font-size: 0.8rem; min-width: 4.5rem; white-space: normal; }
.table-wrap { overflow-x: auto; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.badge { display: inline-block; padding: 1px 10px; border-radius: 999px; font-weight: 600;
  font-size: 0.85rem; border: 1px solid currentColor; white-space: nowrap; }
.badge.none { color: #374151; background: #f3f4f6; }
.counts { display: flex; gap: 16px; flex-wrap: wrap; list-style: none; padding: 0; }
.counts li { border: 1px solid var(--line); border-radius: 8px; padding: 8px 14px; }
.counts strong { font-size: 1.3rem; margin-left: 6px; }
figure { margin: 8px 0 16px; max-width: 720px; }
figcaption { color: var(--muted); font-size: 0.9rem; }
svg.chart text { font-family: inherit; font-size: 12px; fill: var(--ink); }
svg.chart text.axis { fill: var(--muted); }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; font-weight: 600; }
.late { color: #9a3412; font-weight: 600; }
.up { color: #15803d; } .down { color: #b91c1c; }
ol.directory { columns: 2; }
footer { color: var(--muted); padding: 16px 24px; border-top: 1px solid var(--line); }
@media print {
  header.site { background: none; color: #000; padding: 0; }
  header.site a, nav.blocks, .skip, footer .downloads { display: none; }
  table.methodology tr { break-inside: avoid; }
  main { padding: 0; max-width: none; }
  a { color: inherit; text-decoration: none; }
  thead th { position: static; }
  table { font-size: 9pt; }
  tr, figure, .counts { break-inside: avoid; }
  h2 { break-after: avoid; }
  section.block { break-before: page; }
  section.block:first-of-type { break-before: auto; }
  .badge, .counts li, svg.chart { print-color-adjust: exact; -webkit-print-color-adjust: exact; }
  ol.directory { columns: 2; font-size: 9pt; }
  ol.directory li { break-inside: avoid; }
}
"""

NO_LEVEL_BADGE = ".badge.none {"
LATE_MARK = ' <span class="late">(muộn)</span>'


def unit_page_name(unit_code: str) -> str:
    """The unit page's file name (``dti.codes.file_part``: a code outside the grammar is
    refused, never rewritten)."""
    return f"{file_part(unit_code)}.html"


def block_name(block: str) -> str:
    return BLOCK_NAMES.get(block, block)


def block_anchor(block: str) -> str:
    """The id of a block's section, on the index and on the statistical audit page."""
    return f"khoi-{file_part(block)}"


@lru_cache(maxsize=1 << 16)  # the same unit and indicator names recur on thousands of pages
def _escaped(text: str) -> str:
    return escape(text, quote=True)


def _e(value: object) -> str:
    return _escaped(value if type(value) is str else str(value))


def badge(level: str | None, level_name: str | None) -> str:
    """A level's badge; its colours are the level's rule of the stylesheet (``level_css``)."""
    if not level:
        return '<span class="badge none" data-level="">Chưa nộp</span>'
    return (
        f'<span class="badge {_e(level)}" data-level="{_e(level)}">{_e(level_name or level)}</span>'
    )


def level_css(marts: PeriodMarts) -> str:
    """One badge rule per level code of the period's frameworks, highest level first, in the
    registry's colours (levels.csv; the framework checkpoint holds codes to [a-z0-9_] and
    colours to #rrggbb, so both are safe in CSS)."""
    styles = marts.level_styles
    return "".join(
        f".badge.{code} {{ color: {styles[code].colour}; background: {styles[code].background}; }}\n"
        for code in marts.level_order
    )


def stylesheet(marts: PeriodMarts, mapped: bool) -> str:
    """The period's stylesheet: the site's rules with the levels' badges before the badge of a
    unit without a level."""
    head, tail = CSS.split(NO_LEVEL_BADGE)
    return head + level_css(marts) + NO_LEVEL_BADGE + tail + (MAP_CSS if mapped else "")


PRELIMINARY_BANNER = (
    "Kết quả công bố sơ bộ: các cơ quan, đơn vị có thể gửi giải trình; Hội đồng thẩm định "
    "có thể điều chỉnh trước khi công bố chính thức."
)


def _banner(publication: str) -> str:
    if publication != "preliminary":
        return ""
    return (
        f'<p class="banner so-bo" role="status"><strong>Sơ bộ.</strong> {PRELIMINARY_BANNER}</p>\n'
    )


def _page(
    title: str, body: str, root: str, heading: str, subtitle: str, publication: str = "final"
) -> str:
    return (
        "<!DOCTYPE html>\n"
        '<html lang="vi">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n"
        f'<link rel="stylesheet" href="{root}{STYLESHEET}">\n'
        "</head>\n<body>\n"
        '<a class="skip" href="#noi-dung">Bỏ qua, đến nội dung chính</a>\n'
        f'<header class="site"><h1>{_e(heading)}</h1><p>{subtitle}</p>'
        f'<p class="links"><a href="{root}{METHODOLOGY_PAGE}">Phương pháp đánh giá</a></p>'
        "</header>\n"
        f"{_banner(publication)}"
        f'<main id="noi-dung">\n{body}\n</main>\n'
        "</body>\n</html>\n"
    )


render_page = _page  # for the pages of publish.methodology


def _site_order(unit: UnitScore) -> tuple:
    """Rank first; equal ranks and units that did not submit by Vietnamese name order."""
    return (
        not unit.scored,
        unit.rank is None,  # assessed without a rank: after the ranked units
        unit.rank or 0,
        vietnamese_key(unit.unit_name),
        unit.unit_code,
    )


NOT_RANKED = "Không xếp hạng"


def _rank_cell(unit: UnitScore) -> str:
    if unit.scored and unit.not_ranked_reason is not None:
        return (
            f'<td class="num rank not-ranked" title="{_e(unit.not_ranked_reason)}">'
            f"{NOT_RANKED}</td>"
        )
    return f'<td class="num rank">{unit.rank if unit.rank is not None else "—"}</td>'


def _pillar_columns(units: Sequence[UnitScore]) -> list[tuple[str, str]]:
    seen: dict[str, tuple[int, str]] = {}
    for unit in units:
        for p in unit.pillars:
            seen.setdefault(p.pillar_code, (p.sort_order, p.pillar_name))
    return [(code, name) for code, (_, name) in sorted(seen.items(), key=lambda kv: kv[1][0])]


def _level_counts(
    units: Sequence[UnitScore], level_order: Sequence[str]
) -> list[tuple[str, str, int]]:
    """(level, label, units) of the scored units, in ``level_order`` (highest first)."""
    names: dict[str, str] = {}
    counts: dict[str, int] = {}
    for unit in units:
        if unit.scored and unit.level:
            names.setdefault(unit.level, unit.level_name or unit.level)
            counts[unit.level] = counts.get(unit.level, 0) + 1
    ordered = [lv for lv in level_order if lv in counts] + sorted(set(counts) - set(level_order))
    return [(lv, names[lv], counts[lv]) for lv in ordered]


def _ranking_table(
    units: Sequence[UnitScore],
    block: str,
    group: str,
    period: int,
    pillars: list[tuple[str, str]],
    group_name: str = "",
) -> str:
    """One rank group's table, headed by the group's label (the code stays in the
    ``data-rank-group`` attribute); a block ranked as one group has none."""
    caption = f"Xếp hạng {block_name(block)} năm {period}"
    if group:
        caption += f" — {group_name or group}"
    head = (
        '<th scope="col" class="num">Hạng</th><th scope="col">Đơn vị</th>'
        '<th scope="col" class="num">Tổng điểm</th><th scope="col" class="num">Điểm tối đa</th>'
        '<th scope="col" class="num">Tỷ lệ (%)</th><th scope="col">Mức độ</th>'
        + "".join(f'<th scope="col" class="num pillar">{_e(name)}</th>' for _, name in pillars)
    )
    rows = []
    for unit in sorted(units, key=_site_order):
        by_code = {p.pillar_code: p for p in unit.pillars}
        late = (
            ' <span class="late" title="Có câu trả lời nộp muộn">(muộn)</span>'
            if unit.is_late
            else ""
        )
        cells = [
            _rank_cell(unit),
            f'<th scope="row"><a href="{UNIT_DIR}/{_e(unit_page_name(unit.unit_code))}">'
            f'<span class="unit-name">{_e(unit.unit_name)}</span></a>{late}</th>',
            f'<td class="num total">{score_text(unit.total_score) if unit.scored else "—"}</td>',
            f'<td class="num">{vn_number(unit.applicable_max)}</td>',
            f'<td class="num percent">{score_text(unit.percent)}</td>',
            f"<td>{badge(unit.level, unit.level_name)}</td>",
        ]
        for code, _ in pillars:
            p = by_code.get(code)
            cells.append(
                f'<td class="num">{score_text(p.score) if p and unit.scored else "—"}</td>'
            )
        rows.append(
            f'<tr data-unit-code="{_e(unit.unit_code)}" data-status="{_e(unit.status)}">'
            + "".join(cells)
            + "</tr>"
        )
    # the reasons of the units assessed without a rank, published under their table
    not_ranked = "".join(
        f'<li data-unit-code="{_e(u.unit_code)}">{_e(u.unit_name)}: {_e(u.not_ranked_reason)}</li>'
        for u in sorted(units, key=_site_order)
        if u.scored and u.not_ranked_reason is not None
    )
    return (
        '<div class="table-wrap">'
        f'<table class="ranking" data-block="{_e(block)}" data-rank-group="{_e(group)}">'
        f"<caption>{_e(caption)}</caption><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>"
        + (
            f'<p class="not-ranked">{NOT_RANKED} (được đánh giá, có mức độ):</p>'
            f'<ul class="not-ranked">{not_ranked}</ul>'
            if not_ranked
            else ""
        )
    )


def render_index(marts: PeriodMarts, publication: str = "final") -> str:
    sections = []
    nav = []
    for block in marts.blocks:
        units = marts.block_units(block)
        scored = [u for u in units if u.scored]
        not_submitted = len(units) - len(scored)
        fw = marts.framework(block)
        anchor = block_anchor(block)
        nav.append(f'<a href="#{anchor}">{_e(block_name(block))}</a>')
        counts = "".join(
            f'<li>{badge(level, name)}<strong data-count-level="{_e(level)}">{n}</strong>'
            " đơn vị</li>"
            for level, name, n in _level_counts(units, marts.level_order)
        )
        if not_submitted:
            counts += (
                f'<li>{badge(None, None)}<strong data-count-level="">{not_submitted}</strong>'
                " đơn vị</li>"
            )
        chart = distribution_chart(
            [u.percent for u in scored if u.percent is not None],
            fw.levels if fw else (),
            chart_id=f"phan-bo-{file_part(block)}",
            title=f"Phân bố tỷ lệ điểm — {block_name(block)} năm {marts.period}",
        )
        thresholds = ""
        if fw:
            starts = ", ".join(
                f"{_e(lv.level_name)} từ {vn_number(lv.from_pct)} %" for lv in fw.levels[1:]
            )
            thresholds = (
                f" Ngưỡng mức độ: {starts} điểm tối đa "
                f"(khung {_e(fw.framework_version)}, thang điểm {vn_number(fw.scale_max)})."
            )
        pillars = _pillar_columns(units)
        groups = sorted({u.rank_group for u in units}, key=vietnamese_key)
        tables = "".join(
            _ranking_table(
                [u for u in units if u.rank_group == g],
                block,
                g,
                marts.period,
                pillars,
                marts.rank_group_names.get((block, g), ""),
            )
            for g in groups
        )
        map_link = (
            f'<p class="map-link"><a href="{_e(map_page_name(block))}">Bản đồ kết quả '
            f"{_e(block_name(block).lower())}</a></p>"
            if block in mapped_blocks(marts)
            else ""
        )
        audit_link = (
            f'<p class="audit-link"><a href="{STATISTICS_PAGE}#{anchor}">Kiểm định thống kê '
            "các chỉ số của khối</a></p>"
            if marts.statistical_audit is not None and block in marts.statistical_audit.blocks()
            else ""
        )
        sections.append(
            f'<section class="block" id="{anchor}" aria-labelledby="{anchor}-h">'
            f'<h2 id="{anchor}-h">{_e(block_name(block))}</h2>'
            f'<p class="summary">{len(scored)} đơn vị được chấm điểm'
            f"{f', {not_submitted} đơn vị chưa nộp' if not_submitted else ''}.{thresholds}</p>"
            f"{map_link}{audit_link}"
            f'<ul class="counts" aria-label="Số đơn vị theo mức độ">{counts}</ul>'
            f"<figure>{chart}<figcaption>Số đơn vị theo tỷ lệ điểm đạt; đường đứt nét là "
            "ngưỡng mức độ.</figcaption></figure>"
            f"{block_trend_section(marts, block, anchor, block_name(block))}"
            f"{tables}</section>"
        )
    directory = "".join(
        f'<li><a href="{UNIT_DIR}/{_e(unit_page_name(u.unit_code))}">{_e(u.unit_name)}</a> '
        f"<small>({_e(block_name(u.block))})</small></li>"
        for u in sorted(marts.units, key=lambda u: (vietnamese_key(u.unit_name), u.unit_code))
    )
    downloads = " · ".join(
        f'<a href="{_e(name)}">{_e(name)}</a>'
        for name in [
            "results.json",
            *(f"results_{b}.{ext}" for b in marts.blocks for ext in ("xlsx", "csv")),
            *(path for b in marts.blocks for path in reversed(answers_paths(b))),
            "manifest.json",
        ]
    )
    body = (
        f'<nav class="blocks" aria-label="Các khối">{"".join(nav)}'
        '<a href="#tra-cuu">Tra cứu đơn vị</a></nav>'
        + "".join(sections)
        + '<section id="tra-cuu" aria-labelledby="tra-cuu-h"><h2 id="tra-cuu-h">Tra cứu đơn vị '
        f'theo tên</h2><ol class="directory">{directory}</ol></section>'
        f'<footer><p class="downloads">Tải dữ liệu: {downloads}</p></footer>'
    )
    title = f"Chỉ số chuyển đổi số (DTI) năm {marts.period}"
    subtitle = "Kết quả đánh giá, xếp hạng mức độ chuyển đổi số của các cơ quan, đơn vị"
    return _page(title, body, "", title, _e(subtitle), publication)


@lru_cache(maxsize=1 << 16)
def score_text(value: Decimal | None) -> str:
    """Scores and percents in tables: always 2 decimals so columns line up (96,95; 457,00)."""
    return vn_number(value, 2)


def _signed(value: Decimal, places: int = 2) -> str:
    css = "up" if value > 0 else "down" if value < 0 else ""
    text = ("+" if value > 0 else "") + vn_number(value, places)
    return f'<span class="{css}">{text}</span>' if css else text


METHOD_TEXT = {
    "predecessor": "kết quả của đơn vị tiền thân duy nhất có kết quả",
    "weighted_mean": "bình quân tỷ lệ điểm của các đơn vị tiền thân, gia quyền theo phần "
    "địa bàn (trọng số) mỗi đơn vị góp vào",
}


def _through_predecessors(page: UnitPage) -> str:
    """A reorganised unit (a 2025 ward, a merged department) against its predecessors."""
    unit, before = page.unit, page.unit.previous
    assert before is not None
    rows = "".join(
        f'<tr data-compared-code="{_e(c.unit_code)}"><th scope="row">{_e(c.unit_name)}</th>'
        f'<td class="num">{vn_number(c.weight * 100)} %</td>'
        f'<td class="num">{score_text(c.percent)}</td>'
        f"<td>{badge(c.level, c.level_name)}</td>"
        f'<td class="num">{c.rank if c.rank is not None else "—"}</td></tr>'
        for c in before.compared
    )
    change = (
        _signed(unit.percent - before.percent)
        if unit.percent is not None and before.percent is not None
        else "—"
    )
    return (
        f'<p class="yoy-method" data-method="{_e(before.method)}">Đơn vị được hình thành từ '
        f"các đơn vị dưới đây; năm {before.period} được tính theo "
        f"{_e(METHOD_TEXT.get(before.method, before.method))}: "
        f"<strong>{score_text(before.percent)} %</strong> "
        f"{badge(before.level, before.level_name)} (năm {page.period}: "
        f"{score_text(unit.percent)} %, thay đổi {change}).</p>"
        f'<table class="yoy-lineage"><caption>Đơn vị tiền thân năm {before.period}</caption>'
        '<thead><tr><th scope="col">Đơn vị</th><th scope="col" class="num">Trọng số</th>'
        '<th scope="col" class="num">Tỷ lệ (%)</th><th scope="col">Mức độ</th>'
        f'<th scope="col" class="num">Hạng</th></tr></thead><tbody>{rows}</tbody></table>'
    )


def _year_over_year(page: UnitPage) -> str:
    unit, before, period = page.unit, page.previous, page.period
    if before is None and unit.previous is not None and unit.previous.method != "same_unit":
        return _through_predecessors(page)
    if before is None:
        return f'<p class="yoy-none">Chưa có kết quả năm {period - 1} của đơn vị để so sánh.</p>'
    rows = []
    for label, field in (("Tổng điểm", "total_score"), ("Tỷ lệ (%)", "percent")):
        old, new = getattr(before, field), getattr(unit, field)
        change = _signed(new - old) if old is not None and new is not None else "—"
        old_text = score_text(old) if old is not None else "—"
        rows.append(
            f'<tr><th scope="row">{label}</th><td class="num">{old_text}</td>'
            f'<td class="num">{score_text(new)}</td><td class="num">{change}</td></tr>'
        )
    old_rank, new_rank = before.rank, unit.rank
    rank_change = "—"
    if old_rank is not None and new_rank is not None:
        # A smaller rank is better: moving from 5 to 2 is +3 places.
        rank_change = _signed(Decimal(old_rank) - new_rank, places=0)
    rows.append(
        '<tr><th scope="row">Hạng</th>'
        f'<td class="num">{old_rank if old_rank is not None else "—"}</td>'
        f'<td class="num">{new_rank if new_rank is not None else "—"}</td>'
        f'<td class="num">{rank_change}</td></tr>'
    )
    rows.append(
        '<tr><th scope="row">Mức độ</th>'
        f"<td>{badge(before.level, page.previous_level_name)}</td>"
        f"<td>{badge(unit.level, unit.level_name)}</td><td></td></tr>"
    )
    return (
        f'<table class="yoy"><caption>So sánh năm {period} với năm {period - 1}</caption>'
        f'<thead><tr><th scope="col">Chỉ tiêu</th><th scope="col" class="num">Năm {period - 1}</th>'
        f'<th scope="col" class="num">Năm {period}</th><th scope="col" class="num">Thay đổi</th>'
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


@dataclass(frozen=True)
class UnitPage:
    """Everything a unit page shows except its indicator rows, which
    ``unit.indicator_digest`` stands for.

    ``render_unit`` reads nothing else, so two pages with equal ``UnitPage`` (and the same
    renderer) are the same bytes: ``publish.incremental`` keeps a page when its inputs are
    unchanged.
    """

    period: int
    unit: UnitScore
    ranked: int  # scored units in the unit's block and rank group
    pillar_medians: tuple[tuple[str, Decimal | None], ...]  # of the block, same framework
    previous: OwnPreviousResult | None  # the unit's own result in the period before
    previous_level_name: str | None
    publication: str = "final"  # "preliminary" shows the sơ bộ banner
    # the Giải trình kết quả section (publish.explanation); None leaves it out
    explanation: Explanation | None = None
    trend_levels: TrendLevels = ()  # the bands of the frameworks of the unit's trend points
    # the unit's complaints and the council's decisions (docs/spec/complaints.md)
    complaints: tuple[UnitComplaint, ...] = ()
    level: Level | None = None  # the unit's level with its colours (levels.csv); None: no level


@lru_cache(maxsize=1 << 12)
def _indicator_cells(indicator_code: str, indicator_name: str) -> str:
    return (
        f'<tr data-indicator-code="{_e(indicator_code)}"><td>{_e(indicator_code)}</td>'
        f"<td>{_e(indicator_name)}</td>"
    )


@lru_cache(maxsize=64)
def _stage_cell(scored_stage: str | None, is_late: bool) -> str:
    stage = STAGE_NAMES.get(scored_stage or "", "Chưa trả lời")
    return f"<td>{_e(stage)}{LATE_MARK if is_late else ''}</td>"


@lru_cache(maxsize=1 << 16)  # 50 indicators and a few point values: 500,000 rows repeat
def _indicator_points(
    indicator_code: str,
    indicator_name: str,
    scored_stage: str | None,
    is_late: bool,
    self_points: Decimal | None,
    final_points: Decimal,
    max_points: Decimal,
) -> str:
    """An indicator's row up to its evidence cell."""
    return (
        f"{_indicator_cells(indicator_code, indicator_name)}"
        f"{_stage_cell(scored_stage, is_late)}"
        f'<td class="num">{score_text(self_points)}</td>'
        f'<td class="num">{score_text(final_points)}</td>'
        f'<td class="num">{vn_number(max_points)}</td>'
        f'<td class="num">{score_text(max_points - final_points)}</td>'
    )


def _information_row(i: IndicatorPoints) -> str:
    """An indicator collected but not scored (thông tin chung): the value the unit gave (the
    council's when it corrected it) where the points would be."""
    value = i.appraisal_value if i.scored_stage == "appraisal" else i.self_value
    shown = _e(value) if value not in (None, "") else "—"
    return (
        f"{_indicator_cells(i.indicator_code, i.indicator_name)}"
        f"{_stage_cell(i.scored_stage, i.is_late)}"
        f'<td colspan="4" class="information">Thông tin (không tính điểm): '
        f'<span class="value">{shown}</span></td>'
    )


def _evidence_cell(i: IndicatorPoints) -> str:
    """The evidence the counted answer cites, the unit's note, and who of the council
    corrected the answer and why; the cell closes the indicator's row."""
    if not i.note and (i.scored_stage != "appraisal" or not (i.appraiser or i.appraisal_reason)):
        return f'<td class="evidence">{_e(i.evidence_ref or "")}</td></tr>'  # most rows
    parts = [_e(i.evidence_ref or "")]
    if i.note:
        parts.append(f'<small class="note">Giải trình: {_e(i.note)}</small>')
    if i.scored_stage == "appraisal" and (i.appraiser or i.appraisal_reason):
        who = _e(i.appraiser or "Hội đồng")
        why = f": {_e(i.appraisal_reason)}" if i.appraisal_reason else ""
        parts.append(f'<small class="appraisal">Thẩm định ({who}){why}</small>')
    return f'<td class="evidence">{"<br>".join(p for p in parts if p)}</td></tr>'


COMPLAINT_STATUS = {"open": "Chưa quyết định", "accepted": "Chấp nhận", "rejected": "Bác bỏ"}


def _when(stamp: str | None) -> str:
    """``2024-02-05T09:00:00+07:00`` as ``09:00 05/02/2024`` (the stamp is Vietnamese time)."""
    if not stamp:
        return "—"
    return f"{stamp[11:16]} {stamp[8:10]}/{stamp[5:7]}/{stamp[:4]}"


def _complaints_section(complaints: Sequence[UnitComplaint]) -> str:
    """The unit's complaint history: each complaint, when, and what the council decided."""
    if not complaints:
        return ""
    rows = []
    for c in complaints:
        late = ' <span class="late">(nộp muộn)</span>' if c.late else ""
        decision = _e(COMPLAINT_STATUS.get(c.status, c.status))
        if c.status != "open":
            decision += (
                f"<br><small>{_e(c.decided_by or '')}, {_e(_when(c.decided_at))}: "
                f"{_e(c.reason or '')}</small>"
            )
        if c.indicators_changed:
            decision += f"<br><small>Đã sửa: {_e(', '.join(c.indicators_changed))}</small>"
        rows.append(
            f'<tr data-complaint-id="{_e(c.complaint_id)}"><th scope="row">'
            f"{_e(c.complaint_id)}</th><td>{_e(c.indicator_code or 'Cả đơn vị')}</td>"
            f"<td>{_e(_when(c.filed_at))}{late}</td><td>{_e(c.text)}</td>"
            f'<td class="complaint-{_e(c.status)}">{decision}</td></tr>'
        )
    return (
        '<section aria-labelledby="h-complaints"><h2 id="h-complaints">Kiến nghị và quyết định '
        'của Hội đồng</h2><table class="complaints"><thead><tr><th scope="col">Mã</th>'
        '<th scope="col">Chỉ số</th><th scope="col">Gửi lúc</th><th scope="col">Nội dung</th>'
        f'<th scope="col">Quyết định</th></tr></thead><tbody>{"".join(rows)}</tbody></table>'
        "</section>"
    )


def render_unit(page: UnitPage, indicators: Sequence[IndicatorPoints]) -> str:
    """A unit's page; ``indicators`` are its rows of ``marts.fct_indicator_points``."""
    unit, period = page.unit, page.period
    ranked = page.ranked
    medians = dict(page.pillar_medians)
    facts = [
        ("Khối", _e(block_name(unit.block))),
        ("Mã đơn vị", _e(unit.unit_code)),
        ("Kỳ đánh giá", str(period)),
        ("Trạng thái", "Đã chấm điểm" if unit.scored else "Chưa nộp kết quả tự đánh giá"),
    ]
    if unit.scored:
        facts += [
            (
                ("Hạng", f'<span class="rank">{unit.rank}</span> / {ranked}')
                if unit.not_ranked_reason is None
                else (
                    "Hạng",
                    f'<span class="rank not-ranked">{NOT_RANKED}</span>: '
                    f"{_e(unit.not_ranked_reason)}",
                )
            ),
            *(
                [("Nhóm xếp hạng", _e(unit.rank_group_name or unit.rank_group))]
                if unit.rank_group
                else []
            ),
            (
                "Tổng điểm",
                f'<span class="total">{score_text(unit.total_score)}</span> / '
                f"{vn_number(unit.applicable_max)}",
            ),
            ("Tỷ lệ", f"{score_text(unit.percent)} %"),
            ("Mức độ", badge(unit.level, unit.level_name)),
        ]
    if unit.is_late:
        facts.append(
            ("Nộp muộn", '<span class="late">Có câu trả lời tự đánh giá nộp sau hạn</span>')
        )
    facts_html = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts)

    bars = [
        PillarBar(
            name=p.pillar_name,
            percent=percent_of(p.score, p.max_points) or Decimal(0),
            median_percent=medians.get(p.pillar_code),
        )
        for p in unit.pillars
    ]
    chart = pillar_chart(
        bars,
        chart_id="chi-so-chinh",
        title=f"Tỷ lệ điểm theo chỉ số chính — {unit.unit_name}",
        level=page.level,
    )
    pillar_rows = "".join(
        f'<tr data-pillar-code="{_e(p.pillar_code)}"><th scope="row">{_e(p.pillar_name)}</th>'
        f'<td class="num">{score_text(p.self_score)}</td><td class="num">{score_text(p.score)}</td>'
        f'<td class="num">{vn_number(p.max_points)}</td>'
        f'<td class="num">{score_text(percent_of(p.score, p.max_points))}</td>'
        f'<td class="num">{score_text(medians.get(p.pillar_code))}</td></tr>'
        for p in unit.pillars
    )
    difference = unit.total_score - unit.self_score
    pillar_table = (
        '<table class="pillars"><caption>Điểm theo chỉ số chính: tự đánh giá và sau thẩm định'
        '</caption><thead><tr><th scope="col">Chỉ số chính</th>'
        '<th scope="col" class="num">Tự đánh giá</th><th scope="col" class="num">Sau thẩm định</th>'
        '<th scope="col" class="num">Điểm tối đa</th><th scope="col" class="num">Tỷ lệ (%)</th>'
        '<th scope="col" class="num">Trung vị khối (%)</th></tr></thead>'
        f'<tbody>{pillar_rows}</tbody><tfoot><tr><th scope="row">Tổng</th>'
        f'<td class="num self-total">{score_text(unit.self_score)}</td>'
        f'<td class="num final-total">{score_text(unit.total_score)}</td>'
        f'<td class="num">{vn_number(unit.applicable_max)}</td>'
        f'<td class="num">{score_text(unit.percent)}</td><td></td></tr></tfoot></table>'
        f'<p>Chênh lệch sau thẩm định so với tự đánh giá: <strong class="difference">'
        f"{_signed(difference)}</strong> điểm.</p>"
    )

    unanswered = [i for i in indicators if not i.is_answered]
    if unanswered:
        items = "".join(
            f'<li data-indicator-code="{_e(i.indicator_code)}">'
            f"<strong>{_e(i.indicator_code)}</strong> "
            f"{_e(i.indicator_name)} <small>(tối đa {vn_number(i.max_points)} điểm)</small></li>"
            for i in unanswered
        )
        lost = sum((i.max_points for i in unanswered), Decimal(0))
        unanswered_html = (
            f"<p>{len(unanswered)} chỉ số thành phần chưa có câu trả lời, "
            f'mất {vn_number(lost)} điểm.</p><ul class="unanswered">{items}</ul>'
        )
    else:
        unanswered_html = (
            '<p class="unanswered-none">Đơn vị đã trả lời tất cả chỉ số thành phần.</p>'
        )

    indicator_rows = "".join(
        (
            _information_row(i)
            if i.max_points == 0
            else _indicator_points(
                i.indicator_code,
                i.indicator_name,
                i.scored_stage,
                i.is_late,
                i.self_points,
                i.final_points,
                i.max_points,
            )
        )
        + _evidence_cell(i)
        for i in indicators
    )
    indicator_table = (
        '<table class="indicators"><caption>Điểm theo chỉ số thành phần (điểm bị mất = điểm tối '
        'đa − điểm sau thẩm định)</caption><thead><tr><th scope="col">Mã</th>'
        '<th scope="col">Chỉ số thành phần</th><th scope="col">Nguồn điểm</th>'
        '<th scope="col" class="num">Tự đánh giá</th><th scope="col" class="num">Sau thẩm định</th>'
        '<th scope="col" class="num">Tối đa</th><th scope="col" class="num">Bị mất</th>'
        '<th scope="col">Minh chứng</th></tr></thead>'
        f"<tbody>{indicator_rows}</tbody></table>"
    )

    explained = (
        ""
        if page.explanation is None
        else render_explanation(
            period, unit, page.explanation, indicators, answers_paths(unit.block)[0]
        )
    )
    to_explanation = f' <a href="#{SECTION_ID}">Giải trình kết quả</a>' if explained else ""
    body = (
        f'<nav class="blocks"><a href="../index.html">← Bảng xếp hạng</a>{to_explanation}</nav>'
        f'<dl class="facts">{facts_html}</dl>'
        '<section aria-labelledby="h-pillars"><h2 id="h-pillars">Chỉ số chính so với trung vị '
        f"của khối</h2><figure>{chart}<figcaption>Thanh màu: tỷ lệ điểm của đơn vị; vạch đen: "
        "trung vị của các đơn vị cùng khối.</figcaption></figure>"
        f"{pillar_table}</section>"
        '<section aria-labelledby="h-yoy"><h2 id="h-yoy">So với năm trước</h2>'
        f"{_year_over_year(page)}</section>"
        f"{unit_trend_section(period, unit.unit_name, unit.trend, page.trend_levels)}"
        '<section aria-labelledby="h-unanswered"><h2 id="h-unanswered">Chỉ số chưa trả lời</h2>'
        f"{unanswered_html}</section>"
        '<section aria-labelledby="h-indicators"><h2 id="h-indicators">Chi tiết điểm</h2>'
        f"{indicator_table}</section>"
        f"{_complaints_section(page.complaints)}"
        f"{explained}"
    )
    title = f"{unit.unit_name} — DTI {period}"
    subtitle = f"Chỉ số chuyển đổi số năm {period} · {_e(block_name(unit.block))}"
    return _page(title, body, "../", unit.unit_name, subtitle, page.publication)


def pillar_medians(
    marts: PeriodMarts, block: str, framework_version: str
) -> dict[str, Decimal | None]:
    """Median pillar percent of the scored units of a block (same framework)."""
    values: dict[str, list[Decimal]] = {}
    for unit in marts.block_units(block):
        if not unit.scored or unit.framework_version != framework_version:
            continue
        for p in unit.pillars:
            pct = percent_of(p.score, p.max_points)
            if pct is not None:
                values.setdefault(p.pillar_code, []).append(pct)
    return {code: median(v) for code, v in values.items()}


def unit_pages(marts: PeriodMarts, publication: str = "final") -> dict[str, UnitPage]:
    """The inputs of every unit page, by path relative to the bundle (cheap: no rendering).
    Everything a page compares with comes from the marts (``marts.own_previous``,
    ``UnitScore.previous`` and ``trend``), never from another release's files."""
    medians: dict[tuple[str, str], tuple[tuple[str, Decimal | None], ...]] = {}
    level_names = marts.level_names
    levels = {
        (fw.framework_version, fw.block, lv.level): lv
        for fw in marts.frameworks
        for lv in fw.levels
    }
    explained = explanations(marts)
    pages: dict[str, UnitPage] = {}
    for unit in marts.units:
        key = (unit.block, unit.framework_version)
        if key not in medians:
            # As shown (2 decimals, half up), the median tick included: a revision elsewhere
            # in the block that moves a median by less than 0.005 % changes no unit page.
            medians[key] = tuple(
                (code, None if m is None else round2(m))
                for code, m in sorted(pillar_medians(marts, *key).items())
            )
        path = f"{UNIT_DIR}/{unit_page_name(unit.unit_code)}"
        if path in pages:
            raise ValueError(f"two units map to the page {path}; unit codes must differ")
        before = marts.own_previous.get(unit.unit_code)
        old_level = before.level if before is not None else None
        pages[path] = UnitPage(
            period=marts.period,
            unit=unit,
            ranked=marts.scored_per_group.get((unit.block, unit.rank_group), 0),
            pillar_medians=medians[key],
            previous=before,
            previous_level_name=level_names.get(old_level or "", old_level),
            publication=publication,
            explanation=explained.get(unit.unit_code),
            trend_levels=trend_levels(marts, unit),
            complaints=marts.complaints.get(unit.unit_code, ()),
            level=levels.get((unit.framework_version, unit.block, unit.level or "")),
        )
    return pages


def mapped_blocks(marts: PeriodMarts) -> tuple[str, ...]:
    """Blocks whose units have places (marts.dim_unit_locations): each gets a map page."""
    return tuple(
        b for b in marts.blocks if any(u.unit_code in marts.locations for u in marts.block_units(b))
    )


def map_inputs(marts: PeriodMarts, block: str) -> tuple:
    """What ``render_map`` reads for ``block`` besides the block's units (whole): their
    places, the level names and order, the period."""
    places = {u.unit_code: marts.locations.get(u.unit_code) for u in marts.block_units(block)}
    return (marts.period, block, places, marts.level_names, marts.level_order, level_colours(marts))


def level_colours(marts: PeriodMarts) -> dict[str, str]:
    """Each level code's colour (levels.csv through the marts)."""
    return {code: lv.colour for code, lv in marts.level_styles.items()}


def render_map(marts: PeriodMarts, block: str) -> str:
    """The block's map page: its units as points coloured by level, and the list beside it."""
    units = marts.block_units(block)
    title = f"Bản đồ kết quả DTI năm {marts.period} — {block_name(block)}"
    figure = map_figure(
        units,
        marts.locations,
        marts.level_names,
        marts.level_order,
        level_colours(marts),
        UNIT_DIR,
        {u.unit_code: unit_page_name(u.unit_code) for u in units},
        title,
    )
    body = (
        '<nav class="blocks" aria-label="Các trang"><a href="index.html">Bảng xếp hạng</a></nav>'
        f'<section class="map" aria-labelledby="ban-do-h"><h2 id="ban-do-h">{_e(block_name(block))}'
        f"</h2>{figure}</section>"
    )
    return _page(title, body, "", title, _e("Mỗi đơn vị một điểm, tô màu theo mức độ"))


def render_site(
    marts: PeriodMarts,
    indicators: Mapping[str, Sequence[IndicatorPoints]],
    pages: Mapping[str, UnitPage] | None = None,
    only: Collection[str] | None = None,
    publication: str = "final",
    kept: Collection[str] = frozenset(),
) -> dict[str, bytes]:
    """The pages of the site, by path relative to the bundle: the index, the stylesheet, the
    map pages but those in ``kept``, and every unit page (or only the unit pages in
    ``only``)."""
    mapped = mapped_blocks(marts)
    files = {
        "index.html": render_index(marts, publication).encode("utf-8"),
        STYLESHEET: stylesheet(marts, bool(mapped)).encode("utf-8"),
    }
    for block in mapped:
        if map_page_name(block) not in kept:
            files[map_page_name(block)] = render_map(marts, block).encode("utf-8")
    if pages is None:
        pages = unit_pages(marts, publication)
    for path, page in pages.items():
        if only is not None and path not in only:
            continue
        rows = indicators[page.unit.unit_code] if page.unit.indicator_digest else ()
        files[path] = render_unit(page, rows).encode("utf-8")
    return files
