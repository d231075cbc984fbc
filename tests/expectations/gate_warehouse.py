"""A small, coherent warehouse with exactly the documented tables, for the gate's tests.

The registry is the real seed CSVs (dbt_project/seeds). Raw rows are made up for a few units;
the intermediate and mart tables are computed here from them by docs/spec/results.md (decimal,
half up, appraisal over self, competition rank), independently of the dbt models, so that each
test can break one stage on purpose and watch the gate stop.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from pathlib import Path

import duckdb

from dti.settings import SEEDS_DIR, Settings

PERIOD = 2023
TZ = dt.timezone(dt.timedelta(hours=7))
SCORED_UNITS = (
    "SO-HEPZA",
    "SO-SNV",
    "SO-STTTT",
    "SO-SKHCN",
    "SO-SKHDT",
    "SO-SATTP",
    "QH-PN",
    "QH-Q1",
    "QH-NB",
)
LATE_UNIT = "SO-SNV"  # one self answer after the deadline: a warning, not a failure

SEED_TYPES = {
    "frameworks": {
        "framework_version": "varchar",
        "block": "varchar",
        "valid_from": "integer",
        "valid_to": "integer",
        "scale_max": "decimal(9, 2)",
        "source": "varchar",
    },
    "levels": {
        "framework_version": "varchar",
        "block": "varchar",
        "level_code": "varchar",
        "level_name": "varchar",
        "sort_order": "integer",
        "from_pct": "decimal(9, 4)",
        "colour": "varchar",
        "background": "varchar",
    },
    "pillars": {
        "framework_version": "varchar",
        "block": "varchar",
        "pillar_code": "varchar",
        "pillar_name": "varchar",
        "max_points": "decimal(9, 2)",
        "sort_order": "integer",
    },
    "indicators": {
        "framework_version": "varchar",
        "block": "varchar",
        "indicator_code": "varchar",
        "pillar_code": "varchar",
        "indicator_name": "varchar",
        "max_points": "decimal(9, 2)",
        "method": "varchar",
        "target": "decimal(18, 4)",
        "tiers": "varchar",
        "applies_to": "varchar",
        "scored": "boolean",
    },
    "units": {
        "unit_code": "varchar",
        "unit_name": "varchar",
        "block": "varchar",
        "rank_group": "varchar",
        "active_from": "integer",
        "active_to": "integer",
    },
    "unit_lineage": {
        "predecessor_code": "varchar",
        "successor_code": "varchar",
        "from_period": "integer",
        "kind": "varchar",
        "weight": "decimal(9, 4)",
        "source": "varchar",
    },
    "former_units": {
        "unit_code": "varchar",
        "unit_name": "varchar",
        "province_name": "varchar",
        "official_code": "varchar",
        "active_to": "integer",
    },
    "periods": {
        "period": "integer",
        "deadline": "timestamptz",
        "late_self_answers_count": "boolean",
    },
    "rank_groups": {"rank_group": "varchar", "rank_group_name": "varchar"},
    "unit_rank_groups": {
        "unit_code": "varchar",
        "rank_group": "varchar",
        "valid_from": "integer",
        "valid_to": "integer",
    },
    "unit_locations": {
        "unit_code": "varchar",
        "official_code": "varchar",
        "division_type": "varchar",
        "latitude": "decimal(9, 6)",
        "longitude": "decimal(9, 6)",
    },
    "value_words": {"word": "varchar", "kind": "varchar", "boolean_value": "boolean"},
}
DEFAULT_PERIODS = [
    {"period": "2023", "deadline": "2024-01-31T23:59:59+07:00", "late_self_answers_count": "true"},
    {"period": "2024", "deadline": "2025-01-31T23:59:59+07:00", "late_self_answers_count": "true"},
]

RAW_DDL = """
create schema if not exists raw;
create table raw.submission_rows (
    period integer not null, unit_code varchar not null, indicator_code varchar not null,
    value varchar, evidence_ref varchar, stage varchar not null,
    submitted_at timestamptz not null, submission_id varchar not null, source varchar not null,
    batch_sha256 varchar not null, source_row integer, loaded_at timestamptz not null,
    source_updated_at timestamptz
);
create table raw.load_ledger (
    batch_sha256 varchar not null, source varchar not null, source_file varchar not null,
    size_bytes bigint not null, received_at timestamptz not null, outcome varchar not null,
    reason_code varchar not null, reason varchar not null, rows_total integer not null,
    rows_loaded integer not null, rows_refused integer not null, stored_at varchar not null,
    periods integer[]
);
"""

MODELS_DDL = """
create schema if not exists intermediate;
create schema if not exists marts;
create table intermediate.int_answers_latest (
    period integer, unit_code varchar, indicator_code varchar, stage varchar, value varchar,
    is_answered boolean, value_number decimal(18, 4), value_boolean boolean,
    evidence_ref varchar, submitted_at timestamptz, submission_id varchar, is_late boolean,
    versions bigint
);
create table marts.fct_indicator_points (
    period integer, unit_code varchar, block varchar, framework_version varchar,
    pillar_code varchar, indicator_code varchar, indicator_name varchar, method varchar,
    max_points decimal(9, 2), self_value varchar, appraisal_value varchar,
    scored_value varchar, scored_stage varchar, is_answered boolean, is_late boolean,
    self_points decimal(9, 2), final_points decimal(9, 2), self_submission_id varchar,
    appraisal_submission_id varchar, self_evidence_ref varchar, appraisal_evidence_ref varchar,
    self_note varchar, appraiser varchar, appraisal_reason varchar,
    scored_evidence_ref varchar, evidence_required boolean
);
create table marts.fct_unit_predecessor_scores (
    period integer, unit_code varchar, relation varchar, compared_code varchar,
    compared_name varchar, weight decimal(9, 4), previous_period integer, percent decimal(7, 2),
    level varchar, rank integer
);
create table marts.fct_pillar_scores (
    period integer, unit_code varchar, block varchar, framework_version varchar,
    pillar_code varchar, pillar_name varchar, sort_order integer, score decimal(9, 2),
    self_score decimal(9, 2), max_points decimal(9, 2)
);
create table marts.fct_complaints (
    complaint_id varchar, period integer, unit_code varchar, unit_name varchar,
    indicator_code varchar, complaint_text varchar, evidence_ref varchar,
    filed_at timestamptz, closes_at timestamptz, is_late boolean, status varchar,
    decision_reason varchar, decided_by varchar, decided_at timestamptz,
    answers_changed bigint, indicators_changed varchar[]
);
create table marts.fct_unit_scores (
    period integer, unit_code varchar, unit_name varchar, block varchar, rank_group varchar,
    framework_version varchar, status varchar, total_score decimal(9, 2),
    self_score decimal(9, 2), applicable_max decimal(9, 2), percent decimal(7, 2),
    level varchar, level_name varchar, rank integer, is_late boolean, answered_count integer,
    unanswered_count integer, appraised_count integer, not_ranked_reason varchar
);
create schema if not exists staging;
-- who is assessed without a rank: no one in this warehouse (the bundled registry)
create table staging.stg_registry__unit_rank_groups (
    unit_code varchar, rank_group varchar, valid_from integer, valid_to integer,
    not_ranked_reason varchar
);
create table staging.stg_registry__rank_groups (
    rank_group varchar, rank_group_name varchar, not_ranked_reason varchar
);
"""


def read_seed(name: str) -> list[dict[str, str]]:
    path = SEEDS_DIR / f"{name}.csv"
    if not path.exists():
        return {"periods": DEFAULT_PERIODS}[name]
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def bulk_insert(con: duckdb.DuckDBPyConnection, table: str, rows: list[tuple | list]) -> None:
    """Inserts rows in one statement (values as text, cast to the table's column types)."""
    if not rows:
        return
    import pandas as pd

    types = [row[1] for row in con.execute(f"describe {table}").fetchall()]
    frame = pd.DataFrame(
        # rows may leave out trailing columns (those added later, such as source_updated_at)
        [
            [None if v is None else _text(v) for v in row] + [None] * (len(types) - len(row))
            for row in rows
        ],
        columns=[f"c{i}" for i in range(len(types))],
        dtype=object,
    )
    casts = ", ".join(f"cast(c{i} as {kind})" for i, kind in enumerate(types))
    con.register("incoming_rows", frame)
    try:
        con.execute(f"insert into {table} select {casts} from incoming_rows")
    finally:
        con.unregister("incoming_rows")


def _text(value: object) -> str:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return str(value)


def _insert(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict], types: dict) -> None:
    con.execute(f"create table {table} ({', '.join(f'{c} {t}' for c, t in types.items())})")
    bulk_insert(con, table, [[row.get(c) or None for c in types] for row in rows])


def _half_up(value: Fraction | Decimal, places: int = 2) -> Decimal:
    quantum = Decimal(1).scaleb(-places)
    if isinstance(value, Fraction):
        value = Decimal(value.numerator) / Decimal(value.denominator)
    return Decimal(value).quantize(quantum, rounding=ROUND_HALF_UP)


def _number(value: str) -> Decimal:
    return Decimal(value.strip().replace(",", "."))


def points_of(indicator: dict, value: str | None) -> Decimal:
    """The points of one answer, docs/spec/results.md §3 (0 when unanswered)."""
    if value is None or value.strip() == "":
        return Decimal("0.00")
    max_points = Decimal(indicator["max_points"])
    method = indicator["method"]
    if method == "boolean":
        return _half_up(max_points if value.strip().lower() in ("1", "true", "có", "yes") else 0)
    if method == "ratio":
        target = Decimal(indicator["target"] or "100")
        return _half_up(max_points * min(_number(value) / target, Decimal(1)))
    if method == "tiers":
        number, points = _number(value), Decimal(0)
        for part in indicator["tiers"].split("|"):
            bound, tier_points = part.split(":")
            if Decimal(bound) <= number:
                points = Decimal(tier_points)
        return _half_up(points)
    return _half_up(_number(value))


def _value_for(indicator: dict, seed: int) -> str:
    method = indicator["method"]
    if method == "boolean":
        return ("có", "1", "yes", "không", "true")[seed % 5]
    if method == "ratio":
        return f"{40 + (seed * 7) % 60},{seed % 10}"
    if method == "tiers":
        return str((seed * 3) % 120)
    return str(min(Decimal(indicator["max_points"]), Decimal(seed % 9) + Decimal("0.5")))


def build_warehouse(path: Path) -> None:
    """Writes the fixture warehouse (registry, raw, intermediate, marts) into ``path``."""
    frameworks = read_seed("frameworks")
    levels = read_seed("levels")
    level_names = {row["level_code"]: row["level_name"] for row in levels}
    indicators = read_seed("indicators")
    pillars = read_seed("pillars")
    units = read_seed("units")
    con = duckdb.connect(str(path))
    try:
        con.execute("create schema registry")
        for name, types in SEED_TYPES.items():
            _insert(con, f"registry.{name}", read_seed(name), types)
        con.execute(RAW_DDL)
        con.execute(MODELS_DDL)

        framework_of = {
            f["block"]: f
            for f in frameworks
            if int(f["valid_from"]) <= PERIOD <= int(f["valid_to"])
        }
        batch_sha = hashlib.sha256(b"fixture inbox export 2023").hexdigest()
        loaded_at = dt.datetime(2024, 2, 10, 9, 0, tzinfo=TZ)
        raw: list[tuple] = []

        def add(unit: str, code: str, value: str | None, stage: str, at: dt.datetime) -> str:
            row_number = len(raw) + 1
            submission_id = f"{batch_sha}:{row_number}"
            raw.append(
                (
                    PERIOD, unit, code, value, f"VB-{unit}-{code}", stage, at, submission_id,
                    "inbox", batch_sha, row_number, loaded_at,
                )
            )  # fmt: skip
            return submission_id

        unit_rows, pillar_rows, indicator_rows, latest_rows = [], [], [], []
        active = [u for u in units if int(u["active_from"]) <= PERIOD <= int(u["active_to"])]
        for unit_index, unit in enumerate(active):
            code = unit["unit_code"]
            framework = framework_of[unit["block"]]
            applicable = [
                i
                for i in indicators
                if i["framework_version"] == framework["framework_version"]
                and i["block"] == unit["block"]
                and (not i["applies_to"] or code in i["applies_to"].split("|"))
            ]
            submitted = code in SCORED_UNITS
            answers: dict[tuple[str, str], tuple[str | None, str, dt.datetime]] = {}
            if submitted:
                for k, indicator in enumerate(applicable):
                    if k == len(applicable) - 1:
                        continue  # the last indicator is left unanswered
                    seed = unit_index * 31 + k
                    at = dt.datetime(2024, 1, 10, 8, 0, tzinfo=TZ) + dt.timedelta(minutes=k)
                    if k == 0:  # a revision: the later save wins
                        add(code, indicator["indicator_code"], "0", "self", at)
                        at += dt.timedelta(days=2)
                    if code == LATE_UNIT and k == 1:
                        at = dt.datetime(2024, 2, 3, 10, 0, tzinfo=TZ)
                    value = _value_for(indicator, seed)
                    sid = add(code, indicator["indicator_code"], value, "self", at)
                    answers[(indicator["indicator_code"], "self")] = (value, sid, at)
                    if indicator["method"] == "points" or k == 2:
                        council = _value_for(indicator, seed + 5)
                        at2 = dt.datetime(2024, 2, 20, 14, 0, tzinfo=dt.UTC)
                        sid2 = add(code, indicator["indicator_code"], council, "appraisal", at2)
                        answers[(indicator["indicator_code"], "appraisal")] = (council, sid2, at2)

            deadline = dt.datetime(2024, 1, 31, 23, 59, 59, tzinfo=TZ)
            versions = {}
            for row in raw:
                if row[1] == code:
                    versions[(row[2], row[5])] = versions.get((row[2], row[5]), 0) + 1
            for (indicator_code, stage), (value, sid, at) in answers.items():
                indicator = next(i for i in applicable if i["indicator_code"] == indicator_code)
                number = None if indicator["method"] == "boolean" else _number(value)
                boolean = (
                    value.strip().lower() in ("1", "true", "có", "yes")
                    if indicator["method"] == "boolean"
                    else None
                )
                latest_rows.append(
                    (
                        PERIOD, code, indicator_code, stage, value, True, number, boolean,
                        f"VB-{code}-{indicator_code}", at, sid,
                        stage == "self" and at > deadline, versions[(indicator_code, stage)],
                    )
                )  # fmt: skip

            totals = {"score": Decimal(0), "self": Decimal(0), "max": Decimal(0)}
            by_pillar: dict[str, dict[str, Decimal]] = {}
            answered = appraised = 0
            late = False
            for indicator in applicable:
                self_answer = answers.get((indicator["indicator_code"], "self"))
                council = answers.get((indicator["indicator_code"], "appraisal"))
                self_points = points_of(indicator, self_answer[0] if self_answer else None)
                if council:
                    final_points, scored_stage, scored_value = (
                        points_of(indicator, council[0]),
                        "appraisal",
                        council[0],
                    )
                elif self_answer:
                    final_points, scored_stage, scored_value = (
                        self_points,
                        "self",
                        self_answer[0],
                    )
                else:
                    final_points, scored_stage, scored_value = Decimal("0.00"), None, None
                is_late = bool(self_answer and self_answer[2] > deadline)
                late = late or is_late
                answered += scored_stage is not None
                appraised += scored_stage == "appraisal"
                indicator_rows.append(
                    (
                        PERIOD, code, unit["block"], framework["framework_version"],
                        indicator["pillar_code"], indicator["indicator_code"],
                        indicator["indicator_name"], indicator["method"],
                        Decimal(indicator["max_points"]),
                        self_answer[0] if self_answer else None,
                        council[0] if council else None, scored_value, scored_stage,
                        scored_stage is not None, is_late, self_points, final_points,
                        self_answer[1] if self_answer else None,
                        council[1] if council else None,
                        f"VB-{code}-{indicator['indicator_code']}" if self_answer else None,
                        f"VB-{code}-{indicator['indicator_code']}" if council else None,
                        None, None, None,
                        f"VB-{code}-{indicator['indicator_code']}" if scored_stage else None,
                        indicator.get("evidence_required") == "true",
                    )
                )  # fmt: skip
                pillar = by_pillar.setdefault(
                    indicator["pillar_code"],
                    {"score": Decimal(0), "self": Decimal(0), "max": Decimal(0)},
                )
                for bucket in (pillar, totals):
                    bucket["score"] += final_points
                    bucket["self"] += self_points
                    bucket["max"] += Decimal(indicator["max_points"])
            for pillar in pillars:
                if (pillar["framework_version"], pillar["block"]) != (
                    framework["framework_version"],
                    unit["block"],
                ) or pillar["pillar_code"] not in by_pillar:
                    continue
                sums = by_pillar[pillar["pillar_code"]]
                pillar_rows.append(
                    (
                        PERIOD, code, unit["block"], framework["framework_version"],
                        pillar["pillar_code"], pillar["pillar_name"], int(pillar["sort_order"]),
                        sums["score"], sums["self"], sums["max"],
                    )
                )  # fmt: skip
            ratio = Fraction(totals["score"]) / Fraction(totals["max"])
            if submitted:
                percent = _half_up(ratio * 100)
                reached = [
                    row
                    for row in levels
                    if (row["framework_version"], row["block"])
                    == (framework["framework_version"], unit["block"])
                    and totals["score"] * 100 >= Decimal(row["from_pct"]) * totals["max"]
                ]
                level = max(reached, key=lambda row: Decimal(row["from_pct"]))["level_code"]
            else:
                percent, level = None, None
            unit_rows.append(
                {
                    "period": PERIOD,
                    "unit_code": code,
                    "unit_name": unit["unit_name"],
                    "block": unit["block"],
                    "rank_group": unit["rank_group"] or "",
                    "framework_version": framework["framework_version"],
                    "status": "scored" if submitted else "not_submitted",
                    "total_score": totals["score"],
                    "self_score": totals["self"],
                    "applicable_max": totals["max"],
                    "percent": percent,
                    "level": level,
                    "level_name": level_names[level] if level else None,
                    "ratio": ratio,
                    "is_late": late,
                    "answered_count": answered,
                    "unanswered_count": len(applicable) - answered,
                    "appraised_count": appraised,
                }
            )

        for row in unit_rows:  # competition rank within period, block and rank group
            if row["status"] != "scored":
                row["rank"] = None
                continue
            peers = [
                other["ratio"]
                for other in unit_rows
                if other["status"] == "scored"
                and (other["block"], other["rank_group"]) == (row["block"], row["rank_group"])
            ]
            row["rank"] = 1 + sum(other > row["ratio"] for other in peers)

        bulk_insert(con, "raw.submission_rows", raw)
        # what dbt_project.runner records when a build starts: the raw rows it is built from
        con.execute(
            "create schema if not exists meta; create table meta.last_build ("
            "project_fingerprint varchar not null, answers bigint not null, "
            "answers_through varchar not null, succeeded boolean not null)"
        )
        con.execute(
            "insert into meta.last_build select 'fixture', count(*), "
            "cast(max(loaded_at) as varchar), true from raw.submission_rows"
        )
        con.execute(
            "insert into raw.load_ledger values (?, 'inbox', 'hcm_2023_export.csv', 4096, ?, "
            "'loaded', '', '', ?, ?, 0, ?, [2023])",
            [batch_sha, loaded_at, len(raw), len(raw), f"/archive/{batch_sha}.csv"],
        )
        bulk_insert(con, "intermediate.int_answers_latest", latest_rows)
        bulk_insert(con, "marts.fct_indicator_points", indicator_rows)
        bulk_insert(con, "marts.fct_pillar_scores", pillar_rows)
        unit_columns = [
            "period", "unit_code", "unit_name", "block", "rank_group", "framework_version",
            "status", "total_score", "self_score", "applicable_max", "percent", "level",
            "level_name", "rank", "is_late", "answered_count", "unanswered_count",
            "appraised_count", "not_ranked_reason",
        ]  # fmt: skip
        bulk_insert(
            con,
            "marts.fct_unit_scores",
            [[row.get(c) for c in unit_columns] for row in unit_rows],
        )
        con.execute(
            "create table intermediate.int_indicator_points as "
            "select * from marts.fct_indicator_points"
        )
    finally:
        con.close()


def execute(settings: Settings, sql: str, params: list | None = None) -> None:
    """Corrupts (or inspects) the warehouse on purpose: open, write, close."""
    con = duckdb.connect(str(settings.warehouse))
    try:
        con.execute(sql, params or [])
    finally:
        con.close()


def query(settings: Settings, sql: str, params: list | None = None) -> list[tuple]:
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()
