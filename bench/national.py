"""A deterministic national-scale registry and inbox: ~10,000 units × 50 indicators × 5 periods.

After the 2025 reorganisation every province assesses its wards and communes (phường, xã);
a national roll-up ranks them within their province (the registry's rank group).
"""

from __future__ import annotations

import csv
import random
import shutil
from dataclasses import dataclass
from pathlib import Path

PROVINCES = 34
PILLARS = (
    ("NTS", "Nhận thức số"), ("TCS", "Thể chế số"), ("HTS", "Hạ tầng số"),
    ("NLS", "Nhân lực số"), ("ATTT", "An toàn thông tin mạng"), ("CQS", "Chính quyền số"),
    ("KTS", "Kinh tế số"), ("XHS", "Xã hội số"),
)  # fmt: skip
METHODS = ("boolean", "ratio", "ratio", "tiers", "points")
FRAMEWORK = "bench-national"
BLOCK = "phuong_xa"


@dataclass(frozen=True)
class NationalScale:
    units: int = 10_000
    indicators: int = 50
    periods: tuple[int, ...] = (2021, 2022, 2023, 2024, 2025)
    files_per_province_period: int = 2
    seed: int = 2025

    @property
    def answers(self) -> int:
        return self.units * self.indicators * len(self.periods)


def write_project(scale: NationalScale, source_project: Path, target: Path) -> Path:
    """A copy of the dbt project whose seeds hold the national registry (data only)."""
    shutil.copytree(source_project, target, ignore=shutil.ignore_patterns("target", "logs"))
    seeds = target / "seeds"
    first, last = scale.periods[0], scale.periods[-1]
    per_pillar = scale.indicators // len(PILLARS)
    extra = scale.indicators - per_pillar * len(PILLARS)
    indicators = []
    pillars = []
    for p_index, (pillar_code, pillar_name) in enumerate(PILLARS):
        count = per_pillar + (1 if p_index < extra else 0)
        pillar_max = 0
        for i in range(1, count + 1):
            method = METHODS[(p_index + i) % len(METHODS)]
            max_points = 10
            pillar_max += max_points
            indicators.append(
                {
                    "framework_version": FRAMEWORK, "block": BLOCK,
                    "indicator_code": f"{pillar_code}.{i}", "pillar_code": pillar_code,
                    "indicator_name": f"{pillar_name} — chỉ số {i}", "max_points": max_points,
                    "method": method, "target": "80" if method == "ratio" and i % 2 else "",
                    "tiers": "1:3|3:6|5:10" if method == "tiers" else "", "applies_to": "",
                }
            )  # fmt: skip
        pillars.append((FRAMEWORK, BLOCK, pillar_code, pillar_name, pillar_max, p_index + 1))
    scale_max = sum(p[4] for p in pillars)
    _write_csv(
        seeds / "frameworks.csv",
        ["framework_version", "block", "valid_from", "valid_to", "scale_max", "source"],
        [[FRAMEWORK, BLOCK, first, last, scale_max, "benchmark registry"]],
    )  # fmt: skip
    _write_csv(
        seeds / "levels.csv",
        ["framework_version", "block", "level_code", "level_name", "sort_order", "from_pct",
         "colour", "background"],
        [[FRAMEWORK, BLOCK, "khoi_dong", "Khởi động", 1, 0, "#b45309", "#fef3c7"],
         [FRAMEWORK, BLOCK, "hinh_thanh", "Hình thành", 2, 60, "#1d4ed8", "#dbeafe"],
         [FRAMEWORK, BLOCK, "nang_cao", "Nâng cao", 3, 80, "#15803d", "#dcfce7"]],
    )  # fmt: skip
    _write_csv(
        seeds / "pillars.csv",
        ["framework_version", "block", "pillar_code", "pillar_name", "max_points", "sort_order"],
        pillars,
    )
    _write_csv(
        seeds / "indicators.csv", list(indicators[0]), [list(r.values()) for r in indicators]
    )
    _write_csv(
        seeds / "units.csv",
        ["unit_code", "unit_name", "block", "rank_group", "active_from", "active_to"],
        [
            [
                unit_code(u),
                f"Phường {u + 1:05d}",
                BLOCK,
                f"tinh-{province_of(scale, u):02d}",
                first,
                last,
            ]
            for u in range(scale.units)
        ],
    )
    _write_csv(
        seeds / "rank_groups.csv",
        ["rank_group", "rank_group_name"],
        sorted(
            {
                (f"tinh-{province_of(scale, u):02d}", f"Tỉnh {province_of(scale, u):02d}")
                for u in range(scale.units)
            }
        ),
    )
    _write_csv(
        seeds / "periods.csv",
        ["period", "deadline", "late_self_answers_count"],
        [[p, f"{p + 1}-01-31T23:59:59+07:00", "true"] for p in scale.periods],
    )
    # the national registry has no reorganisation, no map and none of the HCMC units' rank
    # groups by period: the HCMC rows do not apply
    for name in (
        "unit_lineage.csv",
        "former_units.csv",
        "unit_locations.csv",
        "unit_rank_groups.csv",
    ):
        header = (seeds / name).read_text(encoding="utf-8").splitlines()[0]
        (seeds / name).write_text(header + "\n", encoding="utf-8")
    return target


def unit_code(u: int) -> str:
    return f"PX-{u + 1:05d}"


def province_of(scale: NationalScale, u: int) -> int:
    return u * PROVINCES // scale.units + 1


def indicator_rows(scale: NationalScale) -> list[tuple[str, str, str]]:
    per_pillar = scale.indicators // len(PILLARS)
    extra = scale.indicators - per_pillar * len(PILLARS)
    rows = []
    for p_index, (pillar_code, _) in enumerate(PILLARS):
        for i in range(1, per_pillar + (1 if p_index < extra else 0) + 1):
            rows.append((f"{pillar_code}.{i}", METHODS[(p_index + i) % len(METHODS)], pillar_code))
    return rows


def value_for(rng: random.Random, method: str) -> str:
    if method == "boolean":
        return rng.choice(("có", "không", "1", "0", "yes"))
    if method == "ratio":
        return (
            f"{rng.uniform(20, 100):.1f}".replace(".", ",")
            if rng.random() < 0.3
            else f"{rng.uniform(20, 100):.2f}"
        )
    if method == "tiers":
        return str(rng.randint(0, 7))
    return f"{rng.uniform(0, 10):.2f}"


def write_inbox(scale: NationalScale, inbox: Path) -> list[Path]:
    """CSV files per period, province and part, each with its `.ready` flag."""
    inbox.mkdir(parents=True, exist_ok=True)
    rng = random.Random(scale.seed)
    indicators = indicator_rows(scale)
    by_province: dict[int, list[int]] = {}
    for u in range(scale.units):
        by_province.setdefault(province_of(scale, u), []).append(u)
    written = []
    header = [
        "period",
        "unit_code",
        "indicator_code",
        "value",
        "evidence_ref",
        "stage",
        "submitted_at",
    ]
    for period in scale.periods:
        for province, units in by_province.items():
            parts = scale.files_per_province_period
            for part in range(parts):
                chunk = units[part::parts]
                path = inbox / f"{period}_tinh-{province:02d}_{part + 1}.csv"
                with path.open("w", encoding="utf-8", newline="") as f:
                    writer = csv.writer(f)
                    writer.writerow(header)
                    for u in chunk:
                        day = rng.randint(1, 28)
                        stamp = f"{period}-12-{day:02d}T{rng.randint(8, 17):02d}:00:00+07:00"
                        for code, method, _ in indicators:
                            writer.writerow(
                                [
                                    period,
                                    unit_code(u),
                                    code,
                                    value_for(rng, method),
                                    "",
                                    "self",
                                    stamp,
                                ]
                            )
                path.with_name(path.name + ".ready").touch()
                written.append(path)
    return written


def write_one_submission(
    scale: NationalScale, inbox: Path, unit: int = 0, period: int | None = None
) -> Path:
    """One unit's revised submission, for the incremental run."""
    period = period or scale.periods[-1]
    rng = random.Random(scale.seed + 1)
    path = inbox / f"{period}_{unit_code(unit)}_revision.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["period", "unit_code", "indicator_code", "value", "stage", "submitted_at"])
        for code, method, _ in indicator_rows(scale):
            writer.writerow([period, unit_code(unit), code, value_for(rng, method), "self",
                             f"{period + 1}-01-15T09:00:00+07:00"])  # fmt: skip
    path.with_name(path.name + ".ready").touch()
    return path


def _write_csv(path: Path, header: list, rows: list) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
