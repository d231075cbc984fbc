-- a view: read once, by int_indicator_points, which is incremental and tested; a table here
-- would write every answer ever scored a second time
{{ config(materialized='view') }}

-- grain: one row per period, unit, applicable indicator and stage answered: its points
with answers as (
    select * from {{ ref('int_answers_latest') }}
),

applicable as (
    select * from {{ ref('int_applicable_indicators') }}
),

tiers as (
    select * from {{ ref('stg_registry__indicator_tiers') }}
),

answered as (
    select
        applicable.period,
        applicable.unit_code,
        applicable.framework_version,
        applicable.block,
        applicable.indicator_code,
        applicable.method,
        applicable.max_points,
        applicable.target,
        answers.stage,
        answers.value,
        answers.is_answered,
        answers.value_number,
        answers.value_boolean,
        answers.submission_id,
        answers.is_late
    from applicable
    inner join answers
        on applicable.period = answers.period
        and applicable.unit_code = answers.unit_code
        and applicable.indicator_code = answers.indicator_code
),

tier_points as (
    -- the points of the highest tier whose lower bound the value reaches
    select
        answered.period,
        answered.unit_code,
        answered.indicator_code,
        answered.stage,
        arg_max(tiers.tier_points, tiers.lower_bound) as tier_points
    from answered
    inner join tiers
        on answered.framework_version = tiers.framework_version
        and answered.block = tiers.block
        and answered.indicator_code = tiers.indicator_code
        and tiers.lower_bound <= answered.value_number
    where answered.method = 'tiers'
    group by all
),

scored as (
    select
        answered.*,
        case
            when not answered.is_answered then cast(0 as decimal(9, 2))
            when answered.method = 'boolean'
                then case when answered.value_boolean then answered.max_points else 0 end
            when answered.method = 'ratio' and answered.value_number >= answered.target
                then answered.max_points
            when answered.method = 'ratio'
                then {{ divide_half_up('answered.max_points * answered.value_number', 'answered.target') }}
            when answered.method = 'tiers' then coalesce(tier_points.tier_points, 0)
            when answered.method = 'points' then {{ round_points('answered.value_number') }}
        end as points
    from answered
    left join tier_points
        on answered.period = tier_points.period
        and answered.unit_code = tier_points.unit_code
        and answered.indicator_code = tier_points.indicator_code
        and answered.stage = tier_points.stage
)

select
    period,
    unit_code,
    indicator_code,
    stage,
    method,
    max_points,
    value,
    is_answered,
    submission_id,
    is_late,
    cast(points as decimal(9, 2)) as points
from scored
