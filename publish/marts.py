"""Reads one period's marts from the warehouse into plain dataclasses.

The connection is read-only and closed before anything is rendered: DuckDB has one writer,
and dbt or ingest may need the file as soon as we are done.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from pathlib import Path

import duckdb

from publish.jsontext import nfc
from publish.numbers import as_decimal

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PillarScore:
    pillar_code: str
    pillar_name: str
    sort_order: int
    score: Decimal
    self_score: Decimal
    max_points: Decimal


@dataclass(frozen=True)
class IndicatorPoints:
    pillar_code: str
    indicator_code: str
    indicator_name: str
    method: str
    max_points: Decimal
    self_value: str | None
    appraisal_value: str | None
    scored_stage: str | None
    is_answered: bool
    is_late: bool
    self_points: Decimal | None
    final_points: Decimal


@dataclass(frozen=True)
class UnitScore:
    period: int
    unit_code: str
    unit_name: str
    block: str
    rank_group: str
    framework_version: str
    status: str
    total_score: Decimal
    self_score: Decimal
    applicable_max: Decimal
    percent: Decimal | None
    level: str | None
    level_name: str | None
    rank: int | None
    is_late: bool
    pillars: tuple[PillarScore, ...]
    indicators: tuple[IndicatorPoints, ...]

    @property
    def scored(self) -> bool:
        return self.status == "scored"

    @property
    def unanswered(self) -> tuple[str, ...]:
        return tuple(i.indicator_code for i in self.indicators if not i.is_answered)


@dataclass(frozen=True)
class Framework:
    framework_version: str
    block: str
    scale_max: Decimal
    hinh_thanh_from_pct: Decimal
    nang_cao_from_pct: Decimal


@dataclass(frozen=True)
class InputFile:
    """One ledger entry whose loaded rows belong to the period."""

    sha256: str
    source: str
    source_file: str
    size_bytes: int | None
    received_at: str
    outcome: str
    rows_loaded: int | None


@dataclass(frozen=True)
class PeriodMarts:
    period: int
    units: tuple[UnitScore, ...]
    frameworks: tuple[Framework, ...]
    inputs: tuple[InputFile, ...]

    @property
    def blocks(self) -> tuple[str, ...]:
        return tuple(sorted({u.block for u in self.units}))

    def block_units(self, block: str) -> tuple[UnitScore, ...]:
        return self._units_by_block.get(block, ())

    @cached_property
    def _units_by_block(self) -> dict[str, tuple[UnitScore, ...]]:
        # every unit page asks for its block: index once, not a scan of all units per page
        by_block: dict[str, list[UnitScore]] = {}
        for unit in self.units:
            by_block.setdefault(unit.block, []).append(unit)
        return {block: tuple(units) for block, units in by_block.items()}

    @cached_property
    def level_names(self) -> dict[str, str]:
        return {u.level: u.level_name for u in self.units if u.level and u.level_name}

    @cached_property
    def scored_per_group(self) -> dict[tuple[str, str], int]:
        counts: dict[tuple[str, str], int] = {}
        for unit in self.units:
            if unit.scored:
                key = (unit.block, unit.rank_group)
                counts[key] = counts.get(key, 0) + 1
        return counts

    def framework(self, block: str) -> Framework | None:
        versions = {u.framework_version for u in self.block_units(block)}
        for fw in self.frameworks:
            if fw.block == block and fw.framework_version in versions:
                return fw
        return None


class MartsMissing(RuntimeError):
    """The warehouse has no marts (or no rows) for the period."""


_NUMBER = re.compile(r"(\d+)")


def natural_key(code: str) -> tuple:
    """``NTS.2`` before ``NTS.10``."""
    return tuple(int(p) if p.isdigit() else p for p in _NUMBER.split(code))


def _text(value: object) -> str:
    return nfc(str(value)) if value is not None else ""


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list) -> list[dict]:
    cursor = con.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def read_period(warehouse: Path, period: int) -> PeriodMarts:
    """Everything the bundle needs about ``period``, read in one short read-only session."""
    if not Path(warehouse).exists():
        raise MartsMissing(
            f"warehouse {warehouse} does not exist; run `dti run --period {period}` first"
        )
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        con.execute("set TimeZone = 'UTC'")
        try:
            unit_rows = _rows(
                con,
                """
                select period, unit_code, unit_name, block, rank_group, framework_version,
                    status, total_score, self_score, applicable_max, percent, level,
                    level_name, rank, is_late
                from marts.fct_unit_scores
                where period = ?
                """,
                [period],
            )
            pillar_rows = _rows(
                con,
                """
                select unit_code, pillar_code, pillar_name, sort_order, score, self_score,
                    max_points
                from marts.fct_pillar_scores
                where period = ?
                order by unit_code, sort_order, pillar_code
                """,
                [period],
            )
            indicator_rows = _rows(
                con,
                """
                select unit_code, pillar_code, indicator_code, indicator_name, method,
                    max_points, self_value, appraisal_value, scored_stage, is_answered,
                    is_late, self_points, final_points
                from marts.fct_indicator_points
                where period = ?
                """,
                [period],
            )
            framework_rows = _rows(
                con,
                """
                select framework_version, block, scale_max, hinh_thanh_from_pct,
                    nang_cao_from_pct
                from marts.dim_frameworks
                order by framework_version, block
                """,
                [],
            )
        except duckdb.CatalogException as exc:
            raise MartsMissing(
                f"the marts are missing from {warehouse} ({exc}); "
                f"run `dti run --period {period}` to build them"
            ) from exc
        try:
            ledger_rows = _rows(
                con,
                """
                select batch_sha256, source, source_file, size_bytes,
                    strftime(received_at at time zone 'UTC', '%Y-%m-%dT%H:%M:%S.%fZ') as received_at, outcome, rows_loaded
                from raw.load_ledger
                where list_contains(periods, ?)
                order by received_at, batch_sha256
                """,
                [period],
            )
        except duckdb.CatalogException as exc:
            raise MartsMissing(
                f"raw.load_ledger is missing from {warehouse} ({exc}); the manifest must "
                "name the input files, so run ingest (`dti run`) first"
            ) from exc
    finally:
        con.close()

    if not unit_rows:
        raise MartsMissing(
            f"marts.fct_unit_scores has no rows for period {period}; "
            f"run `dti run --period {period}` first"
        )

    pillars: dict[str, list[PillarScore]] = {}
    pillar_order: dict[tuple[str, str], int] = {}
    for r in pillar_rows:
        pillar = PillarScore(
            pillar_code=_text(r["pillar_code"]),
            pillar_name=_text(r["pillar_name"]),
            sort_order=int(r["sort_order"]),
            score=as_decimal(r["score"]),
            self_score=as_decimal(r["self_score"]) or Decimal(0),
            max_points=as_decimal(r["max_points"]),
        )
        pillars.setdefault(r["unit_code"], []).append(pillar)
        pillar_order[(r["unit_code"], pillar.pillar_code)] = pillar.sort_order

    indicators: dict[str, list[IndicatorPoints]] = {}
    for r in indicator_rows:
        indicators.setdefault(r["unit_code"], []).append(
            IndicatorPoints(
                pillar_code=_text(r["pillar_code"]),
                indicator_code=_text(r["indicator_code"]),
                indicator_name=_text(r["indicator_name"]),
                method=_text(r["method"]),
                max_points=as_decimal(r["max_points"]),
                self_value=None if r["self_value"] is None else _text(r["self_value"]),
                appraisal_value=(
                    None if r["appraisal_value"] is None else _text(r["appraisal_value"])
                ),
                scored_stage=r["scored_stage"],
                is_answered=bool(r["is_answered"]),
                is_late=bool(r["is_late"]),
                self_points=as_decimal(r["self_points"]),
                final_points=as_decimal(r["final_points"]) or Decimal(0),
            )
        )
    for unit_code, items in indicators.items():
        items.sort(
            key=lambda i, u=unit_code: (
                pillar_order.get((u, i.pillar_code), 1 << 30),
                i.pillar_code,
                natural_key(i.indicator_code),
            )
        )

    units = tuple(
        UnitScore(
            period=int(r["period"]),
            unit_code=_text(r["unit_code"]),
            unit_name=_text(r["unit_name"]),
            block=_text(r["block"]),
            rank_group=_text(r["rank_group"]),
            framework_version=_text(r["framework_version"]),
            status=_text(r["status"]),
            total_score=as_decimal(r["total_score"]) or Decimal(0),
            self_score=as_decimal(r["self_score"]) or Decimal(0),
            applicable_max=as_decimal(r["applicable_max"]),
            percent=as_decimal(r["percent"]),
            level=r["level"],
            level_name=None if r["level_name"] is None else _text(r["level_name"]),
            rank=None if r["rank"] is None else int(r["rank"]),
            is_late=bool(r["is_late"]),
            pillars=tuple(pillars.get(r["unit_code"], ())),
            indicators=tuple(indicators.get(r["unit_code"], ())),
        )
        for r in unit_rows
    )
    frameworks = tuple(
        Framework(
            framework_version=_text(r["framework_version"]),
            block=_text(r["block"]),
            scale_max=as_decimal(r["scale_max"]),
            hinh_thanh_from_pct=as_decimal(r["hinh_thanh_from_pct"]),
            nang_cao_from_pct=as_decimal(r["nang_cao_from_pct"]),
        )
        for r in framework_rows
    )
    inputs = tuple(
        InputFile(
            sha256=r["batch_sha256"],
            source=r["source"],
            source_file=_text(r["source_file"]),
            size_bytes=r["size_bytes"],
            received_at=r["received_at"],
            outcome=r["outcome"],
            rows_loaded=r["rows_loaded"],
        )
        for r in ledger_rows
    )
    log.info(
        "read period %s from %s: %d units, %d input files",
        period,
        warehouse,
        len(units),
        len(inputs),
    )
    return PeriodMarts(period=period, units=units, frameworks=frameworks, inputs=inputs)
