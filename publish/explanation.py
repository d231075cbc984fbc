"""The explanation section of a unit page (*Giải trình kết quả*): what `dti explain --unit`
prints, for the unit that disputes its result, generated with the bundle.

Every figure comes from the marts as ``publish.marts`` reads them: the total and its answers
(the page's indicator table), the level with the thresholds in points, the rank with the
units just above, level with and just below, the pillar ranks, the margins. The validation
runs that gated the release are the bundle's (``manifest.json``), linked, not copied into
10,000 pages (a new run id would rewrite every page).

``least_total`` is the one home of "the smallest total reaching a threshold" that both this
section and ``pipeline.explain`` print; which level a unit has is still decided only in the
marts (``int_unit_scores``).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from html import escape

from publish.marts import IndicatorPoints, PeriodMarts, UnitScore
from publish.numbers import vn_number

CENT = Decimal("0.01")
SECTION_ID = "giai-trinh"
LEVEL_RULE = "total_score × 100 ≥ from_pct × applicable_max"


def least_total(from_pct: Decimal, applicable_max: Decimal) -> Decimal:
    """The least total (in hundredths) with ``total × 100 ≥ from_pct × applicable_max``."""
    return (from_pct * applicable_max / 100).quantize(CENT, rounding=ROUND_CEILING)


@dataclass(frozen=True)
class Neighbour:
    unit_code: str
    unit_name: str
    rank: int
    total_score: Decimal
    applicable_max: Decimal
    percent: Decimal | None


@dataclass(frozen=True)
class Threshold:
    level: str
    level_name: str
    from_pct: Decimal
    from_total: Decimal  # least_total(from_pct, the unit's applicable_max)


@dataclass(frozen=True)
class Explanation:
    """What the section shows beyond the unit's own row: part of ``site.UnitPage``, so a page
    is rendered again when a neighbour or a threshold changes (``publish.incremental``)."""

    thresholds: tuple[Threshold, ...]
    next_level_name: str | None  # the label of margins.next_level (marts.dim_levels)
    rank_group: str
    ranked_units: int
    rank_group_name: str = ""  # the group's label; '' when the block ranks as one group
    just_above: tuple[Neighbour, ...] = ()
    tied_with: tuple[Neighbour, ...] = ()
    just_below: tuple[Neighbour, ...] = ()


def _neighbour(unit: UnitScore) -> Neighbour:
    return Neighbour(
        unit_code=unit.unit_code,
        unit_name=unit.unit_name,
        rank=unit.rank or 0,
        total_score=unit.total_score,
        applicable_max=unit.applicable_max,
        percent=unit.percent,
    )


def explanations(marts: PeriodMarts) -> dict[str, Explanation]:
    """Each unit's explanation, by unit code (one pass per rank group, not per unit)."""
    groups: dict[tuple[str, str], list[UnitScore]] = {}
    for unit in marts.units:
        if unit.rank is not None:
            groups.setdefault((unit.block, unit.rank_group), []).append(unit)
    by_rank: dict[tuple[str, str], tuple[list[int], dict[int, tuple[Neighbour, ...]]]] = {}
    for key, members in groups.items():
        ranked: dict[int, list[UnitScore]] = {}
        for unit in sorted(members, key=lambda u: u.unit_code):
            ranked.setdefault(unit.rank, []).append(unit)  # type: ignore[arg-type]
        by_rank[key] = (
            sorted(ranked),
            {rank: tuple(_neighbour(u) for u in units) for rank, units in ranked.items()},
        )
    levels = {(fw.framework_version, fw.block): fw.levels for fw in marts.frameworks}
    found: dict[str, Explanation] = {}
    for unit in marts.units:
        thresholds = tuple(
            Threshold(
                level=lv.level,
                level_name=lv.level_name,
                from_pct=lv.from_pct,
                from_total=least_total(lv.from_pct, unit.applicable_max),
            )
            for lv in levels.get((unit.framework_version, unit.block), ())
        )
        key = (unit.block, unit.rank_group)
        ranks, at_rank = by_rank.get(key, ([], {}))
        next_level = unit.margins.next_level
        common = {
            "thresholds": thresholds,
            "next_level_name": marts.level_names.get(next_level, next_level)
            if next_level
            else None,
            "rank_group": unit.rank_group,
            "rank_group_name": unit.rank_group_name,
            "ranked_units": len(groups.get(key, ())),
        }
        if unit.rank is None:
            found[unit.unit_code] = Explanation(**common)
            continue
        place = bisect_left(ranks, unit.rank)
        found[unit.unit_code] = Explanation(
            **common,
            just_above=at_rank[ranks[place - 1]] if place > 0 else (),
            tied_with=tuple(n for n in at_rank[unit.rank] if n.unit_code != unit.unit_code),
            just_below=at_rank[ranks[place + 1]] if place + 1 < len(ranks) else (),
        )
    return found


# --- the section ------------------------------------------------------------------------------


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _points(value: Decimal | None) -> str:
    return "—" if value is None else vn_number(value, 2)


def _units(items: Sequence[Neighbour]) -> str:
    return "; ".join(
        f'<span data-unit-code="{_e(n.unit_code)}">{_e(n.unit_name)} [{_e(n.unit_code)}] — hạng '
        f"{n.rank}, {_points(n.total_score)}/{vn_number(n.applicable_max)} điểm, "
        f"{_points(n.percent)} %</span>"
        for n in items
    )


MARGIN_TEXT = (  # (field, sentence with the points, sentence when there is none)
    ("points_to_next_level", "cần thêm {} điểm để lên mức {}", "đã ở mức cao nhất"),
    ("points_to_drop_level", "mất {} điểm thì xuống mức", "không thể xuống mức"),
    ("points_to_next_rank", "cần thêm {} điểm để lên hạng", "không có hạng cao hơn"),
    ("points_to_drop_rank", "mất {} điểm thì tụt hạng", "không thể tụt hạng"),
)


def render_explanation(
    period: int,
    unit: UnitScore,
    explanation: Explanation,
    indicators: Sequence[IndicatorPoints],
    answers_file: str,
) -> str:
    """The section, with the codes of `dti explain --json` in brackets (as its audit note)."""
    counted = sum((i.final_points for i in indicators), Decimal(0))
    items = [
        f'<li data-explain="total">Tổng điểm [total_score] <strong>{_points(unit.total_score)}'
        f"</strong> là tổng điểm sau thẩm định của {len(indicators)} chỉ số thành phần ở bảng "
        f'<a href="#h-indicators">Chi tiết điểm</a> (cộng lại: {_points(counted)}), trên điểm '
        f"tối đa áp dụng [applicable_max] {vn_number(unit.applicable_max)}: "
        f"{_points(unit.percent)} % [percent]; điểm tự đánh giá [self_score] "
        f"{_points(unit.self_score)}.</li>"
    ]
    thresholds = "".join(
        f'<li data-level="{_e(t.level)}">{_e(t.level_name)} [{_e(t.level)}] từ '
        f"{vn_number(t.from_pct)} % = từ <strong>{_points(t.from_total)}</strong> điểm</li>"
        for t in explanation.thresholds
    )
    items.append(
        f'<li data-explain="level">Mức độ [level] <strong>{_e(unit.level_name or "—")}</strong> '
        f"theo quy tắc <code>{_e(LEVEL_RULE)}</code>:<ul>{thresholds}</ul></li>"
    )
    group = (
        f"nhóm {_e(explanation.rank_group_name)} [{_e(explanation.rank_group)}]"
        if explanation.rank_group
        else "cả khối"
    )
    if unit.rank is None:
        rank = f"không xếp hạng ({group}, {explanation.ranked_units} đơn vị được xếp hạng)."
    else:
        rank = (
            f"<strong>{unit.rank}</strong>/{explanation.ranked_units} trong {group}, theo tỷ lệ "
            "điểm chính xác (đồng hạng khi bằng nhau)."
        )
        for label, key, units in (
            ("Ngay trên", "just_above", explanation.just_above),
            ("Đồng hạng", "tied_with", explanation.tied_with),
            ("Ngay dưới", "just_below", explanation.just_below),
        ):
            if units:
                rank += f'<br><span data-explain="{key}">{label}: {_units(units)}</span>'
    items.append(f'<li data-explain="rank">Xếp hạng [rank] {rank}</li>')
    margins = []
    for field, some, none in MARGIN_TEXT:
        value = getattr(unit.margins, field)
        if not unit.scored:
            text = "—"
        elif value is None:
            text = none
        else:
            text = some.format(
                f"<strong>{_points(value)}</strong>", _e(explanation.next_level_name or "")
            )
        margins.append(f'<li data-margin="{field}">{text} [{field}]</li>')
    items.append(
        '<li data-explain="margins">Khoảng cách [margins], các đơn vị khác giữ nguyên:'
        f"<ul>{''.join(margins)}</ul></li>"
    )
    pillars = "".join(
        f'<li data-pillar-code="{_e(p.pillar_code)}">{_e(p.pillar_name)} [{_e(p.pillar_code)}]: '
        f"{_points(p.score)}/{vn_number(p.max_points)} điểm, hạng "
        f"{'—' if p.rank is None else p.rank}</li>"
        for p in unit.pillars
    )
    items.append(f'<li data-explain="pillars">Chỉ số chính [pillars]:<ul>{pillars}</ul></li>')
    items.append(
        '<li data-explain="validation">Các lần kiểm định cho phép công bố bản này '
        '[validation_runs]: <a href="../manifest.json">manifest.json</a>; mọi câu trả lời, '
        f'minh chứng, giải trình và lý do thẩm định: <a href="../{_e(answers_file)}">'
        f"{_e(answers_file)}</a>.</li>"
    )
    return (
        f'<section id="{SECTION_ID}" aria-labelledby="h-{SECTION_ID}">'
        f'<h2 id="h-{SECTION_ID}">Giải trình kết quả</h2>'
        f'<ol class="explanation">{"".join(items)}</ol>'
        f"<p><small>Cùng nội dung với lệnh <code>dti explain --period {period} --unit "
        f"{_e(unit.unit_code)}</code> (thêm <code>--indicator &lt;mã&gt;</code> để xem mọi câu "
        "trả lời đã nhận của một chỉ số và phép tính điểm).</small></p></section>"
    )
