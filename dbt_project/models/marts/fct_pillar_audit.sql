-- grain: one row per period, block and pillar
-- Cronbach's alpha of a pillar (docs/spec/results.md §8.6): whether its indicators move
-- together, over the block's scored units to which every indicator of the pillar applies.
-- alpha = k / (k − 1) × (1 − Σ var(indicator) / var(pillar)), the variances as exact integer
-- sums of squares of hundredths (n² cancels); NULL with fewer than 2 indicators, fewer than 2
-- units or a pillar score that does not vary.
with

unit_scores as (
    select
        period,
        unit_code
    from {{ ref('fct_unit_scores') }}
    where status = 'scored'
),

indicator_points as (
    select
        points.period,
        points.block,
        points.framework_version,
        points.pillar_code,
        points.indicator_code,
        points.unit_code,
        cast(points.final_points * 100 as hugeint) as x
    from {{ ref('fct_indicator_points') }} as points
    inner join unit_scores
        on points.period = unit_scores.period
        and points.unit_code = unit_scores.unit_code
),

pillar_size as (
    select
        period,
        block,
        any_value(framework_version) as framework_version,
        pillar_code,
        count(distinct indicator_code) as indicators
    from indicator_points
    group by period, block, pillar_code
),

complete_units as (
    select
        indicator_points.period,
        indicator_points.block,
        indicator_points.pillar_code,
        indicator_points.unit_code
    from indicator_points
    inner join pillar_size
        on indicator_points.period = pillar_size.period
        and indicator_points.block = pillar_size.block
        and indicator_points.pillar_code = pillar_size.pillar_code
    group by
        indicator_points.period, indicator_points.block, indicator_points.pillar_code,
        indicator_points.unit_code, pillar_size.indicators
    having count(*) = pillar_size.indicators
),

counted as (
    select indicator_points.*
    from indicator_points
    inner join complete_units
        on indicator_points.period = complete_units.period
        and indicator_points.block = complete_units.block
        and indicator_points.pillar_code = complete_units.pillar_code
        and indicator_points.unit_code = complete_units.unit_code
),

indicator_spread as (
    select
        period,
        block,
        pillar_code,
        indicator_code,
        count(*) * sum(x * x) - sum(x) * sum(x) as sxx
    from counted
    group by period, block, pillar_code, indicator_code
),

indicator_spread_sum as (
    select
        period,
        block,
        pillar_code,
        sum(sxx) as sxx_sum
    from indicator_spread
    group by period, block, pillar_code
),

pillar_totals as (
    select
        period,
        block,
        pillar_code,
        unit_code,
        sum(x) as y
    from counted
    group by period, block, pillar_code, unit_code
),

pillar_spread as (
    select
        period,
        block,
        pillar_code,
        count(*) as units,
        count(*) * sum(y * y) - sum(y) * sum(y) as syy
    from pillar_totals
    group by period, block, pillar_code
),

final as (
    select
        pillar_size.period,
        pillar_size.block,
        pillar_size.framework_version,
        pillar_size.pillar_code,
        cast(pillar_size.indicators as integer) as indicators,
        cast(coalesce(pillar_spread.units, 0) as integer) as units,
        case
            when pillar_size.indicators >= 2 and pillar_spread.units >= 2 and pillar_spread.syy > 0
                then round(
                        pillar_size.indicators / (pillar_size.indicators - 1)
                        * (1 - cast(spread.sxx_sum as double) / cast(pillar_spread.syy as double)),
                        4
                    )
        end as cronbach_alpha
    from pillar_size
    left join pillar_spread
        on pillar_size.period = pillar_spread.period
        and pillar_size.block = pillar_spread.block
        and pillar_size.pillar_code = pillar_spread.pillar_code
    left join indicator_spread_sum as spread
        on pillar_size.period = spread.period
        and pillar_size.block = spread.block
        and pillar_size.pillar_code = spread.pillar_code
)

select
    period,
    block,
    framework_version,
    pillar_code,
    indicators,
    units,
    cronbach_alpha
from final
