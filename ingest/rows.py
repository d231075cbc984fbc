"""Row validation and loading, in DuckDB SQL (no Python loop per row), in one pass.

Rows are collected as NFC text: CSV files into the temp table ``csv_rows`` (by
``ingest.csv_files``, one parallel ``read_csv`` per header layout, numbered per file from the
table's row ids), the other sources into ``incoming`` with the columns of ``INCOMING_COLUMNS``.
Inside the load transaction, ``load_collected`` judges every collected row against the registry
once — no reason (the row loads) or one reason code and a human reason (it is quarantined) —
and appends the accepted rows to ``raw.submission_rows`` straight from that judgement; only the
batches that came up short (some rows refused) are judged again, for ``raw.quarantine_rows``.
Nothing is copied through a temporary table of judged rows, and a batch is still all or
nothing. (CSV text is checked for NFC in Python and normalised in SQL only when needed:
normalising every row costs more than all the other checks together.) The accepted value
grammar (dbt's staging reads the same):

* numbers: optional sign, digits, optional decimal part after ``.`` or ``,``; surrounding
  blanks ignored; ``NaN``/``Infinity`` refused, exponents refused; the range of a ratio or of
  points is checked on the number as sent (``100.00001`` is over 100), not on its rounding;
* ``submitted_at``: the ISO-8601 grammar of ``TIMESTAMP_GRAMMAR`` only (DuckDB alone would also
  take ``infinity``, ``epoch`` or year 294247), within the period's plausible range
  (``period_texts``: from 1 January of the period to one year after its deadline);
* booleans and not-finite numbers: the words of ``value_words.csv`` (a registry seed), in
  any case;
* empty or missing value: not answered, loaded as sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import duckdb

from ingest.schema import SUBMISSION_FIELDS

# source_updated_at: the portal's ``updated_at`` of the answer version (files: none);
# complaint_id: the complaint whose accepted decision brought the answer (ingest.complaints)
INCOMING_COLUMNS = (
    "batch_sha256", "source", "source_row", *SUBMISSION_FIELDS, "source_updated_at",
    "complaint_id",
)  # fmt: skip

# Every reason code a quarantined row can carry (docs/spec/submissions.md §7.2); the tests'
# corpus covers each.
ROW_REASONS = {
    "bad_period": "period is not a year",
    "unknown_unit": "unit not in the unit registry",
    "unit_inactive": "unit not active in the period",
    "no_framework": "no framework covers the period for the unit's block",
    "unknown_indicator": "indicator not in the governing framework version",
    "bad_stage": "stage is not self or appraisal",
    "bad_submitted_at": "submitted_at is not an ISO-8601 timestamp",
    "submitted_at_out_of_range": "submitted_at outside the period's plausible range",
    "not_finite": "NaN or infinite number",
    "unreadable_value": "value cannot be read by the indicator's method",
    "value_out_of_range": "ratio outside 0-100, points outside 0-max_points, or too large",
    "thousands_separator": "a count written with a thousands separator (1.000, 1,000)",
}


# What ``submitted_at`` may look like (docs/spec/submissions.md §4): a date, or a date and a
# time (minutes at least, seconds and up to 9 decimals optional) with an optional offset.
TIMESTAMP_GRAMMAR = (
    r"[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    r"([T ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,9})?)?"
    r"(Z|[+-]([01][0-9]|2[0-3])(:?[0-5][0-9])?)?)?"
)
# The plausible range of a period's answers: from 1 January of the period (local time) to one
# year after its deadline in periods.csv (appraisals and corrections come after the deadline);
# a period without a deadline there is taken as due on 31 January of the next year.
PLAUSIBLE_AFTER_DEADLINE = "1 year"


def create_incoming(con: duckdb.DuckDBPyConnection) -> None:
    """Temp tables of the ingest connection: collected rows, batch names, period texts.

    (The registry's tables, value words included, come from ``ingest.registry``.)
    """
    cols = ", ".join(
        f"{c} bigint" if c == "source_row" else f"{c} varchar" for c in INCOMING_COLUMNS
    )
    con.execute(f"create or replace temp table incoming ({cols})")
    _create_csv_rows(con)
    con.execute(
        """create or replace temp table csv_batches (file_no integer, batch_sha256 varchar,
               source varchar, first_rowid bigint, rows_collected bigint)"""
    )
    con.execute(
        "create or replace temp table batch_names (batch_sha256 varchar, source_file varchar)"
    )
    con.execute("create or replace temp table short_batches (batch_sha256 varchar)")
    # Period texts a row may carry, so that reading the period is a join, not a regex per row.
    # (the registry's periods, or none when judging without a registry loaded)
    con.execute(
        "create temp table if not exists reg_periods (period integer, deadline timestamptz)"
    )
    con.execute(
        f"""create or replace temp table period_texts as
           select cast(y as varchar) as period_text, cast(y as integer) as period,
                  cast(y || '-01-01 00:00:00+07:00' as timestamptz) as earliest,
                  coalesce(p.deadline, cast((y + 1) || '-01-31 23:59:59+07:00' as timestamptz))
                      + interval '{PLAUSIBLE_AFTER_DEADLINE}' as latest
           from range(1000, 10000) as t(y)
           left join reg_periods as p on p.period = t.y"""
    )


def _create_csv_rows(con: duckdb.DuckDBPyConnection) -> None:
    # (Re)created rather than emptied: a file's row numbers come from the row ids.
    fields = ", ".join(f"{f} varchar" for f in SUBMISSION_FIELDS if f != "submission_id")
    con.execute(f"create or replace temp table csv_rows (file_no integer, {fields})")


def collect_records(con: duckdb.DuckDBPyConnection, records: list[dict[str, object]]) -> None:
    """Collects rows built in Python (XLSX, JSON, API, database) into ``incoming``.

    Text must already be NFC (``ingest.values.as_text`` does it).
    """
    if not records:
        return
    import pandas as pd  # only these sources need it; a CSV-only run skips the import

    frame = pd.DataFrame.from_records(records).reindex(columns=list(INCOMING_COLUMNS))
    con.register("collected_frame", frame)
    try:
        select = ", ".join(
            f"cast({c} as bigint)" if c == "source_row" else f"cast({c} as varchar)"
            for c in INCOMING_COLUMNS
        )
        con.execute(f"insert into incoming select {select} from collected_frame")
    finally:
        con.unregister("collected_frame")


def _check_sql(source: str) -> str:
    """The judgement of every row of ``source`` (a table name or a parenthesised query)."""
    return _CHECK.replace("{source}", source).replace("{grammar}", TIMESTAMP_GRAMMAR)


_CHECK = r"""
with norm as (
    select
        i.batch_sha256,
        i.source,
        cast(i.source_row as bigint) as source_row,
        i.submission_id,
        i.source_updated_at,
        i.period,
        i.unit_code,
        i.indicator_code,
        i.stage,
        i.submitted_at,
        trim(i.unit_code) as n_unit,
        trim(i.indicator_code) as n_indicator,
        i.value,
        i.evidence_ref,
        i.note,
        i.appraiser,
        -- `reason` is the judgement's own column below
        i.reason as appraisal_reason,
        i.complaint_id,
        lower(trim(i.stage)) as n_stage,
        p.period as n_period,
        p.earliest,
        p.latest,
        lower(trim(i.value)) as v_low
    from {source} as i
    left join period_texts as p on p.period_text = trim(i.period)
),

typed as (
    select
        n.*,
        -- the session time zone is Asia/Ho_Chi_Minh: a timestamp without offset is +07:00
        case when regexp_full_match(trim(n.submitted_at), '{grammar}')
            then try_cast(trim(n.submitted_at) as timestamptz) end as n_submitted_at,
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
        ind.allows_decimals,
        w.kind as value_word,
        try_cast(t.num_text as decimal(18, 4)) as num,
        -- the number as sent, cut (not rounded) after 18 decimals, and whether a digit other
        -- than 0 was cut: ranges are checked on this, so 100.00001 is over 100 (only numbers
        -- with more than 4 decimals, which num rounds, need the regular expressions)
        case when length(t.num_text) - strpos(t.num_text, '.') > 4 and strpos(t.num_text, '.') > 0
            then try_cast(regexp_extract(t.num_text, '^[+-]?[0-9]+(\.[0-9]{1,18})?')
                          as decimal(38, 18))
            else try_cast(t.num_text as decimal(38, 18))
        end as num_cut,
        case when length(t.num_text) - strpos(t.num_text, '.') > 18 and strpos(t.num_text, '.') > 0
            then regexp_matches(t.num_text, '\.[0-9]{18}[0-9]*[1-9]')
            else false
        end as num_cut_more
    from typed as t
    -- one lookup for the words a value may be (a list or IN in the judgement below would
    -- become a join per branch that uses it)
    left join reg_value_words as w on w.word = t.v_low
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
            when n_submitted_at < earliest or n_submitted_at > latest
                then 'submitted_at_out_of_range'
            when v_low is null or v_low = '' then null
            when method = 'boolean' and value_word = 'boolean' then null
            -- a count (tiers) is a whole number: "1.000" is how people write one thousand, and
            -- read as a decimal it would be 1; refused unless the registry allows decimals
            when method = 'tiers' and not coalesce(allows_decimals, false)
                and regexp_full_match(v_low, '[0-9]{1,3}([.,][0-9]{3})+')
                then 'thousands_separator'
            when method <> 'boolean' and num_text is not null then
                case
                    when num is null or num_cut is null then 'value_out_of_range'
                    when method in ('ratio', 'points') and (
                        num_cut < 0 or (num_cut = 0 and num_cut_more and num_text like '-%')
                    ) then 'value_out_of_range'
                    when method = 'ratio' and (num_cut > 100 or (num_cut = 100 and num_cut_more))
                        then 'value_out_of_range'
                    when method = 'points' and (
                        num_cut > max_points or (num_cut = max_points and num_cut_more)
                    ) then 'value_out_of_range'
                    when method not in ('ratio', 'points', 'tiers') then 'unreadable_value'
                end
            when value_word = 'not_finite' then 'not_finite'
            else 'unreadable_value'
        end as reason_code
    from joined as j
)

select
    batch_sha256,
    source,
    source_row,
    submission_id,
    source_updated_at,
    n_period,
    n_unit,
    n_indicator,
    value,
    evidence_ref,
    note,
    appraiser,
    appraisal_reason,
    complaint_id,
    n_stage,
    n_submitted_at,
    reason_code,
    -- the fields as sent, kept for quarantined rows only
    case when reason_code is not null then period end as sent_period,
    case when reason_code is not null then unit_code end as sent_unit_code,
    case when reason_code is not null then indicator_code end as sent_indicator_code,
    case when reason_code is not null then stage end as sent_stage,
    case when reason_code is not null then submitted_at end as sent_submitted_at,
    -- good rows (most of them) skip the reason texts entirely
    case when reason_code is not null then
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
            when 'submitted_at_out_of_range' then 'submitted_at "' || submitted_at
                || '" is outside the plausible range of period ' || n_period || ' ('
                || strftime(earliest, '%Y-%m-%d') || ' to ' || strftime(latest, '%Y-%m-%d')
                || ', one year after its deadline); correct the date'
            when 'not_finite' then 'value "' || value || '" is not a finite number ('
                || n_indicator || ' is scored by ' || method || ')'
            when 'unreadable_value' then 'value "' || value || '" cannot be read as '
                || case method
                    when 'boolean' then 'a boolean ('
                        || (select words from reg_boolean_words) || ')'
                    else 'a number (digits with a decimal comma or point)'
                end || ' for ' || method || ' indicator ' || n_indicator
            when 'thousands_separator' then 'giá trị "' || value || '" của chỉ số đếm '
                || n_indicator || ' có dấu phân cách hàng nghìn; hãy viết số nguyên liền, '
                || 'không dấu chấm hay dấu phẩy: ' || regexp_replace(v_low, '[.,]', '', 'g')
                || ' (value "' || value || '" of count indicator ' || n_indicator
                || ' has a thousands separator; write ' || regexp_replace(v_low, '[.,]', '', 'g')
                || ')'
            when 'value_out_of_range' then 'value "' || value || '" is out of range for '
                || method || ' indicator ' || n_indicator || ' ('
                || case method
                    when 'ratio' then '0 to 100'
                    when 'points' then '0 to ' || cast(cast(max_points as double) as varchar)
                    else 'at most 14 integer digits'
                end || ')'
        end
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


@contextmanager
def _judging(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    # DuckDB tends to build the indicator join's hash table on the stream of rows instead of
    # on the 100-row registry (it cannot estimate a CSV scan); keeping the written order
    # makes the judgement about a third cheaper.
    con.execute("set disabled_optimizers = 'build_side_probe_side'")
    try:
        yield
    finally:
        con.execute("reset disabled_optimizers")


def _collected_rows(only_short: bool = False) -> str:
    """Every collected row as ``INCOMING_COLUMNS`` (only the batches in ``short_batches`` if asked).

    A CSV row's number in its file is its row id less the file's first row id, plus one.
    """
    where = "where batch_sha256 in (select batch_sha256 from short_batches)" if only_short else ""
    return f"""(
        select * from (
            select b.batch_sha256, b.source, r.rowid - b.first_rowid + 1 as source_row,
                   r.period, r.unit_code, r.indicator_code, r.value, r.evidence_ref,
                   r.stage, r.submitted_at, null as submission_id, r.note, r.appraiser,
                   r.reason, null as source_updated_at, null as complaint_id
            from csv_rows as r
            join csv_batches as b on b.file_no = r.file_no
            union all
            select batch_sha256, source, source_row, period, unit_code, indicator_code, value,
                   evidence_ref, stage, submitted_at, submission_id, note, appraiser, reason,
                   source_updated_at, complaint_id
            from incoming
        ) {where}
    )"""


def _insert_accepted(con: duckdb.DuckDBPyConnection, source: str) -> None:
    """Appends the rows of ``source`` that the judgement accepts to ``raw.submission_rows``."""
    with _judging(con):
        con.execute(
            f"""insert into raw.submission_rows (period, unit_code, indicator_code, value,
                    evidence_ref, stage, submitted_at, submission_id, source, batch_sha256,
                    source_row, loaded_at, note, appraiser, reason, source_updated_at,
                    complaint_id)
                select n_period, n_unit, n_indicator, value, evidence_ref, n_stage,
                       n_submitted_at,
                       coalesce(nullif(trim(submission_id), ''),
                                batch_sha256 || ':' || cast(source_row as integer)),
                       source, batch_sha256, cast(source_row as integer), now(),
                       nullif(trim(note), ''), nullif(trim(appraiser), ''),
                       nullif(trim(appraisal_reason), ''),
                       try_cast(source_updated_at as timestamptz), nullif(trim(complaint_id), '')
                from ({_check_sql(source)}) as judged
                where reason_code is null"""
        )


def _insert_refused(con: duckdb.DuckDBPyConnection, source: str) -> None:
    """Appends the rows of ``source`` that the judgement refuses to ``raw.quarantine_rows``
    (fields as sent, NFC; the original bytes are in the archive; names from ``batch_names``)."""
    with _judging(con):
        con.execute(
            f"""insert into raw.quarantine_rows
                select j.batch_sha256, j.source, coalesce(n.source_file, ''),
                       cast(j.source_row as integer), j.reason_code, j.reason, j.sent_period,
                       j.sent_unit_code, j.sent_indicator_code, j.value, j.evidence_ref,
                       j.sent_stage, j.sent_submitted_at, j.submission_id, now()
                from ({_check_sql(source)}) as j
                left join batch_names as n on n.batch_sha256 = j.batch_sha256
                where j.reason_code is not null
                order by j.batch_sha256, j.source_row"""
        )


def collected_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """How many rows each batch has collected (CSV files and ``incoming``)."""
    return dict(
        con.execute(
            """select batch_sha256, rows_collected from csv_batches where rows_collected > 0
               union all
               select batch_sha256, count(*) from incoming group by batch_sha256"""
        ).fetchall()
    )


def load_collected(con: duckdb.DuckDBPyConnection) -> dict[str, BatchCounts]:
    """Judges every collected row and appends it to ``raw`` (inside the caller's transaction);
    returns what was written for each batch.

    The accepted rows go straight from one judgement to ``raw.submission_rows``; only the
    batches with fewer rows accepted than collected are judged again for ``raw.quarantine_rows``.
    """
    collected = collected_counts(con)
    if not collected:
        return {}
    _insert_accepted(con, _collected_rows())
    counts = written_counts(con, list(collected))
    short = [
        sha for sha, n in collected.items() if sha not in counts or counts[sha].rows_loaded < n
    ]
    if short:
        con.execute("insert into short_batches select unnest(?::varchar[])", [short])
        _insert_refused(con, _collected_rows(only_short=True))
        counts.update(written_counts(con, short))
    for sha, n in collected.items():
        if counts[sha].rows_total != n:  # every collected row is either loaded or quarantined
            raise RuntimeError(
                f"batch {sha[:12]}…: {n} rows collected but {counts[sha].rows_total} written; "
                "nothing was committed"
            )
    return counts


def written_counts(con: duckdb.DuckDBPyConnection, shas: list[str]) -> dict[str, BatchCounts]:
    """What this transaction appended for each batch in ``shas``: counts, periods, reasons.

    Rows written by this transaction carry its start time (``now()``) in ``loaded_at`` /
    ``quarantined_at``: a batch refused in an earlier run keeps its older quarantined rows.
    """
    counts: dict[str, BatchCounts] = {}
    if not shas:
        return counts
    for sha, loaded, refused, periods, reasons in con.execute(
        """with written as (
               select batch_sha256, period, null as reason_code
               from raw.submission_rows
               where loaded_at = now() and list_contains($1, batch_sha256)
               union all
               select batch_sha256, null, reason_code
               from raw.quarantine_rows
               where quarantined_at = now() and list_contains($1, batch_sha256)
           )
           select batch_sha256,
                  count(*) filter (where reason_code is null),
                  count(*) filter (where reason_code is not null),
                  list(distinct period order by period) filter (where reason_code is null),
                  list(distinct reason_code order by reason_code)
                    filter (where reason_code is not null)
           from written group by batch_sha256""",
        [shas],
    ).fetchall():
        counts[sha] = BatchCounts(
            loaded + refused, loaded, refused, list(periods or []), list(reasons or [])
        )
    return counts


def reset(con: duckdb.DuckDBPyConnection) -> None:
    for table in ("incoming", "csv_batches", "batch_names", "short_batches"):
        con.execute(f"delete from {table}")
    _create_csv_rows(con)
