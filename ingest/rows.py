"""Row validation and loading, in DuckDB SQL (no Python loop per row).

Every source stages its rows as NFC text in the temp table ``incoming`` (CSV files are checked
for NFC in Python and normalised in SQL only when needed: normalising every row costs more
than the rest of the checks together); ``check_incoming`` joins
them to the registry and gives each row either no reason (it loads) or one reason code and a
human reason (it is quarantined). ``load_checked`` appends both kinds inside the caller's
transaction. The accepted value grammar (dbt's staging reads the same):

* numbers: optional sign, digits, optional decimal part after ``.`` or ``,``; surrounding
  blanks ignored; ``NaN``/``Infinity`` refused, exponents refused;
* booleans: ``1/0``, ``true/false``, ``có/không``, ``yes/no`` in any case;
* empty or missing value: not answered, loaded as sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb
import pandas as pd

from ingest.schema import SUBMISSION_FIELDS

STAGE_COLUMNS = ("batch_sha256", "source", "source_row", *SUBMISSION_FIELDS)

ROW_REASONS = {
    "bad_period": "period is not a year",
    "unknown_unit": "unit not in the unit registry",
    "unit_inactive": "unit not active in the period",
    "no_framework": "no framework covers the period for the unit's block",
    "unknown_indicator": "indicator not in the governing framework version",
    "bad_stage": "stage is not self or appraisal",
    "bad_submitted_at": "submitted_at is not an ISO-8601 timestamp",
    "not_finite": "NaN or infinite number",
    "unreadable_value": "value cannot be read by the indicator's method",
    "value_out_of_range": "ratio outside 0-100, points outside 0-max_points, or too large",
}


def create_incoming(con: duckdb.DuckDBPyConnection) -> None:
    """Temp tables of the ingest connection: staged rows, batch names, CSV row offsets."""
    cols = ", ".join(f"{c} bigint" if c == "source_row" else f"{c} varchar" for c in STAGE_COLUMNS)
    con.execute(f"create or replace temp table incoming ({cols})")
    con.execute(
        "create or replace temp table batch_names (batch_sha256 varchar, source_file varchar)"
    )
    # CSV rows are staged with the scan's running number; a file's first row is subtracted.
    con.execute("create or replace temp table row_offsets (batch_sha256 varchar, first_row bigint)")


def stage_frame(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame) -> None:
    """Stages rows built in Python (XLSX, JSON, API, database) into ``incoming``.

    Text must already be NFC (``ingest.values.as_text`` does it).
    """
    if frame.empty:
        return
    frame = frame.reindex(columns=list(STAGE_COLUMNS))
    con.register("staged_frame", frame)
    try:
        select = ", ".join(
            f"cast({c} as bigint)" if c == "source_row" else f"cast({c} as varchar)"
            for c in STAGE_COLUMNS
        )
        con.execute(f"insert into incoming select {select} from staged_frame")
    finally:
        con.unregister("staged_frame")


_CHECK = r"""
create or replace temp table checked as
with periods as (
    -- a handful of distinct texts: parsing them once is cheaper than once per row
    select
        period,
        case when regexp_full_match(trim(period), '[0-9]{4}')
            then cast(trim(period) as integer) end as n_period
    from (select distinct period from incoming)
),

norm as (
    select
        i.batch_sha256,
        i.source,
        i.source_row as staged_row,
        i.source_row - coalesce(o.first_row, 1) + 1 as source_row,
        i.submission_id,
        trim(i.unit_code) as n_unit,
        trim(i.indicator_code) as n_indicator,
        i.value,
        i.evidence_ref,
        lower(trim(i.stage)) as n_stage,
        p.n_period,
        i.submitted_at,
        lower(trim(i.value)) as v_low
    from incoming as i
    left join row_offsets as o on o.batch_sha256 = i.batch_sha256
    left join periods as p on p.period is not distinct from i.period
),

typed as (
    select
        n.*,
        -- the session time zone is Asia/Ho_Chi_Minh: a timestamp without offset is +07:00
        try_cast(n.submitted_at as timestamptz) as n_submitted_at,
        case when regexp_full_match(v_low, '[+-]?[0-9]+([.,][0-9]+)?')
            then replace(v_low, ',', '.') end as num_text
    from norm as n
),

joined as (
    select
        t.*,
        u.block,
        u.active_from,
        u.active_to,
        u.unit_code is not null as unit_known,
        f.framework_version,
        ind.method,
        ind.max_points,
        try_cast(t.num_text as decimal(18, 4)) as num
    from typed as t
    left join reg_units as u on u.unit_code = t.n_unit
    left join reg_frameworks as f
        on f.block = u.block
        and t.n_period between f.valid_from and coalesce(f.valid_to, 9999)
    left join reg_indicators as ind
        on ind.framework_version = f.framework_version
        and ind.block = u.block
        and ind.indicator_code = t.n_indicator
),

judged as (
    select
        j.*,
        case
            when n_period is null then 'bad_period'
            when not unit_known then 'unknown_unit'
            when n_period < active_from or n_period > coalesce(active_to, 9999)
                then 'unit_inactive'
            when framework_version is null then 'no_framework'
            when method is null then 'unknown_indicator'
            when n_stage is null or n_stage not in ('self', 'appraisal') then 'bad_stage'
            when n_submitted_at is null then 'bad_submitted_at'
            when v_low is null or v_low = '' then null
            when v_low in ('nan', '+nan', '-nan', 'inf', '+inf', '-inf', 'infinity',
                           '+infinity', '-infinity') then 'not_finite'
            when method = 'boolean' then
                case when v_low in ('1', '0', 'true', 'false', 'có', 'không', 'yes', 'no')
                    then null else 'unreadable_value' end
            when num_text is null then 'unreadable_value'
            when num is null then 'value_out_of_range'
            when method = 'ratio' and (num < 0 or num > 100) then 'value_out_of_range'
            when method = 'points' and (num < 0 or num > max_points) then 'value_out_of_range'
            when method not in ('ratio', 'points', 'tiers') then 'unreadable_value'
        end as reason_code
    from joined as j
)

select
    batch_sha256,
    source,
    staged_row,
    cast(source_row as integer) as source_row,
    submission_id,
    n_period,
    n_unit,
    n_indicator,
    value,
    evidence_ref,
    n_stage,
    n_submitted_at,
    reason_code,
    case reason_code
        when 'bad_period' then 'period is not a year such as 2023'
        when 'unknown_unit' then 'unit "' || coalesce(n_unit, '')
            || '" is not in the unit registry (units.csv); correct unit_code or register the unit'
        when 'unit_inactive' then 'unit ' || n_unit || ' is not active in period '
            || n_period || ' (active ' || active_from || '-'
            || coalesce(cast(active_to as varchar), '') || ' in units.csv)'
        when 'no_framework' then 'no framework version covers period ' || n_period
            || ' for block ' || block || ' (frameworks.csv)'
        when 'unknown_indicator' then 'indicator "' || coalesce(n_indicator, '')
            || '" is not in framework ' || framework_version || ' for block ' || block
        when 'bad_stage' then 'stage must be self or appraisal'
        when 'bad_submitted_at' then 'submitted_at "' || coalesce(submitted_at, '')
            || '" is not an ISO-8601 timestamp such as 2023-05-01T10:00:00+07:00'
        when 'not_finite' then 'value "' || value || '" is not a finite number ('
            || n_indicator || ' is scored by ' || method || ')'
        when 'unreadable_value' then 'value "' || value || '" cannot be read as '
            || case method
                when 'boolean' then 'a boolean (1/0, true/false, có/không, yes/no)'
                else 'a number (digits with a decimal comma or point)'
            end || ' for ' || method || ' indicator ' || n_indicator
        when 'value_out_of_range' then 'value "' || value || '" is out of range for '
            || method || ' indicator ' || n_indicator || ' ('
            || case method
                when 'ratio' then '0 to 100'
                when 'points' then '0 to ' || cast(cast(max_points as double) as varchar)
                else 'at most 14 integer digits'
            end || ')'
    end as reason
from judged
"""


@dataclass
class BatchCounts:
    rows_total: int = 0
    rows_loaded: int = 0
    rows_refused: int = 0
    periods: list[int] = field(default_factory=list)
    first_reasons: list[str] = field(default_factory=list)


def check_incoming(con: duckdb.DuckDBPyConnection) -> dict[str, BatchCounts]:
    """Judges every staged row; returns counts per batch sha256. Run outside the transaction."""
    con.execute(_CHECK)
    counts: dict[str, BatchCounts] = {}
    for sha, total, loaded, refused, periods, reasons in con.execute(
        """select batch_sha256, count(*),
                  count(*) filter (where reason_code is null),
                  count(*) filter (where reason_code is not null),
                  list(distinct n_period order by n_period) filter (where reason_code is null),
                  list(distinct reason_code order by reason_code)
                    filter (where reason_code is not null)
           from checked group by batch_sha256"""
    ).fetchall():
        counts[sha] = BatchCounts(total, loaded, refused, list(periods or []), list(reasons or []))
    return counts


def load_checked(con: duckdb.DuckDBPyConnection) -> None:
    """Appends judged rows to ``raw.submission_rows`` / ``raw.quarantine_rows``.

    Runs inside the caller's transaction. Quarantined rows keep the fields as staged (the
    original bytes are in the archive).
    """
    con.execute(
        """insert into raw.submission_rows
           select n_period, n_unit, n_indicator, value, evidence_ref, n_stage, n_submitted_at,
                  coalesce(nullif(trim(submission_id), ''), batch_sha256 || ':' || source_row),
                  source, batch_sha256, source_row, now()
           from checked
           where reason_code is null"""
    )
    con.execute(
        """insert into raw.quarantine_rows
           select c.batch_sha256, c.source, n.source_file, c.source_row, c.reason_code,
                  c.reason, i.period, i.unit_code, i.indicator_code, i.value, i.evidence_ref,
                  i.stage, i.submitted_at, i.submission_id, now()
           from checked as c
           join incoming as i
             on i.batch_sha256 = c.batch_sha256 and i.source_row = c.staged_row
           left join batch_names as n on n.batch_sha256 = c.batch_sha256
           where c.reason_code is not null
           order by c.batch_sha256, c.source_row"""
    )


def reset(con: duckdb.DuckDBPyConnection) -> None:
    for table in ("incoming", "batch_names", "row_offsets"):
        con.execute(f"delete from {table}")
    con.execute("drop table if exists checked")
