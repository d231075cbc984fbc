"""The four Great Expectations suites, as code: what "the data is right" means at each checkpoint.

Each checkpoint validates one *batch* (the rows of its main table for the period) with one
suite. Checks that need other tables (the registry, the ledger, the pillars of a unit …) are
``UnexpectedRowsExpectation``s: SQL that returns the rows breaking the rule, run inside DuckDB
(``{batch}`` is the checkpoint's batch). An expectation passes when its query returns no row; the
rows it returns are the failing sample the gate and the auditors see.

Every expectation carries ``severity`` (GX 1.x's own field) and ``meta``:
``{"check": <short name>, "severity": "critical" | "warning"}``. A failed critical expectation
stops the run before anything is published; a failed warning is published in the manifest.

The suites in ``expectations/gx/expectations/*.json`` are written from this module by
``python -m expectations.suites`` (a test fails when they drift apart).
"""

from __future__ import annotations

import json
import logging
import textwrap
from pathlib import Path

import great_expectations as gx
from great_expectations.expectations import Expectation

from dti.codes import CODE_COLUMNS, CODE_PATTERN, MAX_CODE_LENGTH
from dti.settings import Settings
from dti.vocabulary import CHECKPOINTS
from expectations.checkpoints import (
    CHECKPOINT_DEFINITIONS,
    CRITICAL,
    WARNING,
    anomaly_thresholds,
)

log = logging.getLogger(__name__)

REPO_GX_ROOT = Path(__file__).resolve().parent  # the file context lives in expectations/gx/


def _rows(check: str, severity: str, description: str, sql: str) -> Expectation:
    """An expectation that no row matches ``sql`` (which selects the offending rows)."""
    return gx.expectations.UnexpectedRowsExpectation(
        unexpected_rows_query=textwrap.dedent(sql).strip(),
        description=description,
        severity=severity,
        meta={"check": check, "severity": severity},
    )


def _has_rows(check: str, description: str) -> Expectation:
    return gx.expectations.ExpectTableRowCountToBeBetween(
        min_value=1,
        description=description,
        severity=CRITICAL,
        meta={"check": check, "severity": CRITICAL},
    )


# --- framework: the registry is coherent ------------------------------------------------------


def _registry_codes_sql() -> str:
    """Every code of the registry as (kind, place, code), from ``dti.codes.CODE_COLUMNS``."""
    return "\n            union all\n            ".join(
        f"select '{kind}' as kind, '{file_name.removesuffix('.csv')}.{column}' as place, "
        f"{column} as code from registry.{file_name.removesuffix('.csv')}"
        for kind, places in CODE_COLUMNS.items()
        for file_name, column in places
    )


_FRAMEWORK = [
    _has_rows("framework_present", "The registry holds at least one framework version."),
    _rows(
        "period_has_framework",
        CRITICAL,
        "The period under validation is a registry period and a framework version governs it.",
        """
        with batch_rows as (select * from {batch})
        select distinct validated_period as period
        from batch_rows
        where validated_period not in (select period from registry.periods)
            or validated_period not in (
                select validated_period from batch_rows
                where validated_period between valid_from and valid_to
            )
        """,
    ),
    _rows(
        "levels_ordered",
        CRITICAL,
        "Each framework version and block has its levels as rows of levels.csv: the lowest "
        "starts at 0 %, each next one (by sort_order) strictly higher and none above 100 % "
        "(no two levels share a threshold or an order); a level code is lower-case letters, "
        "digits and _, a label is given, colours are #rrggbb.",
        """
        with batch_rows as (select * from {batch}),
        ladder as (
            select l.framework_version, l.block, l.level_code, l.level_name, l.sort_order,
                l.from_pct, l.colour, l.background,
                row_number() over w as position,
                lag(l.from_pct) over w as previous_pct,
                lag(l.sort_order) over w as previous_order
            from registry.levels as l
            inner join batch_rows as f
                on l.framework_version = f.framework_version and l.block = f.block
            window w as (
                partition by l.framework_version, l.block order by l.sort_order, l.from_pct
            )
        )
        select f.framework_version, f.block, l.level_code, l.sort_order, l.from_pct,
            case
                when l.framework_version is null then 'no level in levels.csv'
                when l.from_pct is null or l.sort_order is null
                    then 'from_pct and sort_order are required'
                when l.position = 1 and l.from_pct <> 0 then 'the lowest level starts at 0 %'
                when l.from_pct < 0 or l.from_pct > 100 then 'from_pct is outside 0–100'
                when l.sort_order = l.previous_order then 'two levels share a sort_order'
                when l.from_pct <= l.previous_pct
                    then 'threshold not above the level before it (overlapping levels)'
                when not regexp_full_match(coalesce(l.level_code, ''), '[a-z][a-z0-9_]*')
                    then 'level_code is not lower-case letters, digits and _'
                when trim(coalesce(l.level_name, '')) = '' then 'level_name is empty'
                when not regexp_full_match(coalesce(l.colour, ''), '#[0-9a-fA-F]+')
                    or not regexp_full_match(coalesce(l.background, ''), '#[0-9a-fA-F]+')
                    or length(l.colour) <> 7 or length(l.background) <> 7
                    then 'colour and background are #rrggbb'
            end as problem
        from batch_rows as f
        left join ladder as l
            on l.framework_version = f.framework_version and l.block = f.block
        where problem is not null
        order by f.framework_version, f.block, l.sort_order
        """,
    ),
    _rows(
        "levels_belong_to_framework",
        CRITICAL,
        "Every row of levels.csv names a framework version and block of frameworks.csv.",
        """
        with batch_rows as (select * from {batch})
        select l.framework_version, l.block, l.level_code
        from registry.levels as l
        anti join batch_rows as f
            on l.framework_version = f.framework_version and l.block = f.block
        """,
    ),
    _rows(
        "framework_validity",
        CRITICAL,
        "Each framework version has a positive scale and valid_from ≤ valid_to.",
        """
        with batch_rows as (select * from {batch})
        select framework_version, block, valid_from, valid_to, scale_max
        from batch_rows
        where valid_from is null or valid_to is null or valid_from > valid_to
            or scale_max is null or scale_max <= 0
        """,
    ),
    _rows(
        "one_framework_per_block_period",
        CRITICAL,
        "At most one framework version governs a block in any period (no overlapping ranges).",
        """
        with batch_rows as (select * from {batch})
        select a.block, a.framework_version, b.framework_version as overlaps_with
        from batch_rows as a
        inner join batch_rows as b
            on a.block = b.block
            and a.framework_version < b.framework_version
            and a.valid_from <= b.valid_to
            and b.valid_from <= a.valid_to
        """,
    ),
    _rows(
        "pillars_add_up_to_scale",
        CRITICAL,
        "The pillars' maximum points add up to the block's scale (scale_max).",
        """
        with batch_rows as (select * from {batch}),
        pillar_totals as (
            select framework_version, block, sum(max_points) as pillar_points
            from registry.pillars
            group by all
        )
        select f.framework_version, f.block, f.scale_max,
            coalesce(p.pillar_points, 0) as pillar_points
        from batch_rows as f
        left join pillar_totals as p
            on f.framework_version = p.framework_version and f.block = p.block
        where coalesce(p.pillar_points, 0) <> f.scale_max
        """,
    ),
    _rows(
        "indicators_add_up_to_pillar",
        CRITICAL,
        "Each pillar's indicators' maximum points add up to the pillar's maximum; every "
        "indicator belongs to a pillar of its framework version and block.",
        """
        with batch_rows as (select * from {batch}),
        indicator_totals as (
            select framework_version, block, pillar_code,
                sum(max_points) as indicator_points, count(*) as indicators
            from registry.indicators
            group by all
        ),
        framework_pillars as (
            select p.*
            from registry.pillars as p
            inner join batch_rows as f
                on p.framework_version = f.framework_version and p.block = f.block
        )
        select coalesce(p.framework_version, i.framework_version) as framework_version,
            coalesce(p.block, i.block) as block,
            coalesce(p.pillar_code, i.pillar_code) as pillar_code,
            p.max_points as pillar_max,
            coalesce(i.indicator_points, 0) as indicator_points
        from framework_pillars as p
        full outer join indicator_totals as i
            on p.framework_version = i.framework_version
            and p.block = i.block
            and p.pillar_code = i.pillar_code
        where p.pillar_code is null
            or coalesce(i.indicator_points, 0) <> p.max_points
        """,
    ),
    _rows(
        "indicator_methods_known",
        CRITICAL,
        "Every indicator has a known method (boolean, ratio, tiers, points) and positive "
        "max_points; a ratio's target, when given, is positive. Only an indicator the registry "
        "marks not scored (scored = false: information collected and shown) has 0 points, and "
        "it is a boolean, a ratio or a count (tiers without tiers), never points.",
        """
        with batch_rows as (select * from {batch})
        select i.framework_version, i.block, i.indicator_code, i.method, i.max_points, i.target,
            i.scored,
            case
                when i.method is null or i.method not in ('boolean', 'ratio', 'tiers', 'points')
                    then 'unknown method'
                when i.max_points is null or i.max_points < 0 then 'max_points missing or negative'
                when coalesce(i.scored, true) and i.max_points = 0
                    then 'a scored indicator with 0 points (mark it scored = false if it is information only)'
                when not coalesce(i.scored, true) and i.max_points <> 0
                    then 'an indicator not scored has max_points 0'
                when not coalesce(i.scored, true) and i.method = 'points'
                    then 'an indicator not scored cannot be answered in points: use tiers (a count), ratio or boolean'
                when not coalesce(i.scored, true) and coalesce(trim(i.tiers), '') <> ''
                    then 'an indicator not scored has no tiers'
                when i.method = 'ratio' and i.target is not null and i.target <= 0
                    then 'a ratio target is positive'
            end as problem
        from registry.indicators as i
        inner join batch_rows as f
            on i.framework_version = f.framework_version and i.block = f.block
        where problem is not null
        """,
    ),
    _rows(
        "tiers_well_formed",
        CRITICAL,
        "A tiers indicator lists `lower_bound:points` pairs separated by `|`, lower bounds "
        "strictly ascending, points ascending, within (0, max_points] (a count not scored has "
        "none).",
        """
        with batch_rows as (select * from {batch}),
        tiered as (
            select i.framework_version, i.block, i.indicator_code, i.max_points, i.tiers,
                string_split(coalesce(i.tiers, ''), '|') as parts
            from registry.indicators as i
            inner join batch_rows as f
                on i.framework_version = f.framework_version and i.block = f.block
            where i.method = 'tiers' and coalesce(i.scored, true)
        ),
        tiers as (
            select framework_version, block, indicator_code, max_points, tiers,
                unnest(parts) as part, generate_subscripts(parts, 1) as position
            from tiered
        ),
        parsed as (
            select *,
                regexp_full_match(trim(part), '[0-9]+([.][0-9]+)?:[0-9]+([.][0-9]+)?')
                    as is_well_formed,
                try_cast(split_part(trim(part), ':', 1) as decimal(18, 4)) as lower_bound,
                try_cast(split_part(trim(part), ':', 2) as decimal(18, 4)) as points
            from tiers
        ),
        ordered as (
            select *,
                lag(lower_bound) over (
                    partition by framework_version, block, indicator_code order by position
                ) as previous_bound,
                lag(points) over (
                    partition by framework_version, block, indicator_code order by position
                ) as previous_points
            from parsed
        )
        select framework_version, block, indicator_code, tiers, part, position
        from ordered
        where not is_well_formed
            or points <= 0 or points > max_points
            or lower_bound <= previous_bound
            or points < previous_points
        """,
    ),
    _rows(
        "units_have_framework",
        CRITICAL,
        "Every unit's block has exactly one framework version for each period it is active in.",
        """
        with batch_rows as (select * from {batch}),
        unit_periods as (
            select unit_code, block,
                unnest(range(active_from, active_to + 1)) as period
            from registry.units
        )
        select u.unit_code, u.block, u.period, count(f.framework_version) as frameworks
        from unit_periods as u
        left join batch_rows as f
            on u.block = f.block and u.period between f.valid_from and f.valid_to
        group by all
        having count(f.framework_version) <> 1
        """,
    ),
    _rows(
        "unit_codes_unique",
        CRITICAL,
        "Unit codes are unique and every unit has a block and an active range.",
        """
        with batch_rows as (select * from {batch} limit 1)
        select u.unit_code, count(*) as rows_with_code
        from registry.units as u, batch_rows
        group by u.unit_code
        having count(*) > 1
            or bool_or(u.block is null or u.active_from is null or u.active_to is null
                or u.active_from > u.active_to)
        """,
    ),
    _rows(
        "codes_follow_grammar",
        CRITICAL,
        "Every registry code (unit, block, rank group, framework version, pillar, indicator, "
        f"level) is ASCII letters and digits with single . _ - between them, at most "
        f"{MAX_CODE_LENGTH} characters, and every period a four-digit year: codes become "
        "file names and links (docs/spec/results.md §1.1).",
        f"""
        with batch_rows as (select * from {{batch}} limit 1),
        codes as (
            {_registry_codes_sql()}
        )
        select kind, place, code
        from codes, batch_rows
        where code is not null and code <> ''
            and (length(code) > {MAX_CODE_LENGTH}
                or not regexp_full_match(code, '{CODE_PATTERN}'))
        union all
        select 'period', 'periods.period', cast(period as varchar)
        from registry.periods, batch_rows
        where period not between 1000 and 9999
        """,
    ),
    _rows(
        "codes_unique_ignoring_case",
        CRITICAL,
        "No two registry codes of one kind differ only by case (so-hepza and SO-HEPZA would "
        "name one file on Windows and macOS).",
        f"""
        with batch_rows as (select * from {{batch}} limit 1),
        codes as (
            {_registry_codes_sql()}
        )
        select kind, lower(code) as code_ignoring_case, string_agg(distinct code, ' ') as spellings
        from codes, batch_rows
        where code is not null and code <> ''
        group by kind, lower(code)
        having count(distinct code) > 1
        """,
    ),
    _rows(
        "applies_to_known_units",
        WARNING,
        "Units named in an indicator's applies_to exist in the indicator's block.",
        """
        with batch_rows as (select * from {batch}),
        named as (
            select i.framework_version, i.block, i.indicator_code,
                trim(unnest(string_split(i.applies_to, '|'))) as unit_code
            from registry.indicators as i
            inner join batch_rows as f
                on i.framework_version = f.framework_version and i.block = f.block
            where coalesce(i.applies_to, '') <> ''
        )
        select n.*
        from named as n
        left join registry.units as u on n.unit_code = u.unit_code and n.block = u.block
        where u.unit_code is null
        """,
    ),
    _rows(
        "lineage_units_known",
        CRITICAL,
        "Every lineage row joins known units: the successor is a registry unit active from "
        "from_period, the predecessor a registry unit or former unit active in the period "
        "before; kind is merged, split or renamed and the weight within (0, 1].",
        """
        with batch_rows as (select * from {batch} limit 1),
        known as (
            select unit_code, active_from, active_to from registry.units
            union all
            select unit_code, null as active_from, active_to from registry.former_units
        )
        select l.predecessor_code, l.successor_code, l.from_period, l.kind, l.weight,
            p.unit_code is null as unknown_predecessor,
            s.unit_code is null as unknown_successor
        from registry.unit_lineage as l
        cross join batch_rows
        left join known as p
            on l.predecessor_code = p.unit_code
            and coalesce(p.active_from, l.from_period - 1) <= l.from_period - 1
            and l.from_period - 1 <= p.active_to
        left join registry.units as s
            on l.successor_code = s.unit_code and s.active_from = l.from_period
        where p.unit_code is null
            or s.unit_code is null
            or l.kind is null or l.kind not in ('merged', 'split', 'renamed')
            or l.weight is null or l.weight <= 0 or l.weight > 1
        """,
    ),
    _rows(
        "lineage_weights_add_up",
        CRITICAL,
        "A successor's lineage weights add up to 1 (the shares it was formed from).",
        """
        with batch_rows as (select * from {batch} limit 1)
        select l.successor_code, l.from_period, sum(l.weight) as weights
        from registry.unit_lineage as l
        cross join batch_rows
        group by all
        having sum(l.weight) <> 1
        """,
    ),
    _rows(
        "new_block_units_have_predecessors",
        CRITICAL,
        "Every unit of a block created by a reform (one with no unit in the registry's first "
        "period, like the 2025 wards) names at least one predecessor in the lineage from the "
        "period it starts.",
        """
        with batch_rows as (select * from {batch} limit 1),
        first_period as (select min(active_from) as period from registry.units),
        new_blocks as (
            select block
            from registry.units
            group by block
            having min(active_from) > (select period from first_period)
        )
        select u.unit_code, u.unit_name, u.block, u.active_from
        from registry.units as u
        cross join batch_rows
        inner join new_blocks as b on u.block = b.block
        where not exists (
            select 1
            from registry.unit_lineage as l
            where l.successor_code = u.unit_code and l.from_period = u.active_from
        )
        """,
    ),
]

# --- raw: the loaded submission rows --------------------------------------------------------

_RAW_TYPES = {
    "period": "INTEGER",
    "unit_code": "VARCHAR",
    "indicator_code": "VARCHAR",
    "value": "VARCHAR",
    "evidence_ref": "VARCHAR",
    "stage": "VARCHAR",
    "submitted_at": "TIMESTAMP WITH TIME ZONE",
    "submission_id": "VARCHAR",
    "source": "VARCHAR",
    "batch_sha256": "VARCHAR",
    "source_row": "INTEGER",
    "loaded_at": "TIMESTAMP WITH TIME ZONE",
}
_RAW_TYPES_VALUES = ", ".join(f"('{column}', '{kind}')" for column, kind in _RAW_TYPES.items())

# A value as sent, read as the indicator's method reads it (the same rules as dbt's macros).
_NUMBER = "try_cast(replace(trim(r.value), ',', '.') as decimal(18, 4))"

_SUBMISSIONS = [
    _has_rows("period_has_answers", "The period has loaded submission rows."),
    _rows(
        "column_types",
        CRITICAL,
        "raw.submission_rows has the contract's columns and types (submitted_at and loaded_at "
        "are TIMESTAMP WITH TIME ZONE: offsets kept).",
        f"""
        with batch_rows as (select count(*) as batch_size from {{batch}}),
        expected(column_name, data_type) as (values {_RAW_TYPES_VALUES}),
        actual as (
            select column_name, data_type
            from information_schema.columns
            where table_schema = 'raw' and table_name = 'submission_rows'
        )
        select e.column_name, e.data_type as expected_type, a.data_type as actual_type
        from expected as e
        left join actual as a on e.column_name = a.column_name
        cross join batch_rows
        where a.data_type is distinct from e.data_type
        """,
    ),
    _rows(
        "required_fields_present",
        CRITICAL,
        "period, unit_code, indicator_code, stage, submitted_at, submission_id, source and "
        "batch_sha256 are never empty.",
        """
        select submission_id, unit_code, indicator_code, stage, submitted_at, source
        from {batch}
        where period is null or coalesce(unit_code, '') = '' or coalesce(indicator_code, '') = ''
            or stage is null or submitted_at is null or coalesce(submission_id, '') = ''
            or source is null or coalesce(batch_sha256, '') = ''
        """,
    ),
    _rows(
        "stage_allowed",
        CRITICAL,
        "stage is `self` or `appraisal`; source is `inbox`, `portal_api` or `portal_db`.",
        """
        select submission_id, unit_code, indicator_code, stage, source
        from {batch}
        where stage not in ('self', 'appraisal')
            or source not in ('inbox', 'portal_api', 'portal_db')
        """,
    ),
    _rows(
        "unit_known_and_active",
        CRITICAL,
        "Every row's unit is in the unit registry and active in the row's period.",
        """
        with batch_rows as (select * from {batch})
        select r.submission_id, r.period, r.unit_code
        from batch_rows as r
        left join registry.units as u
            on r.unit_code = u.unit_code and r.period between u.active_from and u.active_to
        where u.unit_code is null
        """,
    ),
    _rows(
        "indicator_known",
        CRITICAL,
        "Every row's indicator exists in the framework version that governs the period for the "
        "unit's block.",
        """
        with batch_rows as (select * from {batch})
        select r.submission_id, r.period, r.unit_code, r.indicator_code
        from batch_rows as r
        left join registry.units as u on r.unit_code = u.unit_code
        left join registry.frameworks as f
            on u.block = f.block and r.period between f.valid_from and f.valid_to
        left join registry.indicators as i
            on f.framework_version = i.framework_version
            and f.block = i.block
            and r.indicator_code = i.indicator_code
        where i.indicator_code is null
        """,
    ),
    _rows(
        "value_readable",
        CRITICAL,
        "An answered value is readable by its indicator's method: boolean a yes/no word of "
        "the registry (value_words); ratio a number 0–100; tiers a finite number ≥ 0; points "
        "0–max_points.",
        f"""
        with batch_rows as (select * from {{batch}})
        select r.submission_id, r.unit_code, r.indicator_code, i.method, r.value
        from batch_rows as r
        inner join registry.units as u on r.unit_code = u.unit_code
        inner join registry.frameworks as f
            on u.block = f.block and r.period between f.valid_from and f.valid_to
        inner join registry.indicators as i
            on f.framework_version = i.framework_version
            and f.block = i.block
            and r.indicator_code = i.indicator_code
        where coalesce(trim(r.value), '') <> ''
            and case i.method
                when 'boolean' then lower(trim(r.value)) not in (
                    select word from registry.value_words where kind = 'boolean'
                )
                when 'ratio' then coalesce(not ({_NUMBER} between 0 and 100), true)
                when 'tiers' then coalesce({_NUMBER} < 0, true)
                when 'points' then coalesce(not ({_NUMBER} between 0 and i.max_points), true)
                else true
            end
        """,
    ),
    _rows(
        "answer_version_unique",
        CRITICAL,
        "No two loaded rows are the same answer version: (source, submission_id, updated_at of "
        "the portal's version) is unique; a revision is another version, a re-delivery is "
        "never loaded twice.",
        """
        select source, submission_id, source_updated_at, count(*) as rows_of_version
        from {batch}
        group by source, submission_id, source_updated_at,
            -- rows loaded before versions were recorded: one version per batch
            case when source_updated_at is null then batch_sha256 end
        having count(*) > 1
        """,
    ),
    _rows(
        "batch_in_ledger",
        CRITICAL,
        "Every row comes from a batch the ledger records as loaded (traceable to its archived "
        "original and its sha256).",
        """
        with batch_rows as (select distinct batch_sha256, source from {batch})
        select r.batch_sha256, r.source
        from batch_rows as r
        left join raw.load_ledger as l
            on r.batch_sha256 = l.batch_sha256 and l.outcome in ('loaded', 'partial')
        where l.batch_sha256 is null
        """,
    ),
    _rows(
        "submitted_at_plausible",
        WARNING,
        "submitted_at lies between the year before the period and now (a clock error otherwise).",
        """
        select submission_id, unit_code, indicator_code, submitted_at
        from {batch}
        where submitted_at < make_timestamptz(period - 1, 1, 1, 0, 0, 0, 'UTC')
            or submitted_at > now() + interval 1 day
        """,
    ),
    _rows(
        "self_answers_on_time",
        WARNING,
        "Self answers saved after the period's deadline (kept and flagged late).",
        """
        with batch_rows as (select * from {batch})
        select r.unit_code, count(*) as late_answers, max(r.submitted_at) as last_saved,
            any_value(p.deadline) as deadline
        from batch_rows as r
        inner join registry.periods as p on r.period = p.period
        where r.stage = 'self' and r.submitted_at > p.deadline
        group by r.unit_code
        """,
    ),
]

# --- staging: the answers that count ------------------------------------------------------

# a raw row that dbt must consider: one loaded before the last build started (a row loaded
# since is the next build's: on the event-driven path an ingest may run between the build and
# this gate, and its rows are not a fault of the build), and a late self answer only when the
# period lets it count
_COUNTED_RAW = """
    select r.*
    from raw.submission_rows as r
    left join registry.periods as p on r.period = p.period
    where r.period in (select distinct period from batch_rows)
        and r.loaded_at <= coalesce(
            (select max(try_cast(nullif(answers_through, '') as timestamptz))
             from meta.last_build),
            'infinity'::timestamptz
        )
        and not (
            r.stage = 'self' and p.deadline is not null and r.submitted_at > p.deadline
            and not coalesce(p.late_self_answers_count, true)
        )
"""

_COUNTED_ANSWERS = [
    _has_rows("period_has_current_answers", "The period has current answers."),
    _rows(
        "one_current_answer",
        CRITICAL,
        "One current answer per period, unit, indicator and stage.",
        """
        select period, unit_code, indicator_code, stage, count(*) as current_answers
        from {batch}
        group by all
        having count(*) > 1
        """,
    ),
    _rows(
        "current_answer_is_latest",
        CRITICAL,
        "The current answer is the latest counted raw row of its key (latest submitted_at, "
        "ties broken by the higher submission_id) and exists in raw.",
        f"""
        with batch_rows as (select * from {{batch}}),
        counted as ({_COUNTED_RAW}),
        latest as (
            select period, unit_code, indicator_code, stage,
                arg_max(submission_id, (submitted_at, submission_id)) as latest_submission_id
            from counted
            group by all
        )
        select b.period, b.unit_code, b.indicator_code, b.stage,
            b.submission_id as current_submission_id, l.latest_submission_id
        from batch_rows as b
        left join latest as l
            on b.period = l.period and b.unit_code = l.unit_code
            and b.indicator_code = l.indicator_code and b.stage = l.stage
        where l.latest_submission_id is distinct from b.submission_id
        """,
    ),
    _rows(
        "every_answered_key_current",
        CRITICAL,
        "Every (unit, indicator, stage) with a counted raw answer has a current answer.",
        f"""
        with batch_rows as (select * from {{batch}}),
        counted as ({_COUNTED_RAW})
        select distinct c.period, c.unit_code, c.indicator_code, c.stage
        from counted as c
        anti join batch_rows as b
            on c.period = b.period and c.unit_code = b.unit_code
            and c.indicator_code = b.indicator_code and c.stage = b.stage
        """,
    ),
    _rows(
        "points_within_max",
        CRITICAL,
        "Every applicable indicator's self and final points lie within 0–max_points.",
        """
        with batch_rows as (select distinct period from {batch})
        select p.period, p.unit_code, p.indicator_code, p.max_points, p.self_points,
            p.final_points
        from intermediate.int_indicator_points as p
        inner join batch_rows as b on p.period = b.period
        where p.final_points is null or p.final_points < 0 or p.final_points > p.max_points
            or p.self_points < 0 or p.self_points > p.max_points
        """,
    ),
]

# --- marts: what is published ---------------------------------------------------------------

_SCORES = [
    _has_rows("period_has_scores", "The period has unit scores."),
    _rows(
        "active_units_once",
        CRITICAL,
        "Every unit active in the period is present exactly once; no other unit is present.",
        """
        with batch_rows as (select * from {batch}),
        active as (
            select p.period, u.unit_code
            from registry.units as u
            inner join (select distinct period from batch_rows) as p
                on p.period between u.active_from and u.active_to
        ),
        present as (
            select period, unit_code, count(*) as rows_present from batch_rows group by all
        )
        select coalesce(a.period, s.period) as period,
            coalesce(a.unit_code, s.unit_code) as unit_code,
            a.unit_code is not null as is_active,
            coalesce(s.rows_present, 0) as rows_present
        from active as a
        full outer join present as s on a.period = s.period and a.unit_code = s.unit_code
        where a.unit_code is null or coalesce(s.rows_present, 0) <> 1
        """,
    ),
    _rows(
        "status_consistent",
        CRITICAL,
        "status is `scored` (percent, level and rank set) or `not_submitted` (total 0, no "
        "percent, level or rank).",
        """
        select unit_code, status, total_score, percent, level, rank
        from {batch}
        where status is null or status not in ('scored', 'not_submitted')
            or (status = 'scored' and (percent is null or level is null or rank is null))
            or (status = 'not_submitted' and (total_score <> 0 or percent is not null
                or level is not null or rank is not null))
        """,
    ),
    _rows(
        "framework_version_governs",
        CRITICAL,
        "Each unit is scored with the framework version that governs the period for its block.",
        """
        with batch_rows as (select * from {batch})
        select s.unit_code, s.block, s.framework_version,
            f.framework_version as governing_version
        from batch_rows as s
        left join registry.frameworks as f
            on s.block = f.block and s.period between f.valid_from and f.valid_to
        where f.framework_version is distinct from s.framework_version
        """,
    ),
    _rows(
        "total_is_sum_of_pillars",
        CRITICAL,
        "total_score, self_score and applicable_max equal the sums of the unit's pillar rows "
        "(a unit that submitted nothing may have none, and then scores 0).",
        """
        with batch_rows as (select * from {batch}),
        pillars as (
            select period, unit_code, sum(score) as pillar_score,
                sum(self_score) as pillar_self_score, sum(max_points) as pillar_max
            from marts.fct_pillar_scores
            where period in (select distinct period from batch_rows)
            group by all
        )
        select s.unit_code, s.total_score, p.pillar_score, s.self_score, p.pillar_self_score,
            s.applicable_max, p.pillar_max
        from batch_rows as s
        left join pillars as p on s.period = p.period and s.unit_code = p.unit_code
        where (p.unit_code is null
                and (s.status = 'scored' or s.total_score <> 0 or s.self_score <> 0))
            or s.total_score <> p.pillar_score
            or s.self_score <> p.pillar_self_score
            or s.applicable_max <> p.pillar_max
        """,
    ),
    _rows(
        "pillar_is_sum_of_indicators",
        CRITICAL,
        "Each pillar's score, self score and max equal the sums of its indicators' points.",
        """
        with batch_rows as (select distinct period from {batch}),
        indicators as (
            select period, unit_code, pillar_code, sum(final_points) as final_points,
                sum(self_points) as self_points, sum(max_points) as max_points
            from marts.fct_indicator_points
            where period in (select period from batch_rows)
            group by all
        ),
        pillars as (
            select * from marts.fct_pillar_scores
            where period in (select period from batch_rows)
        )
        select coalesce(p.unit_code, i.unit_code) as unit_code,
            coalesce(p.pillar_code, i.pillar_code) as pillar_code,
            p.score, i.final_points, p.self_score, i.self_points, p.max_points,
            i.max_points as indicator_max
        from pillars as p
        full outer join indicators as i
            on p.period = i.period and p.unit_code = i.unit_code
            and p.pillar_code = i.pillar_code
        where p.score is distinct from i.final_points
            or p.self_score is distinct from i.self_points
            or p.max_points is distinct from i.max_points
        """,
    ),
    _rows(
        "percent_within_range",
        CRITICAL,
        "0 ≤ total ≤ applicable_max, applicable_max > 0, and percent (0–100) is "
        "total / applicable_max × 100 rounded half up to 2 decimals.",
        """
        select unit_code, total_score, applicable_max, percent
        from {batch}
        where applicable_max is null or applicable_max <= 0
            or total_score < 0 or total_score > applicable_max
            or percent < 0 or percent > 100
            or (percent is not null
                and abs(percent * applicable_max - total_score * 100) > applicable_max * 0.005)
        """,
    ),
    _rows(
        "level_matches_thresholds",
        CRITICAL,
        "level follows the framework's thresholds, compared exactly: "
        "total × 100 ≥ threshold × applicable_max.",
        """
        with batch_rows as (select * from {batch}),
        expected as (
            select s.unit_code, s.total_score, s.applicable_max, s.percent, s.level,
                (
                    select arg_max(l.level_code, l.from_pct)
                    from registry.levels as l
                    where l.framework_version = s.framework_version
                        and l.block = s.block
                        and s.total_score * 100 >= l.from_pct * s.applicable_max
                ) as expected_level
            from batch_rows as s
            where s.status = 'scored'
        )
        select * from expected where level is distinct from expected_level
        """,
    ),
    _rows(
        "rank_within_group",
        CRITICAL,
        "rank is the competition rank (1, 2, 2, 4) of the exact total / applicable_max within "
        "period, block and rank group, over scored units assessed with a rank; a unit assessed "
        "without one (not_ranked_reason) has no rank and takes no place.",
        """
        with batch_rows as (select * from {batch}),
        expected as (
            select unit_code, block, rank_group, percent, rank, not_ranked_reason,
                case when not_ranked_reason is null then rank() over (
                    partition by period, block, coalesce(rank_group, ''),
                        not_ranked_reason is null
                    order by (cast(total_score * 100 as hugeint) * cast(1000000000000 as hugeint))
                        // cast(applicable_max * 100 as hugeint) desc
                ) end as expected_rank
            from batch_rows
            where status = 'scored'
        )
        select * from expected where rank is distinct from expected_rank
        """,
    ),
    _rows(
        "not_ranked_as_registry_says",
        CRITICAL,
        "A unit is assessed without a rank exactly when the registry says so, with its reason: "
        "its unit_rank_groups row for the period, else its rank group's row.",
        """
        with batch_rows as (select * from {batch}),
        expected as (
            select s.unit_code, s.rank_group, s.not_ranked_reason,
                coalesce(u.not_ranked_reason, g.not_ranked_reason) as expected_reason
            from batch_rows as s
            left join staging.stg_registry__unit_rank_groups as u
                on s.unit_code = u.unit_code
                and s.period >= u.valid_from
                and (u.valid_to is null or s.period <= u.valid_to)
            left join staging.stg_registry__rank_groups as g
                on s.rank_group = g.rank_group
        )
        select * from expected where not_ranked_reason is distinct from expected_reason
        """,
    ),
    _rows(
        "self_final_gap_within_appraisal",
        CRITICAL,
        "Final and self scores differ only through appraised indicators: an indicator without "
        "an appraisal keeps its self points, and |total − self| ≤ the appraised indicators' max.",
        """
        with batch_rows as (select * from {batch}),
        indicators as (
            select period, unit_code,
                sum(case when scored_stage = 'appraisal' then max_points else 0 end)
                    as appraisal_reach,
                count(*) filter (
                    where scored_stage is distinct from 'appraisal'
                        and final_points is distinct from self_points
                ) as changed_without_appraisal
            from marts.fct_indicator_points
            where period in (select distinct period from batch_rows)
            group by all
        )
        select s.unit_code, s.total_score, s.self_score, i.appraisal_reach,
            i.changed_without_appraisal
        from batch_rows as s
        left join indicators as i on s.period = i.period and s.unit_code = i.unit_code
        where abs(s.total_score - s.self_score) > coalesce(i.appraisal_reach, 0)
            or coalesce(i.changed_without_appraisal, 0) > 0
        """,
    ),
    _rows(
        "answer_counts_consistent",
        CRITICAL,
        "answered_count + unanswered_count is the number of the unit's applicable indicators; "
        "appraised_count matches the indicators scored from an appraisal.",
        """
        with batch_rows as (select * from {batch}),
        indicators as (
            select period, unit_code, count(*) as applicable,
                count(*) filter (where is_answered) as answered,
                count(*) filter (where scored_stage = 'appraisal') as appraised
            from marts.fct_indicator_points
            where period in (select distinct period from batch_rows)
            group by all
        )
        select s.unit_code, s.answered_count, s.unanswered_count, s.appraised_count,
            i.applicable, i.answered, i.appraised
        from batch_rows as s
        left join indicators as i on s.period = i.period and s.unit_code = i.unit_code
        where (i.unit_code is null
                and (s.status = 'scored' or s.answered_count <> 0 or s.appraised_count <> 0))
            or s.answered_count + s.unanswered_count <> i.applicable
            or s.answered_count <> i.answered
            or s.appraised_count <> i.appraised
        """,
    ),
    # anomalies: warnings an auditor should look at, with thresholds from dti.settings
    # (the tokens __NAME__ are replaced by build_suite; the committed suites hold the defaults)
    _rows(
        "appraisal_gap_outlier",
        WARNING,
        "Units whose self score and final score differ by more than DTI_ANOMALY_APPRAISAL_GAP_"
        "POINTS points: the council corrected them heavily, or the unit over-claimed.",
        """
        select unit_code, unit_name, block, self_score, total_score,
            self_score - total_score as gap
        from {batch}
        where status = 'scored' and abs(self_score - total_score) > __APPRAISAL_GAP_POINTS__
        """,
    ),
    _rows(
        "identical_answer_vectors",
        WARNING,
        "Units of one block whose self answers are identical, value for value, on every "
        "indicator they answered (at least DTI_ANOMALY_IDENTICAL_MIN_ANSWERS of them): one "
        "answer sheet copied to another unit?",
        """
        with batch_rows as (select * from {batch}),
        vectors as (
            select block, unit_code, count(*) as answered,
                string_agg(indicator_code || '=' || trim(self_value), chr(10)
                    order by indicator_code) as answers
            from marts.fct_indicator_points
            where period in (select distinct period from batch_rows)
                and nullif(trim(self_value), '') is not null
            group by all
        )
        select block, list(unit_code order by unit_code) as units, any_value(answered) as answered
        from vectors
        where answered >= __IDENTICAL_MIN_ANSWERS__
        group by block, answers
        having count(*) > 1
        """,
    ),
    _rows(
        "pillar_moved_since_previous_period",
        WARNING,
        "A unit's pillar score moved by more than DTI_ANOMALY_PILLAR_MOVE_POINTS points since "
        "the previous period: against its own score (same unit code and pillar code, both "
        "periods scored), or, for a unit formed by a reorganisation, against its scored "
        "predecessors' pillar (unit_lineage.csv): their lineage-weighted share of the pillar's "
        "maximum, brought to the unit's own pillar maximum.",
        """
        with batch_rows as (select * from {batch} where status = 'scored'),
        previous_units as (
            select period, unit_code from marts.fct_unit_scores
            where status = 'scored'
                and period in (select distinct period - 1 from batch_rows)
        ),
        same_unit as (
            select now_.unit_code, now_.pillar_code, [now_.unit_code] as compared_with,
                before.score as previous_score, now_.score
            from marts.fct_pillar_scores as now_
            inner join batch_rows as b
                on now_.period = b.period and now_.unit_code = b.unit_code
            inner join marts.fct_pillar_scores as before
                on before.period = now_.period - 1
                and before.unit_code = now_.unit_code
                and before.pillar_code = now_.pillar_code
            inner join previous_units as p
                on before.period = p.period and before.unit_code = p.unit_code
        ),
        -- a 2025 ward was a part of 2024 districts with other scales: each predecessor's pillar
        -- counts as its share of that pillar's maximum, weighted as marts.fct_unit_previous
        -- weighs their percents, then read on the ward's own maximum of the pillar (a warning
        -- against a whole-number threshold: a double for the weighted share is exact enough)
        predecessors as (
            select c.period, c.unit_code, before.pillar_code,
                list(c.compared_code order by c.compared_code) as compared_with,
                sum(c.weight * before.score / before.max_points) / sum(c.weight) as share
            from marts.fct_unit_predecessor_scores as c
            inner join batch_rows as b on c.period = b.period and c.unit_code = b.unit_code
            inner join marts.fct_pillar_scores as before
                on before.period = c.previous_period
                and before.unit_code = c.compared_code
            where c.relation = 'predecessor' and before.max_points > 0
            group by all
        ),
        through_lineage as (
            select now_.unit_code, now_.pillar_code, p.compared_with,
                cast(round(p.share * now_.max_points, 2) as decimal(9, 2)) as previous_score,
                now_.score
            from marts.fct_pillar_scores as now_
            inner join predecessors as p
                on now_.period = p.period
                and now_.unit_code = p.unit_code
                and now_.pillar_code = p.pillar_code
        ),
        compared as (
            select * from same_unit
            union all
            select * from through_lineage
        )
        select unit_code, pillar_code, compared_with, previous_score, score,
            score - previous_score as moved
        from compared
        where abs(score - previous_score) > __PILLAR_MOVE_POINTS__
        order by abs(score - previous_score) desc, unit_code, pillar_code
        """,
    ),
    _rows(
        "required_evidence_missing",
        WARNING,
        "Answered indicators whose registry row requires evidence (indicators.csv "
        "evidence_required) but whose counted answer cites no evidence_ref: the points count, "
        "the council should ask the unit for the document (docs/spec/submissions.md §1).",
        """
        with batch_rows as (select * from {batch})
        select unit_code, indicator_code, scored_stage, scored_value
        from marts.fct_indicator_points
        where period in (select distinct period from batch_rows)
            and coalesce(evidence_required, false)
            and is_answered
            and nullif(trim(scored_evidence_ref), '') is null
        """,
    ),
    _rows(
        "complaints_open",
        WARNING,
        "Complaints (kiến nghị) of the period the council has not decided yet: a final result "
        "released now would not answer them (docs/spec/complaints.md §6). A late complaint "
        "counts too: it is kept, and the council decides whether to take it up.",
        """
        with batch_rows as (select * from {batch})
        select complaint_id, unit_code, indicator_code, filed_at, is_late
        from marts.fct_complaints
        where period in (select distinct period from batch_rows)
            and status = 'open'
        """,
    ),
    _rows(
        "every_unit_submitted",
        WARNING,
        "Active units that submitted nothing (listed as not_submitted, without level or rank).",
        """
        select unit_code, unit_name, block
        from {batch}
        where status = 'not_submitted'
        """,
    ),
]

_SUITES: dict[str, list[Expectation]] = {
    "framework": _FRAMEWORK,
    "submissions": _SUBMISSIONS,
    "counted_answers": _COUNTED_ANSWERS,
    "scores": _SCORES,
}


def _with_thresholds(expectation: Expectation, thresholds: dict[str, str]) -> Expectation:
    copy = expectation.copy(deep=True)
    query = getattr(copy, "unexpected_rows_query", None)
    if query and "__" in query:
        for token, value in thresholds.items():
            query = query.replace(token, value)
        copy.unexpected_rows_query = query
    return copy


def build_suite(checkpoint: str, settings: Settings | None = None) -> gx.ExpectationSuite:
    """A fresh ``ExpectationSuite`` of ``checkpoint`` (new objects each call: GX binds them),
    its anomaly thresholds taken from ``settings`` (the defaults when ``None``)."""
    if checkpoint not in _SUITES:
        raise ValueError(
            f"unknown checkpoint {checkpoint!r}; expected one of {', '.join(CHECKPOINTS)}"
        )
    thresholds = anomaly_thresholds(settings)
    return gx.ExpectationSuite(
        name=CHECKPOINT_DEFINITIONS[checkpoint].suite_name,
        expectations=[_with_thresholds(e, thresholds) for e in _SUITES[checkpoint]],
        meta={
            "checkpoint": checkpoint,
            "batch_query": CHECKPOINT_DEFINITIONS[checkpoint].batch_query,
            "notes": "Generated by expectations/suites.py; edit the code, not this file.",
        },
    )


def suite_document(checkpoint: str) -> dict:
    """The suite as the JSON GX stores, without the volatile ids (for the repository copy)."""
    document = build_suite(checkpoint).to_json_dict()
    document.pop("id", None)
    for expectation in document["expectations"]:
        expectation.pop("id", None)
    return document


def write_repository_suites(root: Path = REPO_GX_ROOT) -> list[Path]:
    """Writes the file-backed context's suites (``expectations/gx/expectations/*.json``)."""
    folder = root / "gx" / "expectations"
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for checkpoint in CHECKPOINTS:
        path = folder / f"{CHECKPOINT_DEFINITIONS[checkpoint].suite_name}.json"
        text = json.dumps(suite_document(checkpoint), ensure_ascii=False, indent=2, sort_keys=True)
        path.write_text(text + "\n", encoding="utf-8")
        written.append(path)
    log.info("wrote %d suites into %s", len(written), folder)
    return written


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    write_repository_suites()
