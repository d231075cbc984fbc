"""Reads one period's marts from the warehouse into plain dataclasses.

The connection is read-only and closed before anything is rendered: DuckDB has one writer,
and dbt or ingest may need the file as soon as we are done. ``MartsReader`` reads in two
steps within that one session: first the units, their pillars and, per unit, a digest of its
indicator rows (computed in DuckDB, so 500,000 rows never become Python objects just to be
compared); then the indicator rows of only the units whose pages are rendered.
"""

from __future__ import annotations

import gc
import logging
import re
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import NamedTuple

import duckdb

from dti.text import published_text
from publish.jsontext import nfc
from publish.numbers import as_decimal
from publish.registry_rows import RegistryTable, read_registry
from publish.statistical_audit import StatisticalAudit, read_statistical_audit

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PillarScore:
    pillar_code: str
    pillar_name: str
    sort_order: int
    score: Decimal
    self_score: Decimal
    max_points: Decimal
    rank: int | None = None  # within period, block, rank group and pillar (results.md §6)


@dataclass(frozen=True)
class Margins:
    """How far a unit is from the next level or rank (docs/spec/results.md §6a), as the marts
    decide it; all ``None`` for a unit not submitted."""

    next_level: str | None = None
    points_to_next_level: Decimal | None = None
    points_to_drop_level: Decimal | None = None
    points_to_next_rank: Decimal | None = None
    points_to_drop_rank: Decimal | None = None


class IndicatorPoints(NamedTuple):
    """One unit's points on one indicator (a named tuple: a national period has 500,000 of
    them, and a tuple is built in a fraction of a frozen dataclass's time)."""

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
    evidence_ref: str | None = None  # what the counted answer cites as evidence
    note: str | None = None  # the unit's explanation on its self answer
    appraiser: str | None = None  # who of the council corrected it
    appraisal_reason: str | None = None  # and why


@dataclass(frozen=True)
class UnitComplaint:
    """A complaint (kiến nghị) of a unit and the council's decision (marts.fct_complaints)."""

    complaint_id: str
    indicator_code: str | None  # None: about the whole unit
    text: str
    filed_at: str  # ISO-8601, Vietnamese time
    late: bool
    status: str  # open, accepted, rejected
    reason: str | None
    decided_by: str | None
    decided_at: str | None
    indicators_changed: tuple[str, ...] = ()


@dataclass(frozen=True)
class ComparedUnit:
    """A unit a result is compared with in the period before (``marts.fct_unit_predecessor_scores``)."""

    unit_code: str
    unit_name: str
    weight: Decimal  # its lineage weight (1 for the unit itself)
    percent: Decimal | None
    level: str | None
    level_name: str | None
    rank: int | None


@dataclass(frozen=True)
class PreviousResult:
    """The result a unit is compared with in the period before (``marts.fct_unit_previous``):
    its own (``same_unit``), its one scored predecessor's (``predecessor``) or the
    lineage-weighted mean of its scored predecessors' percents (``weighted_mean``)."""

    period: int
    method: str
    percent: Decimal | None
    level: str | None
    level_name: str | None
    rank: int | None
    compared: tuple[ComparedUnit, ...]


@dataclass(frozen=True)
class OwnPreviousResult:
    """The unit's own row of ``marts.fct_unit_scores`` in the period before, as that period
    published it (a unit that did not submit then included): the unit page's year-over-year
    table. Read from the warehouse, never from another release's files, so a period's bundle
    does not depend on which other releases are on disk."""

    total_score: Decimal
    percent: Decimal | None
    level: str | None
    rank: int | None


@dataclass(frozen=True)
class TrendPoint:
    """A unit's result in one period up to its own (``marts.fct_unit_trend``): its own
    (``same_unit``) or, before it existed, its one scored predecessor's (``predecessor``) or
    the lineage-weighted mean of its scored predecessors' percents (``weighted_mean``)."""

    period: int
    method: str
    framework_version: str  # of the unit(s) the point was read from: the bands it is read in
    block: str
    percent: Decimal | None
    level: str | None
    level_name: str | None
    rank: int | None


@dataclass(frozen=True)
class BlockPeriod:
    """A block in one period up to the published one (``marts.fct_unit_scores``): the
    percents of its scored units and its count per level, for the block's trend chart."""

    block: str
    period: int
    framework_version: str
    percents: tuple[Decimal, ...]  # of the scored units, ascending
    level_counts: tuple[tuple[str, int], ...]  # (level, units), scored units only
    not_submitted: int


@dataclass(frozen=True)
class UnitScore:
    """One unit's result. Its indicator rows are read separately (``MartsReader.indicators``);
    ``indicator_digest`` stands for them (md5 over every indicator column, from DuckDB)."""

    period: int
    unit_code: str
    unit_name: str
    block: str
    rank_group: str  # '' when the block ranks as one group
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
    unanswered: tuple[str, ...]
    indicator_digest: str | None
    margins: Margins = Margins()
    previous: PreviousResult | None = None
    trend: tuple[TrendPoint, ...] = ()  # every period up to this one, oldest first
    rank_group_name: str = ""  # the group's label (rank_groups.csv); '' for the empty group
    # why the unit is assessed without a rank (the registry's words); None: ranked or unscored
    not_ranked_reason: str | None = None

    @property
    def scored(self) -> bool:
        return self.status == "scored"


@dataclass(frozen=True)
class Level:
    """A level of a framework as ``marts.dim_levels`` states it: label, order, percent band."""

    level: str
    level_name: str
    sort_order: int
    from_pct: Decimal
    below_pct: Decimal | None  # None above the highest level
    colour: str = "#374151"  # marks, charts and the badge's text (levels.csv)
    background: str = "#f3f4f6"  # the badge and a trend's band behind the line

    def covers(self, percent: Decimal) -> bool:
        return self.from_pct <= percent and (self.below_pct is None or percent < self.below_pct)


@dataclass(frozen=True)
class Framework:
    framework_version: str
    block: str
    scale_max: Decimal
    levels: tuple[Level, ...] = ()  # lowest first, as many as levels.csv lists


@dataclass(frozen=True)
class RegistryIndicator:
    """One indicator (chỉ số thành phần) of the registry, as ``marts.dim_indicators`` has it."""

    framework_version: str
    block: str
    pillar_code: str
    indicator_code: str
    indicator_name: str
    max_points: Decimal
    method: str
    target: Decimal | None
    tiers: str | None
    applies_to: str | None


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
class UnitLocation:
    """Where a unit is (``marts.dim_unit_locations``): the site's map draws it there."""

    unit_code: str
    official_code: str
    division_type: str
    latitude: Decimal
    longitude: Decimal


@dataclass(frozen=True)
class PeriodMarts:
    period: int
    units: tuple[UnitScore, ...]
    frameworks: tuple[Framework, ...]
    inputs: tuple[InputFile, ...]
    # the indicators of the frameworks the period's units are scored with (methodology page)
    registry: tuple[RegistryIndicator, ...] = ()
    # unit code -> place, for the units of the period that have one (the wards)
    locations: Mapping[str, UnitLocation] = field(default_factory=dict)
    # each block of the period in every period up to this one, oldest first
    block_history: tuple[BlockPeriod, ...] = ()
    # unit code -> the unit's own result in the period before, for the units that had one
    own_previous: Mapping[str, OwnPreviousResult] = field(default_factory=dict)
    # unit code -> its complaints of the period, oldest first (docs/spec/complaints.md)
    complaints: Mapping[str, tuple[UnitComplaint, ...]] = field(default_factory=dict)
    # the statistical audit of the indicators (results.md §8.6); None before its marts existed
    statistical_audit: StatisticalAudit | None = None

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
        """Every level's label (levels.csv through the marts)."""
        return {lv.level: lv.level_name for fw in self.frameworks for lv in fw.levels}

    @cached_property
    def level_styles(self) -> dict[str, Level]:
        """Each level code's colours (levels.csv through the marts); a code shared by two
        frameworks takes the colours of the later version."""
        return {lv.level: lv for fw in self.frameworks for lv in fw.levels}

    @cached_property
    def level_order(self) -> tuple[str, ...]:
        """Level codes, highest first (the order counts and summaries list them in)."""
        order = {lv.level: lv.sort_order for fw in self.frameworks for lv in fw.levels}
        return tuple(sorted(order, key=lambda level: (-order[level], level)))

    @cached_property
    def rank_group_names(self) -> dict[tuple[str, str], str]:
        """(block, rank group) -> the group's label; '' for a block ranked as one group."""
        return {(u.block, u.rank_group): u.rank_group_name for u in self.units}

    @cached_property
    def scored_per_group(self) -> dict[tuple[str, str], int]:
        """Units ranked in each (block, rank group): scored and not assessed without a rank."""
        counts: dict[tuple[str, str], int] = {}
        for unit in self.units:
            if unit.scored and unit.not_ranked_reason is None:
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


class _Texts(dict):
    """NFC text by the warehouse's text, normalised on first sight, bidi controls shown as
    escapes (``dti.text.published_text``); ``None`` stays ``None``.
    A look-up is one dict access in C (a national period reads a million texts)."""

    def __init__(self) -> None:
        super().__init__({None: None})

    def __missing__(self, value: object) -> str:
        if type(value) is not str:  # not remembered: 1, 1.0 and True are one key
            return nfc(str(value))
        # the one door of warehouse text into published text: bidi and control characters made visible
        found = self[value] = published_text(nfc(value))
        return found


class _Decimals(dict):
    """``Decimal`` by a DECIMAL read as its text (``'10.00'``), with the exponent DuckDB would
    give, parsed on first sight; ``None`` stays ``None``."""

    def __init__(self) -> None:
        super().__init__({None: None})

    def __missing__(self, value: object) -> Decimal | None:
        if type(value) is not str:  # not remembered: 10.0 and 10.00 are one key
            return as_decimal(value)
        found = self[value] = Decimal(value)
        return found


class _Values:
    """Text and decimals from the warehouse, each distinct value converted once.

    A national period repeats the same 50 indicator names and a few hundred point values
    500,000 times; NFC-normalising and parsing each occurrence was most of the read time.
    ``optional_texts`` and ``decimals`` are the caches themselves, for the hot loops.
    """

    def __init__(self) -> None:
        self.optional_texts = _Texts()
        self.decimals = _Decimals()

    def text(self, value: object) -> str:
        return "" if value is None else self.optional_texts[value]

    def optional_text(self, value: object) -> str | None:
        return self.optional_texts[value]

    def decimal(self, value: object) -> Decimal | None:
        return self.decimals[value]


# Per unit: a digest of every indicator column the unit page shows, and the indicators it
# left unanswered. Each text is length-prefixed and NULL is spelt apart from any text, so two
# different sets of rows cannot give the same string before md5.
_TEXT = "coalesce(strlen({c}) || ':' || {c}, '~')"
_NUM = "coalesce(cast({c} as varchar), '~')"
_DIGEST_COLUMNS = [
    _TEXT.format(c="pillar_code"),
    _TEXT.format(c="indicator_code"),
    _TEXT.format(c="indicator_name"),
    _TEXT.format(c="method"),
    _NUM.format(c="max_points"),
    _TEXT.format(c="self_value"),
    _TEXT.format(c="appraisal_value"),
    _TEXT.format(c="scored_stage"),
    _NUM.format(c="is_answered"),
    _NUM.format(c="is_late"),
    _NUM.format(c="self_points"),
    _NUM.format(c="final_points"),
    _TEXT.format(c="scored_evidence_ref"),
    _TEXT.format(c="self_note"),
    _TEXT.format(c="appraiser"),
    _TEXT.format(c="appraisal_reason"),
]
INDICATOR_SUMMARY_SQL = f"""
with rows as (
    select
        unit_code,
        pillar_code,
        indicator_code,
        coalesce(is_answered, false) as is_answered,
        concat_ws(';', {", ".join(_DIGEST_COLUMNS)}) as row_text,
    from marts.fct_indicator_points
    where period = ?
)
select
    unit_code,
    md5(string_agg(row_text, chr(10) order by indicator_code, row_text)) as indicator_digest,
    list([pillar_code, indicator_code]) filter (where not is_answered) as unanswered,
from rows
group by unit_code
"""

INDICATOR_SQL = """
select unit_code, pillar_code, indicator_code, indicator_name, method,
    cast(max_points as varchar), self_value, appraisal_value, scored_stage, is_answered,
    is_late, cast(self_points as varchar), cast(final_points as varchar), scored_evidence_ref,
    self_note, appraiser, appraisal_reason
from marts.fct_indicator_points
where period = ?
"""


@contextmanager
def _bulk_load() -> Iterator[None]:
    """The cyclic garbage collector paused while rows become objects: a national period
    builds millions of tuples, none of them in a cycle, and every collection on the way
    walked all of them (a tenth of a national publish)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class MartsReader:
    """One read-only session on the warehouse: ``read()`` then ``indicators(...)``, ``close()``."""

    def __init__(self, warehouse: Path, period: int) -> None:
        if not Path(warehouse).exists():
            raise MartsMissing(
                f"warehouse {warehouse} does not exist; run `dti run --period {period}` first"
            )
        self.warehouse = warehouse
        self.period = period
        self._values = _Values()
        self._pillar_order: dict[tuple[str, str], int] = {}
        self._raw_codes: dict[str, str] = {}  # NFC unit code -> as stored
        self._con = duckdb.connect(str(warehouse), read_only=True)
        self._con.execute("set TimeZone = 'UTC'")

    def __enter__(self) -> MartsReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._con.close()

    def registry(self) -> tuple[RegistryTable, ...]:
        """The registry rows the period was scored with (``publish.registry_rows``)."""
        return read_registry(self._con, self.period)

    def _fetch(self, sql: str, params: list) -> list[tuple]:
        return self._con.execute(sql, params).fetchall()

    @_bulk_load()
    def read(self) -> PeriodMarts:
        """Units, pillars, frameworks and input files of the period; no indicator rows."""
        period, v = self.period, self._values
        try:
            unit_rows = self._fetch(
                """
                select period, unit_code, unit_name, block, rank_group, framework_version,
                    status, total_score, self_score, applicable_max, percent, level,
                    level_name, rank, is_late, next_level,
                    cast(points_to_next_level as varchar), cast(points_to_drop_level as varchar),
                    cast(points_to_next_rank as varchar), cast(points_to_drop_rank as varchar),
                    rank_group_name, not_ranked_reason
                from marts.fct_unit_scores
                where period = ?
                """,
                [period],
            )
            pillar_rows = self._fetch(
                """
                select unit_code, pillar_code, pillar_name, sort_order,
                    cast(score as varchar), cast(self_score as varchar),
                    cast(max_points as varchar), rank
                from marts.fct_pillar_scores
                where period = ?
                order by unit_code, sort_order, pillar_code
                """,
                [period],
            )
            summary_rows = self._fetch(INDICATOR_SUMMARY_SQL, [period])
            framework_rows = self._fetch(
                """
                select framework_version, block, scale_max
                from marts.dim_frameworks
                order by framework_version, block
                """,
                [],
            )
            level_rows = self._fetch(
                """
                select framework_version, block, level, level_name, sort_order,
                    from_pct, below_pct, colour, background
                from marts.dim_levels
                order by framework_version, block, sort_order, level
                """,
                [],
            )
            registry_rows = self._fetch(
                """
                select framework_version, block, pillar_code, indicator_code, indicator_name,
                    cast(max_points as varchar), method, cast(target as varchar), tiers,
                    applies_to
                from marts.dim_indicators
                where (framework_version, block) in (
                    select distinct (framework_version, block)
                    from marts.fct_unit_scores where period = ?
                )
                """,
                [period],
            )
        except duckdb.CatalogException as exc:
            raise MartsMissing(
                f"the marts are missing from {self.warehouse} ({exc}); "
                f"run `dti run --period {period}` to build them"
            ) from exc
        try:
            ledger_rows = self._fetch(
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
                f"raw.load_ledger is missing from {self.warehouse} ({exc}); the manifest must "
                "name the input files, so run ingest (`dti run`) first"
            ) from exc

        if not unit_rows:
            raise MartsMissing(
                f"marts.fct_unit_scores has no rows for period {period}; "
                f"run `dti run --period {period}` first"
            )

        pillars: dict[str, list[PillarScore]] = {}
        for unit_code, code, name, sort_order, score, self_score, max_points, rank in pillar_rows:
            pillar = PillarScore(
                pillar_code=v.text(code),
                pillar_name=v.text(name),
                sort_order=int(sort_order),
                score=v.decimal(score),
                self_score=v.decimal(self_score) or Decimal(0),
                max_points=v.decimal(max_points),
                rank=None if rank is None else int(rank),
            )
            pillars.setdefault(unit_code, []).append(pillar)
            self._pillar_order[(unit_code, pillar.pillar_code)] = pillar.sort_order

        summaries: dict[str, tuple[str, tuple[str, ...]]] = {}
        for unit_code, digest, unanswered in summary_rows:
            items = [(v.text(p), v.text(i)) for p, i in (unanswered or [])]
            items.sort(key=lambda item, u=unit_code: self._indicator_key(u, *item))
            summaries[unit_code] = (digest, tuple(code for _, code in items))

        for r in unit_rows:
            self._raw_codes[v.text(r[1])] = r[1]
        previous = self._previous()
        trend = self._trend()
        units = tuple(
            UnitScore(
                period=int(r[0]),
                unit_code=v.text(r[1]),
                unit_name=v.text(r[2]),
                block=v.text(r[3]),
                rank_group=v.text(r[4]),
                framework_version=v.text(r[5]),
                status=v.text(r[6]),
                total_score=v.decimal(r[7]) or Decimal(0),
                self_score=v.decimal(r[8]) or Decimal(0),
                applicable_max=v.decimal(r[9]),
                percent=v.decimal(r[10]),
                level=r[11],
                level_name=v.optional_text(r[12]),
                rank=None if r[13] is None else int(r[13]),
                is_late=bool(r[14]),
                pillars=tuple(pillars.get(r[1], ())),
                unanswered=summaries.get(r[1], (None, ()))[1],
                indicator_digest=summaries.get(r[1], (None, ()))[0],
                margins=Margins(
                    next_level=r[15],
                    points_to_next_level=v.decimal(r[16]),
                    points_to_drop_level=v.decimal(r[17]),
                    points_to_next_rank=v.decimal(r[18]),
                    points_to_drop_rank=v.decimal(r[19]),
                ),
                previous=previous.get(v.text(r[1])),
                trend=trend.get(v.text(r[1]), ()),
                rank_group_name=v.text(r[20]),
                not_ranked_reason=v.optional_text(r[21]),
            )
            for r in unit_rows
        )
        levels: dict[tuple[str, str], list[Level]] = {}
        for (
            fw_version,
            block,
            level,
            name,
            sort_order,
            from_pct,
            below_pct,
            colour,
            bg,
        ) in level_rows:
            levels.setdefault((fw_version, block), []).append(
                Level(
                    level=level,
                    level_name=v.text(name),
                    sort_order=int(sort_order),
                    from_pct=v.decimal(from_pct),
                    below_pct=v.decimal(below_pct),
                    colour=v.text(colour),
                    background=v.text(bg),
                )
            )
        frameworks = tuple(
            Framework(
                framework_version=v.text(r[0]),
                block=v.text(r[1]),
                scale_max=v.decimal(r[2]),
                levels=tuple(levels.get((r[0], r[1]), ())),
            )
            for r in framework_rows
        )
        inputs = tuple(
            InputFile(
                sha256=r[0],
                source=r[1],
                source_file=v.text(r[2]),
                size_bytes=r[3],
                received_at=r[4],
                outcome=r[5],
                rows_loaded=r[6],
            )
            for r in ledger_rows
        )
        log.info(
            "read period %s from %s: %d units, %d input files",
            period,
            self.warehouse,
            len(units),
            len(inputs),
        )
        registry = tuple(
            RegistryIndicator(
                framework_version=v.text(r[0]),
                block=v.text(r[1]),
                pillar_code=v.text(r[2]),
                indicator_code=v.text(r[3]),
                indicator_name=v.text(r[4]),
                max_points=v.decimal(r[5]) or Decimal(0),
                method=v.text(r[6]),
                target=v.decimal(r[7]),
                tiers=v.optional_text(r[8]) or None,
                applies_to=v.optional_text(r[9]) or None,
            )
            for r in registry_rows
        )
        return PeriodMarts(
            period=period,
            units=units,
            frameworks=frameworks,
            inputs=inputs,
            registry=registry,
            locations=self._locations({u.unit_code for u in units}),
            block_history=self._block_history(),
            own_previous=self._own_previous(),
            complaints=self._complaints(),
            statistical_audit=read_statistical_audit(self._con, period),
        )

    def _complaints(self) -> dict[str, tuple[UnitComplaint, ...]]:
        """The period's complaints by unit; none in marts built before complaints were."""
        built = self._fetch(
            "select count(*) from duckdb_tables() where schema_name = 'marts' "
            "and table_name = 'fct_complaints'",
            [],
        )[0][0]
        if not built:
            return {}
        found: dict[str, list[UnitComplaint]] = {}
        for row in self._fetch(
            """
            select unit_code, complaint_id, indicator_code, complaint_text,
                strftime(filed_at at time zone 'Asia/Ho_Chi_Minh', '%Y-%m-%dT%H:%M:%S+07:00'),
                is_late, status, decision_reason, decided_by,
                strftime(decided_at at time zone 'Asia/Ho_Chi_Minh', '%Y-%m-%dT%H:%M:%S+07:00'),
                coalesce(indicators_changed, [])
            from marts.fct_complaints
            where period = ?
            order by unit_code, filed_at, complaint_id
            """,
            [self.period],
        ):
            unit_code, *rest = row
            found.setdefault(unit_code, []).append(
                UnitComplaint(*rest[:4], bool(rest[4]), *rest[5:9], tuple(rest[9]))
            )
        return {unit: tuple(items) for unit, items in found.items()}

    def _own_previous(self) -> dict[str, OwnPreviousResult]:
        """The period's units' own results of the period before (``marts.fct_unit_scores``)."""
        v = self._values
        rows = self._fetch(
            """
            select unit_code, cast(total_score as varchar), cast(percent as varchar), level,
                rank
            from marts.fct_unit_scores
            where period = ? - 1
                and unit_code in (select unit_code from marts.fct_unit_scores where period = ?)
            """,
            [self.period, self.period],
        )
        return {
            v.text(r[0]): OwnPreviousResult(
                total_score=v.decimal(r[1]) or Decimal(0),
                percent=v.decimal(r[2]),
                level=r[3],
                rank=None if r[4] is None else int(r[4]),
            )
            for r in rows
        }

    def _previous(self) -> dict[str, PreviousResult]:
        """Each unit's comparison with the period before; none in a warehouse built before
        the lineage marts."""
        v = self._values
        try:
            rows = self._fetch(
                """
                select unit_code, previous_period, method, percent, level, level_name, rank
                from marts.fct_unit_previous
                where period = ?
                """,
                [self.period],
            )
            compared_rows = self._fetch(
                """
                select unit_code, compared_code, compared_name, weight, percent, level,
                    level_name, rank
                from marts.fct_unit_predecessor_scores
                where period = ?
                order by unit_code, weight desc, compared_code
                """,
                [self.period],
            )
        except duckdb.CatalogException:
            return {}
        compared: dict[str, list[ComparedUnit]] = {}
        for r in compared_rows:
            compared.setdefault(v.text(r[0]), []).append(
                ComparedUnit(
                    unit_code=v.text(r[1]),
                    unit_name=v.text(r[2]),
                    weight=v.decimal(r[3]),
                    percent=v.decimal(r[4]),
                    level=r[5],
                    level_name=v.optional_text(r[6]),
                    rank=None if r[7] is None else int(r[7]),
                )
            )
        return {
            v.text(r[0]): PreviousResult(
                period=int(r[1]),
                method=v.text(r[2]),
                percent=v.decimal(r[3]),
                level=r[4],
                level_name=v.optional_text(r[5]),
                rank=None if r[6] is None else int(r[6]),
                compared=tuple(compared.get(v.text(r[0]), ())),
            )
            for r in rows
        }

    def _trend(self) -> dict[str, tuple[TrendPoint, ...]]:
        """Each unit's results in every period up to this one; none in a warehouse built
        before the trend mart."""
        v = self._values
        try:
            rows = self._fetch(
                """
                select unit_code, trend_period, method, framework_version, block,
                    cast(percent as varchar), level, level_name, rank
                from marts.fct_unit_trend
                where period = ?
                order by unit_code, trend_period
                """,
                [self.period],
            )
        except duckdb.CatalogException:
            return {}
        trend: dict[str, list[TrendPoint]] = {}
        for r in rows:
            trend.setdefault(v.text(r[0]), []).append(
                TrendPoint(
                    period=int(r[1]),
                    method=v.text(r[2]),
                    framework_version=v.text(r[3]),
                    block=v.text(r[4]),
                    percent=v.decimal(r[5]),
                    level=r[6],
                    level_name=v.optional_text(r[7]),
                    rank=None if r[8] is None else int(r[8]),
                )
            )
        return {code: tuple(points) for code, points in trend.items()}

    def _block_history(self) -> tuple[BlockPeriod, ...]:
        """The period's blocks in every period up to this one in the warehouse."""
        v = self._values
        rows = self._fetch(
            """
            select block, period, min(framework_version),
                list(cast(percent as varchar) order by percent)
                    filter (where status = 'scored' and percent is not null),
                list(level) filter (where status = 'scored' and level is not null),
                count(*) filter (where status <> 'scored')
            from marts.fct_unit_scores
            where period <= ?
                and block in (select block from marts.fct_unit_scores where period = ?)
            group by block, period
            order by block, period
            """,
            [self.period, self.period],
        )
        history = []
        for block, period, version, percents, levels, not_submitted in rows:
            counts: dict[str, int] = {}
            for level in levels or []:
                counts[level] = counts.get(level, 0) + 1
            history.append(
                BlockPeriod(
                    block=v.text(block),
                    period=int(period),
                    framework_version=v.text(version),
                    percents=tuple(v.decimal(p) for p in percents or []),
                    level_counts=tuple(sorted(counts.items())),
                    not_submitted=int(not_submitted),
                )
            )
        return tuple(history)

    def _locations(self, unit_codes: set[str]) -> dict[str, UnitLocation]:
        """The places of the period's units; none in a warehouse built before the map."""
        v = self._values
        try:
            rows = self._fetch(
                """
                select unit_code, official_code, division_type,
                    cast(latitude as varchar), cast(longitude as varchar)
                from marts.dim_unit_locations
                order by unit_code
                """,
                [],
            )
        except duckdb.CatalogException:
            return {}
        return {
            v.text(r[0]): UnitLocation(
                unit_code=v.text(r[0]),
                official_code=v.text(r[1]),
                division_type=v.text(r[2]),
                latitude=Decimal(r[3]),
                longitude=Decimal(r[4]),
            )
            for r in rows
            if v.text(r[0]) in unit_codes
        }

    def _indicator_key(self, unit_code: str, pillar_code: str, indicator_code: str) -> tuple:
        """The framework's reading order: pillar order, then ``NTS.2`` before ``NTS.10``."""
        return (
            self._pillar_order.get((unit_code, pillar_code), 1 << 30),
            pillar_code,
            natural_key(indicator_code),
        )

    @_bulk_load()
    def indicators(
        self, unit_codes: Collection[str] | None = None
    ) -> Mapping[str, tuple[IndicatorPoints, ...]]:
        """The indicator rows of ``unit_codes`` (all units when ``None``), in reading order.

        Call after ``read()``: the order follows each unit's pillar order.
        """
        v = self._values
        sql, params = INDICATOR_SQL, [self.period]
        if unit_codes is not None:
            if not unit_codes:
                return MappingProxyType({})
            sql += " and unit_code in (select unnest(?::varchar[]))"
            params.append(sorted(self._raw_codes.get(c, c) for c in unit_codes))
        by_unit: dict[str, list[IndicatorPoints]] = {}
        # the indicator's own columns repeat for every unit: convert each combination once
        definitions: dict[tuple, tuple] = {}
        text, decimal, zero = v.text, v.decimal, Decimal(0)
        texts, decimals = v.optional_texts, v.decimals
        for (
            unit_code,
            pillar_code,
            indicator_code,
            indicator_name,
            method,
            max_points,
            self_value,
            appraisal_value,
            scored_stage,
            is_answered,
            is_late,
            self_points,
            final_points,
            evidence_ref,
            note,
            appraiser,
            appraisal_reason,
        ) in self._fetch(sql, params):
            key = (pillar_code, indicator_code, indicator_name, method, max_points)
            definition = definitions.get(key)
            if definition is None:
                definition = definitions[key] = (
                    text(pillar_code),
                    text(indicator_code),
                    text(indicator_name),
                    text(method),
                    decimal(max_points),
                )
            points = IndicatorPoints(
                *definition,
                texts[self_value],
                texts[appraisal_value],
                scored_stage,
                bool(is_answered),
                bool(is_late),
                decimals[self_points],
                decimals[final_points] or zero,
                texts[evidence_ref],
                texts[note],
                texts[appraiser],
                texts[appraisal_reason],
            )
            rows = by_unit.get(unit_code)
            if rows is None:
                rows = by_unit[unit_code] = []
            rows.append(points)
        natural: dict[str, tuple] = {}
        order = self._pillar_order
        for unit_code, items in by_unit.items():
            items.sort(
                key=lambda i, u=unit_code: (
                    order.get((u, i.pillar_code), 1 << 30),
                    i.pillar_code,
                    natural.get(i.indicator_code)
                    or natural.setdefault(i.indicator_code, natural_key(i.indicator_code)),
                )
            )
        return MappingProxyType({v.text(code): tuple(items) for code, items in by_unit.items()})


def read_period(
    warehouse: Path, period: int
) -> tuple[PeriodMarts, Mapping[str, tuple[IndicatorPoints, ...]]]:
    """Everything about ``period``, every unit's indicator rows included."""
    with MartsReader(warehouse, period) as reader:
        marts = reader.read()
        return marts, reader.indicators()
