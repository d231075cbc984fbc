-- a view: the intermediate table already holds this grain; copying millions of rows buys nothing
{{ config(materialized='view') }}

-- grain: one row per period, unit and indicator that applies to the unit
with indicator_points as (
    select * from {{ ref('int_indicator_points') }}
),

unit_periods as (
    select * from {{ ref('int_unit_periods') }}
),

indicators as (
    select * from {{ ref('stg_registry__indicators') }}
)

select
    indicator_points.period,
    indicator_points.unit_code,
    unit_periods.block,
    unit_periods.framework_version,
    indicator_points.pillar_code,
    indicator_points.indicator_code,
    indicators.indicator_name,
    indicators.method,
    indicator_points.max_points,
    indicator_points.self_value,
    indicator_points.appraisal_value,
    case indicator_points.scored_stage
        when 'appraisal' then indicator_points.appraisal_value
        when 'self' then indicator_points.self_value
    end as scored_value,
    indicator_points.scored_stage,
    indicator_points.is_answered,
    indicator_points.is_late,
    indicator_points.self_points,
    indicator_points.final_points,
    indicator_points.self_submission_id,
    indicator_points.appraisal_submission_id,
    indicator_points.self_evidence_ref,
    indicator_points.appraisal_evidence_ref,
    indicator_points.self_note,
    indicator_points.appraiser,
    indicator_points.appraisal_reason,
    -- the evidence the counted answer cites
    case indicator_points.scored_stage
        when 'appraisal' then indicator_points.appraisal_evidence_ref
        when 'self' then indicator_points.self_evidence_ref
    end as scored_evidence_ref,
    indicators.evidence_required
from indicator_points
inner join unit_periods
    on indicator_points.period = unit_periods.period
    and indicator_points.unit_code = unit_periods.unit_code
inner join indicators
    on unit_periods.framework_version = indicators.framework_version
    and unit_periods.block = indicators.block
    and indicator_points.indicator_code = indicators.indicator_code
