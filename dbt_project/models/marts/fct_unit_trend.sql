-- grain: one row per period, unit and trend period (every period up to and including the
-- unit's) in which the unit or, for the periods before it existed, its lineage predecessors
-- were scored. method: same_unit (the unit's own result), predecessor (the one scored
-- predecessor's) or weighted_mean (the mean of the scored predecessors' percents weighted by
-- their lineage weights, renormalised over those scored, and the level whose band of the
-- predecessors' framework holds it; no rank). Which units a point is read from is
-- int_unit_comparisons' rule; how their results make one point is decided here, and
-- fct_unit_previous is its row of the period before.
with comparisons as (
    select * from {{ ref('int_unit_comparisons') }}
),

scores as (
    select * from {{ ref('fct_unit_scores') }}
),

levels as (
    select * from {{ ref('dim_levels') }}
),

compared_scores as (
    select
        comparisons.period,
        comparisons.unit_code,
        comparisons.compared_period as trend_period,
        comparisons.relation,
        comparisons.weight,
        past_scores.block,
        past_scores.rank_group,
        past_scores.framework_version,
        past_scores.percent,
        past_scores.level,
        past_scores.level_name,
        past_scores.rank
    from comparisons
    inner join scores as past_scores
        on comparisons.compared_code = past_scores.unit_code
        and comparisons.compared_period = past_scores.period
),

summed as (
    select
        period,
        unit_code,
        trend_period,
        min(relation) as relation,
        count(*) as compared_units,
        sum(weight * percent) as weighted_percent_sum,
        sum(weight) as weight_sum,
        min(framework_version) as framework_version,
        min(block) as block,
        min(percent) as only_percent,
        min(level) as only_level,
        min(level_name) as only_level_name,
        min(rank) as only_rank,
        min(rank_group) as only_rank_group
    from compared_scores
    group by period, unit_code, trend_period
),

averaged as (
    select
        *,
        case
            when relation = 'same_unit' then 'same_unit'
            when compared_units = 1 then 'predecessor'
            else 'weighted_mean'
        end as method,
        case
            when compared_units = 1 then only_percent
            else {{ divide_half_up('weighted_percent_sum', 'weight_sum') }}
        end as mean_percent
    from summed
)

select
    averaged.period,
    averaged.unit_code,
    averaged.trend_period,
    averaged.method,
    averaged.compared_units,
    averaged.framework_version,
    averaged.block,
    cast(averaged.mean_percent as decimal(7, 2)) as percent,
    case
        when averaged.method = 'weighted_mean' then levels.level else averaged.only_level
    end as level,
    case
        when averaged.method = 'weighted_mean' then levels.level_name
        else averaged.only_level_name
    end as level_name,
    case when averaged.method = 'weighted_mean' then null else averaged.only_rank end as rank,
    case
        when averaged.method = 'weighted_mean' then null else averaged.only_rank_group
    end as rank_group
from averaged
left join levels
    on averaged.framework_version = levels.framework_version
    and averaged.block = levels.block
    and averaged.mean_percent >= levels.from_pct
    and (levels.below_pct is null or averaged.mean_percent < levels.below_pct)
