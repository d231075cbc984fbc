"""The map of a block whose units have places (the wards, communes and special zone).

Each unit is a point at its coordinates (``marts.dim_unit_locations``, from the registry's
``unit_locations.csv``), coloured by its level, in inline SVG: no JavaScript, no tiles, nothing
fetched, so it works offline and prints. Hovering a point shows the unit's name and result
(its ``<title>``); the same results are listed beside the map in Vietnamese name order. A
point far from every other (Côn Đảo, 180 km offshore) is drawn in an inset instead of
stretching the map.

The page around it is ``publish.site``'s; this module gives the figure and its CSS.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from html import escape

from dti.codes import file_part
from publish.charts import NEUTRAL
from publish.collation import vietnamese_key
from publish.marts import UnitLocation, UnitScore
from publish.numbers import vn_number

MAP_CSS = """\
.map-layout { display: grid; grid-template-columns: minmax(0, 3fr) minmax(16rem, 2fr);
  gap: 24px; align-items: start; }
@media (max-width: 900px) { .map-layout { grid-template-columns: 1fr; } }
svg.map { border: 1px solid var(--line); background: #f8fafc; }
svg.map circle { stroke: #fff; stroke-width: 1; }
svg.map a:hover circle, svg.map a:focus circle { stroke: #111827; stroke-width: 2; }
svg.map text { font-family: inherit; font-size: 12px; fill: var(--muted); }
ol.map-list { max-height: 720px; overflow-y: auto; margin: 0; padding-left: 2.6rem;
  font-size: 0.9rem; }
ol.map-list li { padding: 2px 0; }
ul.legend { list-style: none; display: flex; gap: 16px; flex-wrap: wrap; padding: 0; }
ul.legend svg { vertical-align: middle; }
@media print { ol.map-list { max-height: none; overflow: visible; columns: 2; } }
"""

WIDTH = 760
MARGIN = 16
RADIUS = 5
INSET = 120  # side of the inset square for far-off units
# A unit whose nearest neighbour is this many times farther than is typical goes into the
# inset: the islands, not the outer communes.
OUTLIER_FACTOR = 12
SCALE = Decimal("0.01")


def map_page_name(block: str) -> str:
    return f"ban-do-{file_part(block)}.html"


@dataclass(frozen=True)
class _Point:
    unit: UnitScore
    x: Decimal
    y: Decimal


def _n(value: Decimal) -> str:
    return format(value.quantize(SCALE, ROUND_HALF_UP), "f")


def _median(values: Sequence[Decimal]) -> Decimal:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def _cos(latitude: Decimal) -> Decimal:
    """cos(latitude), for the map's aspect ratio (geometry, not a score)."""
    return Decimal(repr(math.cos(math.radians(float(latitude)))))


def _project(
    units: Sequence[UnitScore],
    locations: Mapping[str, UnitLocation],
    box: tuple[Decimal, Decimal, Decimal, Decimal],
    centre: bool = False,
) -> tuple[list[_Point], Decimal]:
    """Equirectangular projection of ``units`` into ``box`` (x, y, width, height); returns
    the points and the height actually used (the box height is a maximum; ``centre`` puts
    the points in the middle of the box instead of at its top)."""
    left, top, width, height = box
    lats = [locations[u.unit_code].latitude for u in units]
    lons = [locations[u.unit_code].longitude for u in units]
    aspect = _cos(_median(lats))
    span_x = max((max(lons) - min(lons)) * aspect, Decimal("0.01"))
    span_y = max(max(lats) - min(lats), Decimal("0.01"))
    scale = min(width / span_x, height / span_y)
    used = span_y * scale
    if centre:
        top += (height - used) / 2
    mid_lat, mid_lon = (max(lats) + min(lats)) / 2, (max(lons) + min(lons)) / 2
    points = [
        _Point(
            unit=unit,
            x=left + width / 2 + (locations[unit.unit_code].longitude - mid_lon) * aspect * scale,
            y=top + used / 2 - (locations[unit.unit_code].latitude - mid_lat) * scale,
        )
        for unit in units
    ]
    return points, used


def _split_outliers(
    units: Sequence[UnitScore], locations: Mapping[str, UnitLocation]
) -> tuple[list[UnitScore], list[UnitScore]]:
    """Units far from every other unit (islands) apart from the rest."""
    if len(units) < 3:
        return list(units), []
    places = [(locations[u.unit_code].latitude, locations[u.unit_code].longitude) for u in units]

    def nearest(i: int) -> Decimal:
        lat, lon = places[i]
        return min(
            abs(lat - other[0]) + abs(lon - other[1]) for j, other in enumerate(places) if j != i
        )

    gaps = [nearest(i) for i in range(len(units))]
    typical = _median(gaps)
    if typical == 0:
        return list(units), []
    main = [u for u, gap in zip(units, gaps, strict=True) if gap <= typical * OUTLIER_FACTOR]
    far = [u for u, gap in zip(units, gaps, strict=True) if gap > typical * OUTLIER_FACTOR]
    return main, far


def result_text(unit: UnitScore) -> str:
    """``Phường Sài Gòn — 85,2 % (Nâng cao), hạng 12``: what hovering a point says."""
    if not unit.scored or unit.percent is None:
        return f"{unit.unit_name} — chưa nộp"
    rank = f", hạng {unit.rank}" if unit.rank is not None else ""
    level = f" ({unit.level_name})" if unit.level_name else ""
    return f"{unit.unit_name} — {vn_number(unit.percent)} %{level}{rank}"


def _colour(unit: UnitScore, level_colours: Mapping[str, str]) -> str:
    return level_colours.get(unit.level or "", NEUTRAL) if unit.scored else NEUTRAL


def _circle(point: _Point, unit_dir: str, page_name: str, level_colours: Mapping[str, str]) -> str:
    unit = point.unit
    return (
        f'<a href="{escape(unit_dir)}/{escape(page_name)}" '
        f'data-unit-code="{escape(unit.unit_code)}" data-level="{escape(unit.level or "")}">'
        f'<circle cx="{_n(point.x)}" cy="{_n(point.y)}" r="{RADIUS}" fill="{_colour(unit, level_colours)}">'
        f"<title>{escape(result_text(unit))}</title></circle></a>"
    )


def map_svg(
    units: Sequence[UnitScore],
    locations: Mapping[str, UnitLocation],
    unit_dir: str,
    page_names: Mapping[str, str],
    title: str,
    level_colours: Mapping[str, str],
) -> str:
    """The block's units as points, in their level's colour (``level_colours`` by level code):
    the main area, and an inset for far-off units."""
    placed = [u for u in units if u.unit_code in locations]
    main, far = _split_outliers(placed, locations)
    inner = Decimal(WIDTH - 2 * MARGIN)
    points, used = _project(
        main, locations, (Decimal(MARGIN), Decimal(MARGIN), inner, inner * Decimal("1.2"))
    )
    height = used + 2 * MARGIN
    body: list[str] = []
    if far:
        top = height - INSET - MARGIN
        body.append(
            f'<rect class="inset" x="{MARGIN}" y="{_n(top)}" width="{INSET}" height="{INSET}" '
            'fill="#fff" stroke="#9ca3af" stroke-dasharray="4 3"/>'
        )
        inset_points, _ = _project(
            far,
            locations,
            (Decimal(MARGIN + 20), top + 20, Decimal(INSET - 40), Decimal(INSET - 40)),
            centre=True,
        )
        points += inset_points
        names = ", ".join(u.unit_name for u in far)
        body.append(
            f'<text x="{MARGIN + 4}" y="{_n(top + INSET - 6)}">{escape(names)} (khung phụ)</text>'
        )
    points.sort(key=lambda p: (p.y, p.x, p.unit.unit_code))
    body += [_circle(p, unit_dir, page_names[p.unit.unit_code], level_colours) for p in points]
    desc = (
        f"{len(points)} đơn vị, mỗi đơn vị một điểm tại tọa độ của nó, tô màu theo mức độ; "
        "di chuột lên một điểm để xem tên và kết quả."
    )
    return (
        f'<svg class="map" xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {WIDTH} {_n(height)}" width="100%" role="img" '
        f'aria-labelledby="ban-do-title ban-do-desc" data-points="{len(points)}">'
        f'<title id="ban-do-title">{escape(title)}</title>'
        f'<desc id="ban-do-desc">{escape(desc)}</desc>' + "".join(body) + "</svg>"
    )


def _legend(
    level_names: Mapping[str, str], level_order: Sequence[str], level_colours: Mapping[str, str]
) -> str:
    items = [
        (level_colours.get(level, NEUTRAL), level_names.get(level, level)) for level in level_order
    ]
    items.append((NEUTRAL, "Chưa nộp"))
    return (
        '<ul class="legend" aria-label="Chú giải">'
        + "".join(
            f'<li><svg width="14" height="14" aria-hidden="true"><circle cx="7" cy="7" r="6" '
            f'fill="{colour}"/></svg> {escape(name)}</li>'
            for colour, name in items
        )
        + "</ul>"
    )


def map_figure(
    units: Sequence[UnitScore],
    locations: Mapping[str, UnitLocation],
    level_names: Mapping[str, str],
    level_order: Sequence[str],
    level_colours: Mapping[str, str],
    unit_dir: str,
    page_names: Mapping[str, str],
    title: str,
) -> str:
    """The map, its legend and the list of the units beside it (Vietnamese name order)."""
    placed = [u for u in units if u.unit_code in locations]
    listed = sorted(placed, key=lambda u: (vietnamese_key(u.unit_name), u.unit_code))
    items = "".join(
        f'<li data-unit-code="{escape(u.unit_code)}"><a href="{escape(unit_dir)}/'
        f'{escape(page_names[u.unit_code])}">{escape(u.unit_name)}</a> — '
        + (
            f"{vn_number(u.percent)} %, {escape(u.level_name or '')}"
            if u.scored and u.percent is not None
            else "chưa nộp"
        )
        + "</li>"
        for u in listed
    )
    return (
        '<div class="map-layout">'
        f"<figure>{map_svg(placed, locations, unit_dir, page_names, title, level_colours)}"
        f"<figcaption>{_legend(level_names, level_order, level_colours)}Tọa độ: gói vietnamadminunits "
        "(registry unit_locations.csv).</figcaption></figure>"
        f'<ol class="map-list" aria-label="Danh sách đơn vị theo tên">{items}</ol>'
        "</div>"
    )
