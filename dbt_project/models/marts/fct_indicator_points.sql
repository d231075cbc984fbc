-- a view: the intermediate table already holds this grain; copying millions of rows buys nothing
{{ config(materialized='view') }}

-- grain: one row per period, unit and indicator that applies to the unit
with indicator_points as (
    select * from {{ ref('int_indicator_points') }}
)

select
    period,
    unit_code,
    block,
    framework_version,
    pillar_code,
    indicator_code,
    indicator_name,
    method,
    max_points,
    self_value,
    appraisal_value,
    scored_value,
    scored_stage,
    is_answered,
    is_late,
    self_points,
    final_points,
    self_submission_id,
    appraisal_submission_id
from indicator_points
