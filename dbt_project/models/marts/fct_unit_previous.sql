-- grain: one row per period and unit with a result to compare with in the period before.
-- method: same_unit (the unit's own result), predecessor (the one scored predecessor's
-- result) or weighted_mean (several predecessors: the mean of their published percents
-- weighted by the lineage weights of those scored, and the level whose band of the
-- predecessors' framework holds that mean; no rank)
with compared as (
    select * from {{ ref('fct_unit_predecessor_scores') }}
),

levels as (
    select * from {{ ref('dim_levels') }}
),

summed as (
    select
        period,
        unit_code,
        min(previous_period) as previous_period,
        min(relation) as relation,
        count(*) as compared_units,
        sum(weight * percent) as weighted_percent_sum,
        sum(weight) as weight_sum,
        min(compared_framework_version) as framework_version,
        min(compared_block) as block,
        min(percent) as only_percent,
        min(level) as only_level,
        min(level_name) as only_level_name,
        min(rank) as only_rank,
        min(compared_rank_group) as only_rank_group
    from compared
    group by period, unit_code
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
    averaged.previous_period,
    averaged.method,
    averaged.compared_units,
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
