-- grain: one row per period, block and indicator
-- The statistical audit of an indicator (docs/spec/results.md §8.6): over the block's scored
-- units it applies to, how often it sits at zero and at its maximum, its mean and spread, its
-- correlation with its pillar and with the total, its effective weight, and how many ranks
-- move when it is left out. Sums of squares are exact integers of hundredths of a point; only
-- the final square root and division are floating, rounded to 4 decimals, so the figures are
-- the same on every build.
with

unit_scores as (
    select
        period,
        unit_code,
        block,
        rank_group,
        rank,
        total_score,
        applicable_max
    from {{ ref('fct_unit_scores') }}
    -- the ranked units: one assessed without a rank (not_ranked_reason) takes no place, here
    -- in the rankings left one indicator out as in the published one
    where status = 'scored' and rank is not null
),

indicator_points as (
    select
        points.period,
        points.block,
        points.framework_version,
        points.pillar_code,
        points.indicator_code,
        points.indicator_name,
        points.max_points,
        points.unit_code,
        points.final_points,
        unit_scores.total_score,
        sum(points.final_points) over (
            partition by points.period, points.unit_code, points.pillar_code
        ) as pillar_score
    from {{ ref('fct_indicator_points') }} as points
    inner join unit_scores
        on points.period = unit_scores.period
        and points.unit_code = unit_scores.unit_code
),

in_cents as (
    select
        *,
        cast(final_points * 100 as hugeint) as x,
        cast(pillar_score * 100 as hugeint) as y,
        cast(total_score * 100 as hugeint) as t
    from indicator_points
),

sums as (
    select
        period,
        block,
        framework_version,
        pillar_code,
        indicator_code,
        any_value(indicator_name) as indicator_name,
        any_value(max_points) as max_points,
        count(*) as units,
        count(*) filter (where final_points = 0) as units_at_zero,
        count(*) filter (where final_points = max_points) as units_at_max,
        sum(final_points) as points_sum,
        -- n·Σab − Σa·Σb: n² times the population (co)variance, exactly
        count(*) * sum(x * x) - sum(x) * sum(x) as sxx,
        count(*) * sum(y * y) - sum(y) * sum(y) as syy,
        count(*) * sum(t * t) - sum(t) * sum(t) as stt,
        count(*) * sum(x * y) - sum(x) * sum(y) as sxy,
        count(*) * sum(x * t) - sum(x) * sum(t) as sxt,
        sum(x) as x_sum,
        sum(x * t) as xt_sum
    from in_cents
    group by period, block, framework_version, pillar_code, indicator_code
),

-- the block's totals over all its scored units, for the effective weights: an indicator that
-- does not apply to a unit counts 0 there, so the weights of a block add up to 1
block_sums as (
    select
        period,
        block,
        count(*) as units,
        sum(cast(total_score * 100 as hugeint)) as t_sum,
        sum(cast(total_score * 100 as hugeint) * cast(total_score * 100 as hugeint)) as tt_sum
    from unit_scores
    group by period, block
),

-- every scored unit of the block against every indicator of the block: a unit the indicator
-- does not apply to keeps its total and maximum when the indicator is left out
left_out as (
    select
        unit_scores.period,
        unit_scores.block,
        unit_scores.rank_group,
        sums.indicator_code,
        unit_scores.unit_code,
        unit_scores.rank,
        unit_scores.total_score - coalesce(points.final_points, 0) as total_without,
        unit_scores.applicable_max - coalesce(points.max_points, 0) as max_without
    from unit_scores
    inner join sums
        on unit_scores.period = sums.period
        and unit_scores.block = sums.block
    left join {{ ref('fct_indicator_points') }} as points
        on unit_scores.period = points.period
        and unit_scores.unit_code = points.unit_code
        and sums.indicator_code = points.indicator_code
),

reranked as (
    select
        *,
        rank() over (
            partition by period, block, rank_group, indicator_code
            order by
                case
                    when max_without > 0
                        then {{ percent_rank_key('total_without', 'max_without') }}
                end desc nulls last
        ) as rank_without
    from left_out
),

rank_moves as (
    select
        period,
        block,
        indicator_code,
        count(*) filter (where rank_without <> rank) as ranks_moved,
        coalesce(max(abs(rank_without - rank)), 0) as max_rank_shift
    from reranked
    group by period, block, indicator_code
),

frameworks as (
    select
        framework_version,
        block,
        scale_max
    from {{ ref('dim_frameworks') }}
),

final as (
    select
        sums.period,
        sums.block,
        sums.framework_version,
        sums.pillar_code,
        sums.indicator_code,
        sums.indicator_name,
        sums.max_points,
        {{ divide_half_up('sums.max_points', 'frameworks.scale_max', 4) }} as nominal_weight,
        cast(sums.units as integer) as units,
        {{ divide_half_up('sums.units_at_zero * 100', 'sums.units', 2) }} as pct_at_zero,
        {{ divide_half_up('sums.units_at_max * 100', 'sums.units', 2) }} as pct_at_max,
        {{ divide_half_up('sums.points_sum', 'sums.units', 4) }} as mean_points,
        round(sqrt(cast(sums.sxx as double)) / sums.units / 100, 4) as sd_points,
        case
            when sums.sxx > 0 and sums.syy > 0
                then round(
                        cast(sums.sxy as double)
                        / sqrt(cast(sums.sxx as double) * cast(sums.syy as double)),
                        4
                    )
        end as corr_pillar,
        case
            when sums.sxx > 0 and sums.stt > 0
                then round(
                        cast(sums.sxt as double)
                        / sqrt(cast(sums.sxx as double) * cast(sums.stt as double)),
                        4
                    )
        end as corr_total,
        -- the indicator's share of the variance of the total (Σ over the block's indicators
        -- is 1): what it weighs in the ranking, beside its nominal weight max / scale
        case
            when block_sums.units * block_sums.tt_sum > block_sums.t_sum * block_sums.t_sum
                then round(
                        cast(
                            block_sums.units * sums.xt_sum - sums.x_sum * block_sums.t_sum as double
                        )
                        / cast(
                            block_sums.units * block_sums.tt_sum - block_sums.t_sum * block_sums.t_sum
                            as double
                        ),
                        4
                    )
        end as effective_weight,
        cast(rank_moves.ranks_moved as integer) as ranks_moved,
        cast(rank_moves.max_rank_shift as integer) as max_rank_shift
    from sums
    inner join rank_moves
        on sums.period = rank_moves.period
        and sums.block = rank_moves.block
        and sums.indicator_code = rank_moves.indicator_code
    inner join block_sums
        on sums.period = block_sums.period
        and sums.block = block_sums.block
    left join frameworks
        on sums.framework_version = frameworks.framework_version
        and sums.block = frameworks.block
)

select
    period,
    block,
    framework_version,
    pillar_code,
    indicator_code,
    indicator_name,
    max_points,
    nominal_weight,
    units,
    pct_at_zero,
    pct_at_max,
    mean_points,
    sd_points,
    corr_pillar,
    corr_total,
    effective_weight,
    ranks_moved,
    max_rank_shift
from final
