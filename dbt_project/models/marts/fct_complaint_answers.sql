-- grain: one row per answer an accepted complaint brought (an appraisal answer citing it)
with submission_rows as (
    select * from {{ ref('stg_portal__submission_rows') }}
),

indicator_points as (
    select * from {{ ref('fct_indicator_points') }}
),

corrected as (
    select
        complaint_id,
        period,
        unit_code,
        indicator_code,
        value,
        submitted_at,
        submission_id
    from submission_rows
    where complaint_id is not null
),

appraisals_before as (
    -- the council's latest value before the correction, if it had set one
    select
        corrected.submission_id,
        arg_max(
            submission_rows.value, (submission_rows.submitted_at, submission_rows.submission_id)
        ) as appraisal_value_before
    from corrected
    inner join submission_rows
        on corrected.period = submission_rows.period
        and corrected.unit_code = submission_rows.unit_code
        and corrected.indicator_code = submission_rows.indicator_code
        and submission_rows.stage = 'appraisal'
        and (submission_rows.submitted_at, submission_rows.submission_id)
        < (corrected.submitted_at, corrected.submission_id)
    group by corrected.submission_id
)

select
    corrected.complaint_id,
    corrected.period,
    corrected.unit_code,
    corrected.indicator_code,
    corrected.submission_id,
    coalesce(
        appraisals_before.appraisal_value_before, indicator_points.self_value
    ) as value_before,
    corrected.value as corrected_value,
    indicator_points.self_points,
    indicator_points.final_points,
    -- whether the corrected answer is the one that counts now (a later appraisal may override)
    coalesce(
        indicator_points.scored_stage = 'appraisal'
        and indicator_points.appraisal_submission_id = corrected.submission_id,
        false
    ) as is_counted
from corrected
left join appraisals_before
    on corrected.submission_id = appraisals_before.submission_id
left join indicator_points
    on corrected.period = indicator_points.period
    and corrected.unit_code = indicator_points.unit_code
    and corrected.indicator_code = indicator_points.indicator_code
