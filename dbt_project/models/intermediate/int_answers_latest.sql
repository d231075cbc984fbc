{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['period', 'unit_code']
    )
}}

-- grain: one row per period, unit, indicator and stage: the answer that counts
with changed as (
    {{ changed_unit_periods() }}
),

submission_rows as (
    select * from {{ ref('stg_portal__submission_rows') }}
    where {{ is_changed_or_full_build('stg_portal__submission_rows') }}
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

ranked as (
    select
        *,
        -- the latest save wins; equal timestamps fall back to the higher submission id
        row_number() over (
            partition by period, unit_code, indicator_code, stage
            order by submitted_at desc, submission_id desc
        ) as recency,
        count(*) over (
            partition by period, unit_code, indicator_code, stage
        ) as versions
    from counted
)

select
    period,
    unit_code,
    indicator_code,
    stage,
    value,
    is_answered,
    value_number,
    value_boolean,
    evidence_ref,
    submitted_at,
    submission_id,
    is_late,
    versions,
    {{ built_through() }} as built_through
from ranked
where recency = 1
