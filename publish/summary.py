"""The text `dti run` prints: per block, how many units, how many per level, and per rank
group (under its label, when the block ranks in groups) the top 3 (or with ``show_ranking``
the whole ranking), ending with the path of the site's index.html.

It reads the bundle just written, so what the operator sees is what was published.
"""

from __future__ import annotations

import json
import unicodedata
from decimal import Decimal
from pathlib import Path
from typing import Protocol

from dti.text import printable_fields
from publish import releases
from publish.collation import vietnamese_key
from publish.numbers import vn_number
from publish.results import load_results
from publish.site import block_name


class _Summary(Protocol):
    period: int
    bundle_dir: Path
    validation_runs: list


def display_width(text: str) -> int:
    """Columns a terminal uses for ``text`` (combining marks take none)."""
    return sum(0 if unicodedata.combining(ch) else 1 for ch in text)


def _pad(text: str, width: int, right: bool = False) -> str:
    gap = " " * max(width - display_width(text), 0)
    return gap + text if right else text + gap


def level_label(level: str | None, labels: dict[str, str]) -> str:
    if not level:
        return "chưa nộp"
    return labels.get(level, level)


def _table(units: list[dict], labels: dict[str, str]) -> list[str]:
    header = ["Hạng", "Đơn vị", "Điểm", "Tối đa", "Tỷ lệ %", "Mức độ"]
    rows = [
        [
            "—" if u["rank"] is None else str(u["rank"]),
            u["unit_name"],
            vn_number(Decimal(u["total_score"]), 2) if u["status"] == "scored" else "—",
            vn_number(Decimal(u["applicable_max"])),
            vn_number(None if u["percent"] is None else Decimal(u["percent"]), 2),
            level_label(u["level"], labels),
        ]
        for u in units
    ]
    widths = [max(display_width(r[i]) for r in [header, *rows]) for i in range(len(header))]
    right = {0, 2, 3, 4}
    return [
        "  " + "  ".join(_pad(cell, widths[i], i in right) for i, cell in enumerate(row)).rstrip()
        for row in [header, *rows]
    ]


def _rank_groups(units: list[dict]) -> list[tuple[str, str, list[dict]]]:
    """A block's units by rank group, as ``(code, label, units in results.json order)``, the
    groups in the site's order; one group ``''`` when the block ranks as one."""
    groups: dict[str, list[dict]] = {}
    names: dict[str, str] = {}
    for unit in units:
        group = unit.get("rank_group") or ""
        groups.setdefault(group, []).append(unit)
        names.setdefault(group, unit.get("rank_group_name") or "")
    return [(g, names[g], groups[g]) for g in sorted(groups, key=vietnamese_key)]


def render_summary(summary: _Summary, show_ranking: bool = False) -> str:
    bundle_dir = Path(summary.bundle_dir)
    results = load_results(bundle_dir / "results.json")
    if results is None:
        raise FileNotFoundError(
            f"{bundle_dir / 'results.json'} is missing; the bundle was not written"
        )
    manifest_path = bundle_dir / "manifest.json"
    manifest = (
        json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.is_file() else {}
    )
    # names and warnings come from data: no escape sequence or forged line reaches the terminal
    results, manifest = printable_fields(results), printable_fields(manifest)

    lines = [f"DTI {summary.period} — Chỉ số chuyển đổi số, kết quả trong {bundle_dir}"]
    describe_ingest = getattr(getattr(summary, "ingest_report", None), "summary", None)
    if callable(describe_ingest):
        lines.append(f"Nhận dữ liệu: {describe_ingest()}")
    # the levels' labels and order as published (marts.dim_levels), highest first
    levels = sorted(manifest.get("levels") or [], key=lambda lv: -lv["sort_order"])
    labels = {lv["level"]: lv["level_name"] for lv in levels}
    level_order = [lv["level"] for lv in levels]
    validation = manifest.get("validation") or {}
    if validation:
        state = "đạt" if validation.get("passed") else "KHÔNG đạt"
        # warnings do not stop a publication, but they are said, never hidden
        warnings = [
            f"{run.get('suite')}: {warning}"
            for run in manifest.get("validation_runs") or []
            for warning in run.get("warnings") or []
        ]
        said = f", {len(warnings)} cảnh báo:" if warnings else ""
        lines.append(f"Kiểm định dữ liệu: {validation.get('runs', 0)} bộ kiểm tra, {state}{said}")
        lines.extend(f"  - {warning}" for warning in warnings)
    release = manifest.get("release") or {}
    if release.get("previous_release"):
        changed = len(manifest.get("changes") or [])
        lines.append(
            f"Phát hành lần {release.get('number')}: {changed} đơn vị thay đổi điểm, mức độ "
            f"hoặc hạng so với lần {release['previous_release']}"
        )
    if release.get("status") == "draft":
        lines.append(
            f"Bản nháp lần {release.get('number')} chờ phê duyệt (chưa công bố): "
            f"dti release approve --period {summary.period} hoặc dti release reject "
            f"--period {summary.period}"
        )
    if releases.release_info(manifest)[releases.PUBLICATION] == releases.PRELIMINARY:
        lines.append("Công bố sơ bộ: các trang có dòng thông báo kết quả sơ bộ")

    blocks: dict[str, list[dict]] = {}
    for unit in results["units"]:
        blocks.setdefault(unit["block"], []).append(unit)
    for block, units in blocks.items():
        scored = [u for u in units if u["status"] == "scored"]
        lines.append("")
        lines.append(
            f"{block_name(block)} ({block}): {len(scored)} đơn vị được chấm điểm, "
            f"{len(units) - len(scored)} chưa nộp"
        )
        counts: dict[str, int] = {}
        for u in scored:
            counts[u["level"]] = counts.get(u["level"], 0) + 1
        ordered = [lv for lv in level_order if lv in counts] + sorted(
            set(counts) - set(level_order)
        )
        if ordered:
            lines.append(
                "  " + " · ".join(f"{level_label(lv, labels)} {counts[lv]}" for lv in ordered)
            )
        for group, name, members in _rank_groups(units):
            if group:  # a block ranked in groups: each group's ranking under its label
                ranked = sum(1 for u in members if u["status"] == "scored")
                lines.append(f"  Nhóm xếp hạng {name or group}: {ranked} đơn vị được chấm điểm")
            if show_ranking:
                lines.extend(_table(members, labels))
            else:
                for u in [u for u in members if u["status"] == "scored"][:3]:
                    lines.append(
                        f"  {u['rank']}. {u['unit_name']} — "
                        f"{vn_number(Decimal(u['total_score']))}"
                        f"/{vn_number(Decimal(u['applicable_max']))} điểm, "
                        f"{level_label(u['level'], labels)}"
                    )
    lines.append("")
    lines.append(f"Trang kết quả: {bundle_dir / 'index.html'}")
    return "\n".join(lines)
