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

indicator_tiers as (
    -- each tiers indicator's ladder, lowest bound first; a handful of rows per indicator
    select
        framework_version,
        block,
        indicator_code,
        list({ 'lower_bound': lower_bound, 'tier_points': tier_points } order by lower_bound)
            as ladder
    from tiers
    group by all
),

answered as (
    -- every answer is read once: an incremental build's filter on (period, unit) reaches
    -- the scan of int_answers_latest through the joins
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
        answers.evidence_ref,
        answers.note,
        answers.appraiser,
        answers.reason,
        answers.is_late,
        -- the points of the highest tier whose lower bound the value reaches
        -- (`tier` is the lambda's parameter, which the linter takes for a table)
        list_last(
            list_filter(indicator_tiers.ladder, lambda tier: tier.lower_bound <= answers.value_number)  -- noqa: RF01
        ).tier_points as reached_tier_points
    from applicable
    inner join answers
        on applicable.period = answers.period
        and applicable.unit_code = answers.unit_code
        and applicable.indicator_code = answers.indicator_code
    left join indicator_tiers
        on applicable.framework_version = indicator_tiers.framework_version
        and applicable.block = indicator_tiers.block
        and applicable.indicator_code = indicator_tiers.indicator_code
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
            when answered.method = 'tiers' then coalesce(answered.reached_tier_points, 0)
            when answered.method = 'points' then {{ round_points('answered.value_number') }}
        end as points
    from answered
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
    evidence_ref,
    note,
    appraiser,
    reason,
    is_late,
    cast(points as decimal(9, 2)) as points
from scored
