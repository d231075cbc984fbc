-- grain: one row per period, unit, indicator and stage: the answer that counts
{%- set new_answers = new_answers_since_last_build() %}
with changed as (
    {{ changed_unit_periods(new_answers) }}
),

submission_rows as (
    select * from {{ ref('stg_portal__submission_rows') }}
    where {{ is_changed_or_full_build('stg_portal__submission_rows', new_answers) }}
),

periods as (
    select * from {{ ref('stg_registry__periods') }}
),

flagged as (
    select
        submission_rows.*,
        coalesce(
            submission_rows.stage = 'self' and submission_rows.submitted_at > periods.deadline,
            false
        ) as is_late,
        coalesce(periods.late_self_answers_count, true) as late_self_answers_count
    from submission_rows
    left join periods using (period)
),

counted as (
    select * from flagged
    where not is_late or late_self_answers_count
),

latest as (
    -- the latest save wins; equal timestamps fall back to the higher submission id, and the
    -- versions of one portal id to the later updated_at (a revision; rows loaded before
    -- versions were recorded: the later load) — docs/spec/results.md §2
    -- (an aggregate, not a window: no sort of every answer ever loaded)
    select
        period,
        unit_code,
        indicator_code,
        stage,
        arg_max(
            {
                'value': value,
                'is_answered': is_answered,
                'value_number': value_number,
                'value_boolean': value_boolean,
                'evidence_ref': evidence_ref,
                'note': note,
                'appraiser': appraiser,
                'reason': reason,
                'submitted_at': submitted_at,
                'submission_id': submission_id,
                'is_late': is_late
            },
            (submitted_at, submission_id, coalesce(source_updated_at, loaded_at))
        ) as answer,
        count(*) as versions
    from counted
    group by period, unit_code, indicator_code, stage
)

select
    period,
    unit_code,
    indicator_code,
    stage,
    -- the struct's fields as columns: value, is_answered, ..., is_late
    unnest(answer),  -- noqa: AL03
    versions,
    {{ built_through(new_answers) }} as built_through
from latest
