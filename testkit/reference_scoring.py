"""An independent reference implementation of the scoring contract, used by tests as an oracle.

It reads the framework registry (the seed CSVs) and a list of submission rows and computes,
for one period, the ``units`` list of ``results.json`` exactly as
``docs/spec/results.md`` and ``docs/spec/submissions.md`` describe it. It shares no code with
the pipeline (no DuckDB, no dbt, no ``ingest``): if both agree, both are probably right.

Arithmetic is ``decimal.Decimal`` throughout; ranks compare exact ratios by
cross-multiplication, never a rounded or binary value.

Rows are dicts with the submission fields (``period, unit_code, indicator_code, value,
evidence_ref, stage, submitted_at, submission_id``), already normalised: ``value`` is the
text as sent (``None`` or ``""`` = not answered), ``submitted_at`` an ISO-8601 text or a
``datetime`` (without an offset it is local time, +07:00).

Readings of the contract this oracle pins down (the pipeline must agree):

* The latest answer per (period, unit, indicator, stage) wins even when its value is empty:
  a unit that blanks an answer withdraws it. Ties on ``submitted_at`` go to the greater
  ``submission_id``, then to the later version of it (``source_updated_at``, portal only).
* An ``appraisal`` answer counts where the council's latest answer has a value; an empty
  council answer leaves the unit's own answer in place.
* A unit is ``not_submitted`` when it has no answer row at all in the period, of either
  stage (a unit that sent only blanks did submit: it scores 0 and is ranked); a unit not
  submitted gets scores 0, ``percent``/``level``/``rank`` ``None`` and every applicable
  indicator listed as unanswered.
* Answers to an indicator that does not apply to the unit are ignored.
* Pillar ranks are competition ranks on the exact ratio ``score / max_points`` per (block,
  rank group, pillar), among scored units with a pillar maximum above 0.
* Margins (docs/spec/results.md §6a) hold every other unit still; they are found here by
  exact fractions (``Fraction`` and a ceiling), not by the integer scaling of the models.
* ``unanswered`` and ``pillars`` follow the framework's reading order: pillar ``sort_order``,
  then indicator code with its numbers compared as numbers (``HTS.2`` before ``HTS.10``);
  units are sorted by block code, then rank (not submitted last), then unit code.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from fractions import Fraction
from functools import cmp_to_key
from io import BytesIO, StringIO
from pathlib import Path
from typing import Any

LOCAL_TZ = timezone(timedelta(hours=7))
CENT = Decimal("0.01")
HUNDRED = Decimal(100)
STAGES = ("self", "appraisal")
TRUE_WORDS = frozenset({"1", "true", "có", "yes"})
FALSE_WORDS = frozenset({"0", "false", "không", "no"})
MARGIN_FIELDS = (
    "next_level",
    "points_to_next_level",
    "points_to_drop_level",
    "points_to_next_rank",
    "points_to_drop_rank",
)


@dataclass(frozen=True)
class Framework:
    version: str
    block: str
    valid_from: int
    valid_to: int | None
    # (level code, lower bound in percent), highest level first: every row of levels.csv for
    # the version and block, the lowest one starting at 0 %.
    thresholds: tuple[tuple[str, Decimal], ...]

    def covers(self, period: int) -> bool:
        return self.valid_from <= period and (self.valid_to is None or period <= self.valid_to)


@dataclass(frozen=True)
class Pillar:
    code: str
    name: str
    sort_order: int


@dataclass(frozen=True)
class Indicator:
    code: str
    pillar_code: str
    max_points: Decimal
    method: str
    target: Decimal
    tiers: tuple[tuple[Decimal, Decimal], ...]
    applies_to: frozenset[str]
    allows_decimals: bool = False  # indicators.csv: a count may have decimals ("1,000" is one)

    def applies(self, unit_code: str) -> bool:
        return not self.applies_to or unit_code in self.applies_to


@dataclass(frozen=True)
class Unit:
    code: str
    name: str
    block: str
    rank_group: str
    active_from: int
    active_to: int | None

    def active(self, period: int) -> bool:
        return self.active_from <= period and (self.active_to is None or period <= self.active_to)


@dataclass(frozen=True)
class Registry:
    frameworks: tuple[Framework, ...]
    pillars: Mapping[tuple[str, str], tuple[Pillar, ...]]  # (version, block) -> pillars
    indicators: Mapping[tuple[str, str], tuple[Indicator, ...]]  # (version, block) -> ...
    units: tuple[Unit, ...]
    # period -> (deadline for self answers, whether late self answers count); docs/spec §2
    periods: Mapping[int, tuple[datetime, bool]] = dataclasses.field(default_factory=dict)
    # unit_rank_groups.csv: (unit code, rank group, valid_from, valid_to or None, reason the
    # unit is assessed without a rank in those periods or "")
    rank_groups: tuple[tuple[str, str, int, int | None, str], ...] = ()
    # rank_groups.csv: group -> the reason its units are assessed without a rank ("" = ranked)
    group_not_ranked: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def rank_group_for(self, unit: Unit, period: int) -> str:
        """The group the unit ranks in that period: the unit_rank_groups row valid for the
        period, else the unit's default (units.csv); two valid rows are refused."""
        found = [
            group
            for code, group, valid_from, valid_to, _ in self.rank_groups
            if code == unit.code
            and valid_from <= period
            and (valid_to is None or period <= valid_to)
        ]
        if len(found) > 1:
            raise ValueError(f"{len(found)} rank groups of {unit.code} cover {period}")
        return found[0] if found else unit.rank_group

    def not_ranked_reason(self, unit: Unit, period: int) -> str | None:
        """Why the unit is assessed without a rank in the period: its unit_rank_groups row's
        reason, else its group's (rank_groups.csv); None when it is ranked."""
        for code, _, valid_from, valid_to, reason in self.rank_groups:
            if (
                code == unit.code
                and valid_from <= period
                and (valid_to is None or period <= valid_to)
            ):
                if reason:
                    return reason
        return self.group_not_ranked.get(self.rank_group_for(unit, period)) or None

    def framework_for(self, block: str, period: int) -> Framework:
        found = [f for f in self.frameworks if f.block == block and f.covers(period)]
        if len(found) != 1:
            raise ValueError(f"{len(found)} framework versions cover block {block} in {period}")
        return found[0]


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def _optional_int(text: str) -> int | None:
    return int(text) if text.strip() else None


def load_registry(seeds_dir: Path) -> Registry:
    """The registry CSVs the scoring reads, as plain objects."""
    levels: dict[tuple[str, str], list[tuple[str, Decimal]]] = {}
    for row in _read_csv(seeds_dir / "levels.csv"):
        levels.setdefault((row["framework_version"], row["block"]), []).append(
            (row["level_code"], Decimal(row["from_pct"]))
        )
    frameworks = []
    for row in _read_csv(seeds_dir / "frameworks.csv"):
        thresholds = sorted(
            levels.get((row["framework_version"], row["block"]), []),
            key=lambda item: item[1],
            reverse=True,
        )
        frameworks.append(
            Framework(
                version=row["framework_version"],
                block=row["block"],
                valid_from=int(row["valid_from"]),
                valid_to=_optional_int(row["valid_to"]),
                thresholds=tuple(thresholds),
            )
        )
    pillars: dict[tuple[str, str], list[Pillar]] = {}
    for row in _read_csv(seeds_dir / "pillars.csv"):
        pillars.setdefault((row["framework_version"], row["block"]), []).append(
            Pillar(row["pillar_code"], row["pillar_name"], int(row["sort_order"]))
        )
    indicators: dict[tuple[str, str], list[Indicator]] = {}
    for row in _read_csv(seeds_dir / "indicators.csv"):
        tiers = tuple(
            (Decimal(bound), Decimal(points))
            for bound, points in (t.split(":") for t in row["tiers"].split("|") if t.strip())
        )
        indicators.setdefault((row["framework_version"], row["block"]), []).append(
            Indicator(
                code=row["indicator_code"],
                pillar_code=row["pillar_code"],
                max_points=Decimal(row["max_points"]),
                method=row["method"],
                target=Decimal(row["target"]) if row["target"].strip() else HUNDRED,
                tiers=tuple(sorted(tiers)),
                applies_to=frozenset(c for c in row["applies_to"].split("|") if c.strip()),
                allows_decimals=(row.get("allows_decimals") or "").strip().lower() == "true",
            )
        )
    units = tuple(
        Unit(
            code=row["unit_code"],
            name=row["unit_name"],
            block=row["block"],
            rank_group=row["rank_group"] or "",
            active_from=int(row["active_from"]),
            active_to=_optional_int(row["active_to"]),
        )
        for row in _read_csv(seeds_dir / "units.csv")
    )
    periods = {}
    if (seeds_dir / "periods.csv").exists():
        for row in _read_csv(seeds_dir / "periods.csv"):
            counts = (row.get("late_self_answers_count") or "true").strip().lower() != "false"
            periods[int(row["period"])] = (parse_instant(row["deadline"]), counts)
    rank_groups = ()
    if (seeds_dir / "unit_rank_groups.csv").exists():  # optional: an older registry has none
        rank_groups = tuple(
            (
                row["unit_code"],
                row["rank_group"] or "",
                int(row["valid_from"]),
                _optional_int(row["valid_to"]),
                (row.get("not_ranked_reason") or "").strip(),
            )
            for row in _read_csv(seeds_dir / "unit_rank_groups.csv")
        )
    group_not_ranked = {}
    if (seeds_dir / "rank_groups.csv").exists():
        group_not_ranked = {
            row["rank_group"].strip(): (row.get("not_ranked_reason") or "").strip()
            for row in _read_csv(seeds_dir / "rank_groups.csv")
        }
    return Registry(
        frameworks=tuple(frameworks),
        pillars={k: tuple(sorted(v, key=lambda p: p.sort_order)) for k, v in pillars.items()},
        indicators={k: tuple(v) for k, v in indicators.items()},
        units=units,
        periods=periods,
        rank_groups=rank_groups,
        group_not_ranked=group_not_ranked,
    )


# --- reading values -------------------------------------------------------------------------


def round_half_up(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def parse_number(text: str) -> Decimal:
    """A number as humans write it: ``87,5`` or ``87.5``; refuses NaN, infinities, junk."""
    cleaned = text.strip().replace(" ", "")
    if "," in cleaned and "." in cleaned:
        raise ValueError(f"ambiguous number {text!r}: both a decimal comma and a point")
    try:
        number = Decimal(cleaned.replace(",", "."))
    except InvalidOperation:
        raise ValueError(f"not a number: {text!r}") from None
    if not number.is_finite():
        raise ValueError(f"not a finite number: {text!r}")
    return number


def parse_boolean(text: str) -> bool:
    word = unicodedata.normalize("NFC", text).strip().casefold()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(f"not a yes/no answer: {text!r}")


THOUSANDS = re.compile(r"[0-9]{1,3}([.,][0-9]{3})+")


def indicator_points(indicator: Indicator, value: str) -> Decimal:
    """The points of one answered indicator, rounded half up to 2 decimals. A count (tiers)
    written with a thousands separator (``1.000``) is refused unless the indicator allows
    decimals (docs/spec/submissions.md §3)."""
    if (
        indicator.method == "tiers"
        and not indicator.allows_decimals
        and THOUSANDS.fullmatch(value.strip())
    ):
        raise ValueError(f"{indicator.code}: {value!r} has a thousands separator")
    if indicator.method == "boolean":
        points = indicator.max_points if parse_boolean(value) else Decimal(0)
    elif indicator.method == "ratio":
        number = parse_number(value)
        if not Decimal(0) <= number <= HUNDRED:
            raise ValueError(f"{indicator.code}: ratio {value!r} outside 0-100")
        with localcontext() as ctx:
            ctx.prec = 50
            points = indicator.max_points * min(number / indicator.target, Decimal(1))
    elif indicator.method == "tiers":
        number = parse_number(value)
        points = Decimal(0)
        for bound, tier_points in indicator.tiers:
            if bound <= number:
                points = tier_points
    elif indicator.method == "points":
        points = parse_number(value)
        if not Decimal(0) <= points <= indicator.max_points:
            raise ValueError(f"{indicator.code}: points {value!r} outside 0-{indicator.max_points}")
    else:
        raise ValueError(f"{indicator.code}: unknown method {indicator.method!r}")
    return round_half_up(points)


def parse_instant(value: str | datetime) -> datetime:
    """An aware datetime; local time (no offset) is read as +07:00."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value.strip())
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=LOCAL_TZ)


def _is_answered(value: str | None) -> bool:
    return value is not None and value.strip() != ""


# --- scoring --------------------------------------------------------------------------------


def latest_answers(
    rows: Iterable[Mapping[str, Any]], period: int
) -> dict[tuple[str, str, str], Mapping[str, Any]]:
    """(unit, indicator, stage) -> the row that counts: latest instant, then submission_id,
    then the version's ``source_updated_at`` (portal revisions under one id)."""
    latest: dict[tuple[str, str, str], tuple[tuple, Mapping[str, Any]]] = {}
    for row in rows:
        if int(row["period"]) != period:
            continue
        if row["stage"] not in STAGES:
            raise ValueError(f"unknown stage {row['stage']!r}")
        key = (row["unit_code"], row["indicator_code"], row["stage"])
        # a portal answer revised under the same id: its later version (updated_at) wins
        updated = row.get("source_updated_at")
        order = (
            parse_instant(row["submitted_at"]),
            str(row.get("submission_id") or ""),
            parse_instant(updated) if updated else datetime.min.replace(tzinfo=LOCAL_TZ),
        )
        if key not in latest or order > latest[key][0]:
            latest[key] = (order, row)
    return {key: row for key, (_, row) in latest.items()}


def _natural(code: str) -> tuple[tuple[int, int | str], ...]:
    """``HTS.10`` after ``HTS.2``: digit runs compare as numbers."""
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", code) if part
    )


def _compare_ratio(a: dict[str, Any], b: dict[str, Any]) -> int:
    """Descending by total / applicable_max, compared exactly by cross-multiplication."""
    left = a["total_score"] * b["applicable_max"]
    right = b["total_score"] * a["applicable_max"]
    return -1 if left > right else (1 if left < right else 0)


def _percent(total: Decimal, applicable_max: Decimal) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 50
        return round_half_up(total * HUNDRED / applicable_max)


def _level(framework: Framework, total: Decimal, applicable_max: Decimal) -> str:
    for level, from_pct in framework.thresholds:
        if total * HUNDRED >= from_pct * applicable_max:
            return level
    raise ValueError(f"{framework.version}/{framework.block}: no level starts at 0 %")


def _score_unit(
    unit: Unit,
    framework: Framework,
    pillars: tuple[Pillar, ...],
    indicators: tuple[Indicator, ...],
    latest: Mapping[tuple[str, str, str], Mapping[str, Any]],
    submitting: set[str],
) -> dict[str, Any]:
    order = {p.code: (p.sort_order, p.code) for p in pillars}
    applicable = sorted(
        (i for i in indicators if i.applies(unit.code)),
        key=lambda i: (order.get(i.pillar_code, (1 << 30, i.pillar_code)), _natural(i.code)),
    )
    if not applicable:
        raise ValueError(f"no indicator of {framework.version} applies to {unit.code}")
    final: dict[str, Decimal] = {}
    self_points: dict[str, Decimal] = {}
    unanswered: list[str] = []
    for indicator in applicable:
        own = latest.get((unit.code, indicator.code, "self"))
        council = latest.get((unit.code, indicator.code, "appraisal"))
        own_value = own["value"] if own is not None else None
        council_value = council["value"] if council is not None else None
        self_points[indicator.code] = (
            indicator_points(indicator, own_value) if _is_answered(own_value) else Decimal("0")
        )
        if _is_answered(council_value):
            final[indicator.code] = indicator_points(indicator, council_value)
        elif _is_answered(own_value):
            final[indicator.code] = self_points[indicator.code]
        else:
            final[indicator.code] = Decimal("0")
            unanswered.append(indicator.code)
    submitted = unit.code in submitting
    applicable_max = sum((i.max_points for i in applicable), Decimal(0))
    total = sum(final.values(), Decimal(0)) if submitted else Decimal(0)
    own_total = sum(self_points.values(), Decimal(0)) if submitted else Decimal(0)
    pillar_rows = []
    for pillar in pillars:
        members = [i for i in applicable if i.pillar_code == pillar.code]
        pillar_rows.append(
            {
                "pillar_code": pillar.code,
                "pillar_name": pillar.name,
                "score": round_half_up(sum((final[i.code] for i in members), Decimal(0))),
                "max_points": round_half_up(sum((i.max_points for i in members), Decimal(0))),
                "rank": None,
            }
        )
    return {
        "unit_code": unit.code,
        "unit_name": unit.name,
        "block": unit.block,
        "status": "scored" if submitted else "not_submitted",
        "total_score": round_half_up(total),
        "self_score": round_half_up(own_total),
        "applicable_max": round_half_up(applicable_max),
        "percent": _percent(total, applicable_max) if submitted else None,
        "level": _level(framework, total, applicable_max) if submitted else None,
        "rank": None,
        "pillars": pillar_rows,
        "unanswered": unanswered,
        "late": False,
        "margins": dict.fromkeys(MARGIN_FIELDS),
        "_framework": framework,
    }


def score_period(
    rows: Iterable[Mapping[str, Any]],
    period: int,
    seeds_dir: Path,
    registry: Registry | None = None,
) -> list[dict[str, Any]]:
    """The ``results.json`` ``units`` list of one period (numbers as ``Decimal``).

    Rows of other periods are ignored; a row of this period naming a unit or indicator the
    registry does not know for it raises ``ValueError`` (the pipeline would refuse it).
    ``registry``: ``load_registry(seeds_dir)`` already read, for a caller scoring many times.
    """
    registry = registry or load_registry(seeds_dir)
    units = [u for u in registry.units if u.active(period)]
    by_code = {u.code: u for u in units}
    rows = [row for row in rows if int(row["period"]) == period]
    # a unit whose only rows are late (and do not count) still submitted: docs/spec §7
    submitting = {row["unit_code"] for row in rows}
    late_units: set[str] = set()
    if period in registry.periods:
        deadline, late_counts = registry.periods[period]
        late = [
            row
            for row in rows
            if row["stage"] == "self" and parse_instant(row["submitted_at"]) > deadline
        ]
        late_units = {row["unit_code"] for row in late}
        if not late_counts:
            late_ids = {id(row) for row in late}
            rows = [row for row in rows if id(row) not in late_ids]
    latest = latest_answers(rows, period)
    known: dict[str, set[str]] = {}
    frameworks: dict[str, Framework] = {}
    for unit in units:
        if unit.block not in frameworks:
            frameworks[unit.block] = registry.framework_for(unit.block, period)
            key = (frameworks[unit.block].version, unit.block)
            known[unit.block] = {i.code for i in registry.indicators.get(key, ())}
    for unit_code, indicator_code, _ in latest:
        unit = by_code.get(unit_code)
        if unit is None:
            raise ValueError(f"unit {unit_code!r} is not active in {period}")
        if indicator_code not in known[unit.block]:
            raise ValueError(f"indicator {indicator_code!r} is not in the {unit.block} framework")

    results = []
    for unit in units:
        framework = frameworks[unit.block]
        key = (framework.version, unit.block)
        results.append(
            _score_unit(
                unit,
                framework,
                registry.pillars.get(key, ()),
                registry.indicators.get(key, ()),
                latest,
                submitting,
            )
        )

    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for result in results:
        unit = by_code[result["unit_code"]]
        result["_rank_group"] = registry.rank_group_for(unit, period)
        # assessed without a rank: level and level margins, no rank, no place taken (§6)
        result["not_ranked_reason"] = registry.not_ranked_reason(unit, period)
        if result["status"] == "scored" and result["not_ranked_reason"] is None:
            groups.setdefault((result["block"], result["_rank_group"]), []).append(result)
        elif result["status"] == "scored":
            result["margins"] = _margins(result, [result])
    for members in groups.values():
        members.sort(key=cmp_to_key(_compare_ratio))
        for position, result in enumerate(members, start=1):
            previous = members[position - 2] if position > 1 else None
            if previous is not None and _compare_ratio(previous, result) == 0:
                result["rank"] = previous["rank"]
            else:
                result["rank"] = position
    for members in groups.values():
        _rank_pillars(members)
        for result in members:
            result["margins"] = _margins(result, members)
    for result in results:
        del result["_rank_group"], result["_framework"]
        result["late"] = result["unit_code"] in late_units
    results.sort(
        key=lambda r: (
            r["block"],
            r["rank"] is None,
            r["rank"] if r["rank"] is not None else 0,
            r["unit_code"],
        )
    )
    return results


# The fields of a published unit the reference scorer computes, compared one by one.
UNIT_FIELDS = (
    "unit_code", "unit_name", "block", "status", "total_score", "self_score",
    "applicable_max", "percent", "level", "rank", "unanswered", "late", "not_ranked_reason",
)  # fmt: skip


def same_value(got: Any, want: Any) -> bool:
    """Equal, numbers compared as decimals (``results.json`` may carry "12.50" or 12.5)."""
    if isinstance(want, Decimal) or isinstance(got, Decimal):
        return got is not None and want is not None and Decimal(got) == Decimal(want)
    return got == want


def assert_units_match(
    published: Mapping[str, Any],
    expected: list[dict[str, Any]],
    fields: Iterable[str] = UNIT_FIELDS,
) -> None:
    """``published`` (a ``results.json``) lists the units of ``expected`` (``score_period``)
    in the same order, each with the same ``fields``, pillars (score, maximum, rank) and
    margins; an assertion names the period, unit and field that differ."""
    period = published.get("period")
    assert [u["unit_code"] for u in published["units"]] == [u["unit_code"] for u in expected]
    for got, want in zip(published["units"], expected, strict=True):
        where = (period, got["unit_code"])
        for field in fields:
            assert same_value(got[field], want[field]), (*where, field, got[field], want[field])
        assert [
            (p["pillar_code"], Decimal(p["score"]), Decimal(p["max_points"]), p["rank"])
            for p in got["pillars"]
        ] == [
            (p["pillar_code"], p["score"], p["max_points"], p["rank"]) for p in want["pillars"]
        ], (
            *where,
            "pillars",
        )
        assert list(got["margins"]) == list(want["margins"]), (*where, "margins")
        for field, value in want["margins"].items():
            assert same_value(got["margins"][field], value), (*where, field)


def _rank_pillars(members: list[dict[str, Any]]) -> None:
    """Competition ranks per pillar among the scored units of one rank group."""
    for result in members:
        for pillar in result["pillars"]:
            pillar["rank"] = None
    codes = {p["pillar_code"] for r in members for p in r["pillars"]}
    for code in codes:
        entries = [
            (Fraction(p["score"]) / Fraction(p["max_points"]), p)
            for r in members
            for p in r["pillars"]
            if p["pillar_code"] == code and p["max_points"] > 0
        ]
        for ratio, pillar in entries:
            pillar["rank"] = 1 + sum(1 for other, _ in entries if other > ratio)


def _least_total(ratio: Fraction, applicable_max: Decimal) -> Decimal:
    """The smallest total in hundredths whose ratio to ``applicable_max`` reaches ``ratio``."""
    cents = math.ceil(ratio * Fraction(applicable_max) * 100)
    return Decimal(cents) / 100


def _margins(result: dict[str, Any], members: list[dict[str, Any]]) -> dict[str, Any]:
    """docs/spec/results.md §6a for one scored unit, every other unit of its group held still."""
    total, applicable_max = result["total_score"], result["applicable_max"]
    margins: dict[str, Any] = dict.fromkeys(MARGIN_FIELDS)
    if applicable_max <= 0:
        return margins
    # thresholds lowest first, the lowest at 0 %
    levels = sorted(result["_framework"].thresholds, key=lambda item: item[1])
    position = [code for code, _ in levels].index(result["level"])
    if position + 1 < len(levels):
        code, from_pct = levels[position + 1]
        margins["next_level"] = code
        margins["points_to_next_level"] = (
            _least_total(Fraction(from_pct) / 100, applicable_max) - total
        )
    if position > 0:
        own_pct = levels[position][1]
        floor = _least_total(Fraction(own_pct) / 100, applicable_max)
        margins["points_to_drop_level"] = total - (floor - CENT)
    mine = Fraction(total) / Fraction(applicable_max)
    others = [
        Fraction(r["total_score"]) / Fraction(r["applicable_max"])
        for r in members
        if r is not result and r["applicable_max"] > 0
    ]
    above = [ratio for ratio in others if ratio > mine]
    below = [ratio for ratio in others if ratio < mine]
    if above:
        margins["points_to_next_rank"] = _least_total(min(above), applicable_max) - total
    if mine in others:
        margins["points_to_drop_rank"] = CENT
    elif below and max(below) > 0:
        floor = _least_total(max(below), applicable_max)
        margins["points_to_drop_rank"] = total - (floor - CENT)
    return margins


# --- reading an inbox back (for the oracle only; the pipeline has its own ingest) ------------

FIELDS = ("period", "unit_code", "indicator_code", "value", "evidence_ref", "stage", "submitted_at")


def _cell_text(value: object) -> str:
    """An XLSX cell as the text a person typed; numbers without a spurious ``.0``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _nfc(text: str | None) -> str:
    return unicodedata.normalize("NFC", text or "")


def _file_rows(path: Path, data: bytes) -> list[dict[str, Any]]:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        reader = csv.DictReader(StringIO(data.decode("utf-8-sig"), newline=""))
        return [dict(row) for row in reader]
    if suffix == ".json":
        document = json.loads(data.decode("utf-8"))
        head = {k: document[k] for k in ("period", "unit_code", "stage", "submitted_at")}
        return [{**head, **answer} for answer in document["answers"]]
    if suffix == ".xlsx":
        from openpyxl import load_workbook

        workbook = load_workbook(BytesIO(data), read_only=True, data_only=True)
        try:
            sheet = workbook.worksheets[0]
            lines = list(sheet.iter_rows(values_only=True))
        finally:
            workbook.close()
        header = [_cell_text(c) for c in lines[0]]
        return [dict(zip(header, (_cell_text(c) for c in line), strict=True)) for line in lines[1:]]
    raise ValueError(f"{path.name}: not a CSV, JSON or XLSX file")


def read_inbox(inbox: Path) -> list[dict[str, Any]]:
    """Every row of every ready file (one with a ``<name>.ready`` flag) in ``inbox``.

    ``submission_id`` is ``<sha256 of the file>:<row number>`` (1 = first data row), as the
    contract gives files; ``source_file`` names the file the row came from.
    """
    rows: list[dict[str, Any]] = []
    for path in sorted(inbox.iterdir()):
        if path.suffix == ".ready" or not path.with_name(path.name + ".ready").exists():
            continue
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        for number, raw in enumerate(_file_rows(path, data), start=1):
            row: dict[str, Any] = {name: _nfc(_cell_text(raw.get(name))) for name in FIELDS}
            row["period"] = int(row["period"])
            row["submission_id"] = f"{digest}:{number}"
            row["source_file"] = path.name
            rows.append(row)
    return rows
