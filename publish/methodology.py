"""``phuong-phap.html``: the methodology (phương pháp đánh giá) of a period, from the registry.

Everything on the page is read from the marts the scores were computed with
(``marts.dim_indicators``, ``marts.dim_frameworks``, the units' pillars and rank groups), so
the page printed for the conference booklet is the framework that was applied, not a copy
kept by hand. The rules of docs/spec/results.md §2–§6 are summarised in words.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from publish.collation import vietnamese_key
from publish.marts import PeriodMarts, RegistryIndicator, natural_key
from publish.numbers import vn_number
from publish.site import METHODOLOGY_PAGE, _e, block_name, render_page

PAGE = METHODOLOGY_PAGE

METHODS = {
    "boolean": "Có/Không: đủ điểm khi trả lời có (1, true, có, yes), 0 điểm khi không",
    "ratio": (
        "Tỷ lệ: đủ điểm khi đạt chỉ tiêu; dưới chỉ tiêu, điểm = điểm tối đa × giá trị / chỉ tiêu"
    ),
    "tiers": "Theo bậc: điểm của bậc cao nhất mà giá trị đạt tới; dưới bậc thấp nhất 0 điểm",
    "points": "Điểm nhập trực tiếp, làm tròn 2 chữ số thập phân",
}


def _points(value: Decimal | None) -> str:
    return vn_number(value)


def tiers_text(tiers: str | None) -> str:
    """``5:2|10:3.5`` → ``từ 5: 2 điểm; từ 10: 3,5 điểm``."""
    if not tiers:
        return ""
    parts = []
    for tier in tiers.split("|"):
        lower, _, points = tier.partition(":")
        parts.append(f"từ {vn_number(Decimal(lower))}: {vn_number(Decimal(points))} điểm")
    return "; ".join(parts)


def _pillar_names(marts: PeriodMarts, block: str) -> dict[str, tuple[int, str]]:
    names: dict[str, tuple[int, str]] = {}
    for unit in marts.block_units(block):
        for p in unit.pillars:
            names.setdefault(p.pillar_code, (p.sort_order, p.pillar_name))
    return names


def _indicator_rows(indicators: Sequence[RegistryIndicator]) -> str:
    rows = []
    for i in sorted(indicators, key=lambda i: natural_key(i.indicator_code)):
        method = METHODS.get(i.method, i.method)
        detail = []
        if i.method == "ratio":
            detail.append(
                f"chỉ tiêu {vn_number(i.target if i.target is not None else Decimal(100))}"
            )
        if i.tiers:
            detail.append(tiers_text(i.tiers))
        if i.applies_to:
            detail.append("chỉ áp dụng cho " + ", ".join(i.applies_to.split("|")))
        rows.append(
            f'<tr data-indicator="{_e(i.indicator_code)}"><th scope="row">'
            f"{_e(i.indicator_code)}</th><td>{_e(i.indicator_name)}</td>"
            f"<td>{_e(method)}{''.join(f'<br><small>{_e(d)}</small>' for d in detail)}</td>"
            f'<td class="num">{_points(i.max_points) if i.max_points else "không tính điểm"}</td>'
            "</tr>"
        )
    return "".join(rows)


def _block_section(marts: PeriodMarts, block: str) -> str:
    fw = marts.framework(block)
    indicators = [
        i
        for i in marts.registry
        if i.block == block and (fw is None or i.framework_version == fw.framework_version)
    ]
    names = _pillar_names(marts, block)
    by_pillar: dict[str, list[RegistryIndicator]] = {}
    for i in indicators:
        by_pillar.setdefault(i.pillar_code, []).append(i)
    order = sorted(by_pillar, key=lambda code: (names.get(code, (999, code))[0], code))
    parts = [f'<section class="block" id="pp-{_e(block)}"><h2>{_e(block_name(block))}</h2>']
    if fw is not None:
        scale = fw.scale_max
        parts.append(
            f"<p>Khung đánh giá <strong>{_e(fw.framework_version)}</strong>, thang điểm "
            f"{_points(scale)}; {len(order)} chỉ số chính, {len(indicators)} chỉ số thành phần."
            "</p>"
            '<table><caption>Mức độ chuyển đổi số</caption><thead><tr><th scope="col">Mức độ'
            '</th><th scope="col">Từ (tỷ lệ điểm đạt)</th><th scope="col">Trên thang '
            f"{_points(scale)} điểm</th></tr></thead><tbody>"
            + "".join(
                f"<tr><th scope='row'>{_e(lv.level_name)}</th>"
                f"<td>{vn_number(lv.from_pct)} %</td>"
                f"<td>{_points(scale * lv.from_pct / 100)}</td></tr>"
                for lv in fw.levels
            )
            + "</tbody></table>"
        )
    groups = sorted({u.rank_group for u in marts.block_units(block)}, key=vietnamese_key)
    if groups == [""]:
        parts.append("<p>Xếp hạng: một bảng xếp hạng chung cho cả khối.</p>")
    else:
        group_names = marts.rank_group_names
        items = "".join(
            f'<li data-rank-group="{_e(g)}">'
            f"{_e(f'{group_names.get((block, g)) or g} [{g}]' if g else '(không thuộc nhóm)')}: "
            f"{sum(1 for u in marts.block_units(block) if u.rank_group == g)} đơn vị</li>"
            for g in groups
        )
        parts.append(f"<p>Xếp hạng riêng trong từng nhóm:</p><ul>{items}</ul>")
    for code in order:
        pillar_indicators = by_pillar[code]
        total = sum((i.max_points for i in pillar_indicators), Decimal(0))
        name = names.get(code, (0, code))[1]
        parts.append(
            f'<table class="methodology" data-pillar="{_e(code)}"><caption>{_e(code)} — '
            f"{_e(name)} (tối đa {_points(total)} điểm)</caption><thead><tr>"
            '<th scope="col">Mã</th><th scope="col">Chỉ số thành phần</th>'
            '<th scope="col">Cách tính điểm</th><th scope="col" class="num">Điểm tối đa</th>'
            f"</tr></thead><tbody>{_indicator_rows(pillar_indicators)}</tbody></table>"
        )
    parts.append("</section>")
    return "".join(parts)


RULES = (
    "<section><h2>Quy tắc chung</h2><ul>"
    "<li>Mỗi chỉ số thành phần tính theo câu trả lời mới nhất của đơn vị; câu trả lời để trống "
    "là rút lại giá trị trước đó.</li>"
    "<li>Điểm thẩm định của Hội đồng thay cho điểm tự đánh giá ở chỉ số được thẩm định.</li>"
    "<li>Điểm từng chỉ số làm tròn nửa lên đến 2 chữ số thập phân; điểm chỉ số chính và tổng "
    "điểm là tổng các điểm đã làm tròn.</li>"
    "<li>Mức độ so sánh chính xác tổng điểm với ngưỡng trên điểm tối đa áp dụng cho đơn vị "
    "(chỉ số không áp dụng không tính vào điểm tối đa).</li>"
    "<li>Xếp hạng theo tỷ lệ chính xác tổng điểm / điểm tối đa áp dụng, cao trước; bằng nhau "
    "thì cùng hạng, hạng sau bỏ qua (1, 2, 2, 4). Đơn vị chưa nộp không được xếp hạng.</li>"
    "</ul></section>"
)


def inputs(marts: PeriodMarts, publication: str = "final") -> tuple:
    """Everything ``render_methodology`` reads: the registry and frameworks, the level names,
    and of the units only their pillars' names and how many units each rank group holds (a
    revised answer leaves the page as it is)."""
    blocks = []
    for block in marts.blocks:
        groups: dict[tuple[str, str], int] = {}
        for unit in marts.block_units(block):
            key = (unit.rank_group, unit.rank_group_name)
            groups[key] = groups.get(key, 0) + 1
        blocks.append(
            (block, marts.framework(block), _pillar_names(marts, block), sorted(groups.items()))
        )
    return (marts.period, publication, marts.registry, marts.level_names, tuple(blocks))


def render_methodology(marts: PeriodMarts, publication: str = "final") -> str:
    body = (
        '<nav class="blocks"><a href="index.html">← Bảng xếp hạng</a></nav>'
        + "".join(_block_section(marts, block) for block in marts.blocks)
        + RULES
    )
    title = f"Phương pháp đánh giá — DTI {marts.period}"
    subtitle = "Chỉ số, cách tính điểm, ngưỡng mức độ và nhóm xếp hạng áp dụng năm " + str(
        marts.period
    )
    return render_page(title, body, "", title, _e(subtitle), publication)
