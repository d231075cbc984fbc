"""Fixture warehouses with exactly the mart columns of docs/architecture.md.

``make_warehouse(path, period, units, ...)`` writes a small DuckDB file the way dbt would:
given each unit's indicator points it derives pillar scores, totals, percent, level and rank
(competition rank on the exact ratio), so tests state answers and check what gets published.
``seed_units(...)`` builds the whole HCMC registry (53 units) with seeded answers for the
site and browser tests.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from pathlib import Path

import duckdb

from dti.settings import SEEDS_DIR

D = Decimal
# (code, label, from_pct, colour, background), lowest first: HCMC's three levels (levels.csv)
HCMC_LEVELS = (
    ("khoi_dong", "Khởi động", D(0), "#b45309", "#fef3c7"),
    ("hinh_thanh", "Hình thành", D(60), "#1d4ed8", "#dbeafe"),
    ("nang_cao", "Nâng cao", D(80), "#15803d", "#dcfce7"),
)

DDL = """
create schema if not exists marts;
create schema if not exists raw;
create table if not exists marts.fct_unit_scores (
    period integer, unit_code varchar, unit_name varchar, block varchar, rank_group varchar,
    framework_version varchar, status varchar, total_score decimal(9,2),
    self_score decimal(9,2), applicable_max decimal(9,2), percent decimal(7,2),
    level varchar, level_name varchar, rank integer, is_late boolean,
    answered_count integer, unanswered_count integer, appraised_count integer,
    next_level varchar, points_to_next_level decimal(9,2), points_to_drop_level decimal(9,2),
    points_to_next_rank decimal(9,2), points_to_drop_rank decimal(9,2),
    rank_group_name varchar, not_ranked_reason varchar
);
create table if not exists marts.fct_pillar_scores (
    period integer, unit_code varchar, block varchar, framework_version varchar,
    pillar_code varchar, pillar_name varchar, sort_order integer, score decimal(9,2),
    self_score decimal(9,2), max_points decimal(9,2), rank_group varchar, rank integer
);
create table if not exists marts.fct_indicator_points (
    period integer, unit_code varchar, block varchar, framework_version varchar,
    pillar_code varchar, indicator_code varchar, indicator_name varchar, method varchar,
    max_points decimal(9,2), self_value varchar, appraisal_value varchar,
    scored_value varchar, scored_stage varchar, is_answered boolean, is_late boolean,
    self_points decimal(9,2), final_points decimal(9,2), self_submission_id varchar,
    appraisal_submission_id varchar, self_evidence_ref varchar, appraisal_evidence_ref varchar,
    scored_evidence_ref varchar, self_note varchar, appraiser varchar, appraisal_reason varchar
);
create table if not exists marts.dim_units (
    unit_code varchar, unit_name varchar, block varchar, rank_group varchar,
    active_from integer, active_to integer
);
create table if not exists marts.dim_indicators (
    framework_version varchar, block varchar, pillar_code varchar, indicator_code varchar,
    indicator_name varchar, max_points decimal(9,2), method varchar, target decimal(9,2),
    tiers varchar, applies_to varchar
);
create table if not exists marts.dim_frameworks (
    framework_version varchar, block varchar, valid_from integer, valid_to integer,
    scale_max decimal(9,2)
);
create table if not exists marts.dim_levels (
    framework_version varchar, block varchar, level varchar, level_name varchar,
    sort_order integer, from_pct decimal(9,4), colour varchar, background varchar,
    below_pct decimal(9,4)
);
create table if not exists raw.load_ledger (
    batch_sha256 varchar, source varchar, source_file varchar, size_bytes bigint,
    received_at timestamptz, outcome varchar, reason_code varchar, reason varchar,
    rows_total integer, rows_loaded integer, rows_refused integer, stored_at varchar,
    periods integer[]
);
"""


@dataclass(frozen=True)
class Indicator:
    code: str
    pillar: str
    name: str
    max_points: Decimal
    method: str = "points"


@dataclass(frozen=True)
class Pillar:
    code: str
    name: str
    sort_order: int


@dataclass(frozen=True)
class Framework:
    version: str
    block: str
    pillars: tuple[Pillar, ...]
    indicators: tuple[Indicator, ...]
    scale_max: Decimal
    levels: tuple[tuple[str, str, Decimal, str, str], ...] = HCMC_LEVELS  # lowest first


@dataclass
class UnitSpec:
    """A unit and its answers: indicator code → (self points, appraisal points)."""

    code: str
    name: str
    block: str
    answers: dict[str, tuple[Decimal | None, Decimal | None]] = field(default_factory=dict)
    rank_group: str = ""
    late: bool = False
    not_ranked_reason: str | None = None  # assessed without a rank, for this reason


SMALL_SO = Framework(
    version="hcm-2023",
    block="so_nganh",
    pillars=(Pillar("NTS", "Nhận thức số", 1), Pillar("HTS", "Hạ tầng số", 2)),
    indicators=(
        Indicator("NTS.1", "NTS", "Người đứng đầu trực tiếp chỉ đạo", D(10)),
        Indicator("NTS.2", "NTS", "Ban hành kế hoạch chuyển đổi số năm", D(10)),
        Indicator("NTS.10", "NTS", "Tuyên truyền về chuyển đổi số", D(5)),
        Indicator("HTS.1", "HTS", "Tỷ lệ máy tính kết nối mạng", D(25)),
    ),
    scale_max=D(50),
)
SMALL_QH = Framework(
    version="hcm-2023",
    block="quan_huyen",
    pillars=(Pillar("CQS", "Chính quyền số", 1),),
    indicators=(
        Indicator("CQS.1", "CQS", "Hồ sơ trực tuyến toàn trình", D(60)),
        Indicator("CQS.2", "CQS", "Kết nối liên thông", D(40)),
    ),
    scale_max=D(100),
)


def rank_group_name(group: str) -> str:
    """The label the marts give a rank group: the registry's (rank_groups.csv), else
    ``Nhóm <code>`` for a group the tests make up; '' for the whole block."""
    if not group:
        return ""
    return {r["rank_group"]: r["rank_group_name"] for r in read_seed("rank_groups.csv")}.get(
        group, f"Nhóm {group}"
    )


def _round2(value: Decimal) -> Decimal:
    return value.quantize(D("0.01"), rounding=ROUND_HALF_UP)


def make_warehouse(
    path: Path,
    period: int,
    units: list[UnitSpec],
    frameworks: tuple[Framework, ...] = (SMALL_SO, SMALL_QH),
    ledger: list[dict] | None = None,
) -> Path:
    """Writes (or adds a period to) a fixture warehouse and returns its path."""
    by_block = {f.block: f for f in frameworks}
    con = duckdb.connect(str(path))
    try:
        con.execute(DDL)
        inserts = _Inserts()
        exists = con.execute("select count(*) from marts.dim_frameworks").fetchone()[0]
        if not exists:
            for f in frameworks:
                inserts.add(
                    "insert into marts.dim_frameworks values (?, ?, ?, ?, ?)",
                    [f.version, f.block, 2023, 2024, f.scale_max],
                )
                bands = [lv[2] for lv in f.levels] + [None]
                for order, (code, name, from_pct, colour, background) in enumerate(
                    f.levels, start=1
                ):
                    inserts.add(
                        "insert into marts.dim_levels values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [
                            f.version,
                            f.block,
                            code,
                            name,
                            order,
                            from_pct,
                            colour,
                            background,
                            bands[order],
                        ],
                    )
                for i in f.indicators:
                    inserts.add(
                        "insert into marts.dim_indicators values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [
                            f.version,
                            f.block,
                            i.pillar,
                            i.code,
                            i.name,
                            i.max_points,
                            i.method,
                            None,
                            None,
                            None,
                        ],
                    )
        unit_rows = []
        pillar_rows: list[list] = []
        for u in units:
            f = by_block[u.block]
            inserts.add(
                "insert into marts.dim_units values (?, ?, ?, ?, ?, ?)",
                [u.code, u.name, u.block, u.rank_group, period, period + 1],
            )
            total = self_total = applicable = D(0)
            answered = appraised = 0
            pillar_sum: dict[str, list[Decimal]] = {p.code: [D(0), D(0), D(0)] for p in f.pillars}
            for i in f.indicators:
                self_pts, appr_pts = u.answers.get(i.code, (None, None))
                final = appr_pts if appr_pts is not None else self_pts
                is_answered = final is not None
                final = final if final is not None else D(0)
                answered += is_answered
                appraised += appr_pts is not None
                total += final
                self_total += self_pts or D(0)
                applicable += i.max_points
                sums = pillar_sum[i.pillar]
                sums[0] += final
                sums[1] += self_pts or D(0)
                sums[2] += i.max_points
                stage = (
                    "appraisal"
                    if appr_pts is not None
                    else "self"
                    if self_pts is not None
                    else None
                )
                inserts.add(
                    "insert into marts.fct_indicator_points values "
                    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        period,
                        u.code,
                        u.block,
                        f.version,
                        i.pillar,
                        i.code,
                        i.name,
                        i.method,
                        i.max_points,
                        None if self_pts is None else str(self_pts),
                        None if appr_pts is None else str(appr_pts),
                        None if not is_answered else str(final),
                        stage,
                        is_answered,
                        u.late and self_pts is not None,
                        self_pts,
                        final,
                        None if self_pts is None else f"s-{u.code}-{i.code}",
                        None if appr_pts is None else f"a-{u.code}-{i.code}",
                        None if self_pts is None else f"BC {i.code}/{u.code}",
                        None if appr_pts is None else f"Biên bản HĐ {i.code}",
                        None
                        if stage is None
                        else f"Biên bản HĐ {i.code}"
                        if stage == "appraisal"
                        else f"BC {i.code}/{u.code}",
                        None,
                        None if appr_pts is None else "Nguyễn Thị Thẩm",
                        None if appr_pts is None else f"Điều chỉnh {i.code} theo hồ sơ",
                    ],
                )
            for p in f.pillars:
                score, self_score, max_points = pillar_sum[p.code]
                pillar_rows.append(
                    [
                        period,
                        u.code,
                        u.block,
                        f.version,
                        p.code,
                        p.name,
                        p.sort_order,
                        score,
                        self_score,
                        max_points,
                        u.rank_group,
                        answered > 0 and max_points > 0,  # replaced by the pillar's rank
                    ]
                )
            scored = answered > 0
            level = None
            if scored:
                level = next(
                    code
                    for code, _, from_pct, *_ in reversed(f.levels)
                    if total * 100 >= from_pct * applicable
                )
            unit_rows.append(
                {
                    "u": u,
                    "f": f,
                    "total": total,
                    "self": self_total,
                    "max": applicable,
                    "scored": scored,
                    "level": level,
                    "answered": answered,
                    "appraised": appraised,
                    "ratio": Fraction(total) / Fraction(applicable) if scored else None,
                }
            )
        # pillar ranks: competition ranks on the exact ratio within block, group and pillar
        ranks = [
            1
            + sum(
                1
                for o in pillar_rows
                if o[11]
                and (o[2], o[10], o[4]) == (row[2], row[10], row[4])
                and Fraction(o[7]) / Fraction(o[9]) > Fraction(row[7]) / Fraction(row[9])
            )
            if row[11]
            else None
            for row in pillar_rows
        ]
        for row, rank in zip(pillar_rows, ranks, strict=True):
            row[11] = rank
        for row in pillar_rows:
            inserts.add(
                "insert into marts.fct_pillar_scores values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )
        for r in unit_rows:
            u = r["u"]
            rank = None
            if r["scored"] and u.not_ranked_reason is None:
                rank = 1 + sum(
                    1
                    for o in unit_rows
                    if o["scored"]
                    and o["u"].not_ranked_reason is None
                    and o["u"].block == u.block
                    and o["u"].rank_group == u.rank_group
                    and o["ratio"] > r["ratio"]
                )
            inserts.add(
                "insert into marts.fct_unit_scores values "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    period,
                    u.code,
                    u.name,
                    u.block,
                    u.rank_group,
                    r["f"].version,
                    "scored" if r["scored"] else "not_submitted",
                    r["total"],
                    r["self"],
                    r["max"],
                    _round2(r["total"] * 100 / r["max"]) if r["scored"] else None,
                    r["level"],
                    {lv[0]: lv[1] for lv in r["f"].levels}.get(r["level"]),
                    rank,
                    u.late,
                    r["answered"],
                    len(r["f"].indicators) - r["answered"],
                    r["appraised"],
                    None,
                    None,
                    None,
                    None,
                    None,
                    rank_group_name(u.rank_group),
                    u.not_ranked_reason,
                ],
            )
        for entry in ledger if ledger is not None else default_ledger(period):
            inserts.add(
                "insert into raw.load_ledger values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    entry["batch_sha256"],
                    entry.get("source", "inbox"),
                    entry["source_file"],
                    entry.get("size_bytes", 1234),
                    entry.get("received_at", datetime(period + 1, 1, 15, 3, 0, tzinfo=UTC)),
                    entry.get("outcome", "loaded"),
                    None,
                    None,
                    10,
                    10,
                    0,
                    f"/archive/{entry['batch_sha256']}",
                    entry.get("periods", [period]),
                ],
            )
        inserts.flush(con)
    finally:
        con.close()
    return path


class _Inserts:
    """Collects single-row inserts and runs them as multi-row statements (much faster)."""

    def __init__(self) -> None:
        self.rows: dict[str, list[list]] = {}

    def add(self, sql: str, params: list) -> None:
        self.rows.setdefault(sql, []).append(params)

    def flush(self, con: duckdb.DuckDBPyConnection) -> None:
        for sql, rows in self.rows.items():
            head, _, placeholders = sql.partition(" values ")
            for start in range(0, len(rows), 200):
                chunk = rows[start : start + 200]
                con.execute(
                    f"{head} values " + ", ".join([placeholders.strip()] * len(chunk)),
                    [value for row in chunk for value in row],
                )
        self.rows.clear()


def default_ledger(period: int) -> list[dict]:
    return [
        {"batch_sha256": f"{period:04d}" + "a" * 60, "source_file": f"so_nganh_{period}.csv"},
        {"batch_sha256": f"{period:04d}" + "b" * 60, "source_file": f"quan_huyen_{period}.xlsx"},
        # A refused file contributes no rows to any period and is not an input of the bundle.
        {"batch_sha256": "c" * 64, "source_file": "hong.csv", "outcome": "refused", "periods": []},
    ]


def small_units() -> list[UnitSpec]:
    """Five departments and three districts covering ties, appraisal, late and not submitted."""
    return [
        UnitSpec(
            "SO-A",
            "Sở Nội vụ",
            "so_nganh",
            {
                "NTS.1": (D(10), None),
                "NTS.2": (D(10), D(8)),
                "NTS.10": (D(5), None),
                "HTS.1": (D("23.5"), None),
            },
        ),
        UnitSpec(
            "SO-B",
            "Ban Quản lý Khu Nam",
            "so_nganh",
            {"NTS.1": (D(5), None), "HTS.1": (D("12.25"), None)},
        ),
        UnitSpec(
            "SO-C",
            "Sở Tài chính",
            "so_nganh",
            {"NTS.1": (D(10), None), "NTS.2": (D(10), None), "HTS.1": (D(20), None)},
            late=True,
        ),
        UnitSpec(
            "SO-D",
            "Sở Y tế",
            "so_nganh",
            {"NTS.1": (D(10), None), "NTS.2": (D(10), None), "HTS.1": (D(20), None)},
        ),
        UnitSpec("SO-E", "Sở Xây dựng", "so_nganh", {}),
        UnitSpec(
            "QH-PN",
            "Quận Phú Nhuận",
            "quan_huyen",
            {"CQS.1": (D(60), None), "CQS.2": (D("36.95"), None)},
        ),
        UnitSpec(
            "QH-10", "Quận 10", "quan_huyen", {"CQS.1": (D(50), None), "CQS.2": (D(20), None)}
        ),
        UnitSpec("QH-2", "Quận 2", "quan_huyen", {"CQS.1": (D(30), None), "CQS.2": (D(10), None)}),
    ]


def read_seed(name: str) -> list[dict]:
    with (SEEDS_DIR / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def seed_frameworks(version: str = "hcm-2023") -> tuple[Framework, ...]:
    """The registry's frameworks of one version (the 2023 one unless told)."""
    frameworks = []
    pillars = read_seed("pillars.csv")
    indicators = read_seed("indicators.csv")
    levels = read_seed("levels.csv")
    for f in read_seed("frameworks.csv"):
        if f["framework_version"] != version:
            continue
        key = (f["framework_version"], f["block"])
        frameworks.append(
            Framework(
                version=f["framework_version"],
                block=f["block"],
                pillars=tuple(
                    Pillar(p["pillar_code"], p["pillar_name"], int(p["sort_order"]))
                    for p in pillars
                    if (p["framework_version"], p["block"]) == key
                ),
                indicators=tuple(
                    Indicator(
                        i["indicator_code"],
                        i["pillar_code"],
                        i["indicator_name"],
                        D(i["max_points"]),
                        i["method"],
                    )
                    for i in indicators
                    if (i["framework_version"], i["block"]) == key
                ),
                scale_max=D(f["scale_max"]),
                levels=tuple(
                    (
                        lv["level_code"],
                        lv["level_name"],
                        D(lv["from_pct"]),
                        lv["colour"],
                        lv["background"],
                    )
                    for lv in sorted(levels, key=lambda lv: int(lv["sort_order"]))
                    if (lv["framework_version"], lv["block"]) == key
                ),  # fmt: skip
            )
        )
    return tuple(frameworks)


def seed_units(period: int, seed: int = 2023, version: str = "hcm-2023") -> list[UnitSpec]:
    """Every unit the framework ``version`` assesses, with seeded answers; the first listed
    units do best."""
    rng = random.Random(seed)
    frameworks = {f.block: f for f in seed_frameworks(version)}
    valid = [
        (int(f["valid_from"]), int(f["valid_to"]))
        for f in read_seed("frameworks.csv")
        if f["framework_version"] == version
    ]
    units = []
    rows = [
        row
        for row in read_seed("units.csv")
        if row["block"] in frameworks
        and any(
            int(row["active_from"]) <= end and start <= int(row["active_to"])
            for start, end in valid
        )
    ]
    in_block: dict[str, list[str]] = {}
    for row in rows:
        in_block.setdefault(row["block"], []).append(row["unit_code"])
    for position, row in enumerate(rows):
        f = frameworks[row["block"]]
        block_units = in_block[row["block"]]
        strength = (
            0.97 - 0.5 * position / len(rows)
            if row["block"] == "so_nganh"
            else 0.95 - 0.4 * block_units.index(row["unit_code"]) / len(block_units)
        )
        answers: dict[str, tuple[Decimal | None, Decimal | None]] = {}
        if row["unit_code"] not in ("SO-KHUNAM-X",):
            for i in f.indicators:
                if rng.random() < 0.06:
                    continue  # left unanswered
                share = max(0.0, min(1.0, rng.gauss(strength, 0.12)))
                self_pts = _round2(i.max_points * D(str(round(share, 2))))
                appraisal = None
                if rng.random() < 0.15:
                    appraisal = _round2(self_pts * D("0.8"))
                answers[i.code] = (self_pts, appraisal)
        units.append(
            UnitSpec(
                row["unit_code"],
                row["unit_name"],
                row["block"],
                answers,
                rank_group=row["rank_group"],
                late=rng.random() < 0.05,
            )
        )
    return units


@dataclass
class FakeValidationRun:
    """Stands in for expectations.gate.ValidationRun: the same fields and to_manifest()."""

    suite: str
    checkpoint: str
    period: int
    success: bool = True
    critical_failures: int = 0
    warnings: list[str] = field(default_factory=list)

    def to_manifest(self) -> dict:
        return {
            "run_id": f"{self.checkpoint}-{self.period}-run",
            "suite": self.suite,
            "checkpoint": self.checkpoint,
            "period": self.period,
            "success": self.success,
            "critical_failures": self.critical_failures,
            "warnings": self.warnings,
            "statistics": {"evaluated_expectations": 12, "successful_expectations": 12},
            "data_fingerprint": "f" * 64,
            "report_path": f"/reports/gx/{self.checkpoint}.html",
        }


def passing_runs(period: int) -> list[FakeValidationRun]:
    return [
        FakeValidationRun(s, s, period)
        for s in ("framework", "submissions", "counted_answers", "scores")
    ]
