-- grain: one row per period and unit active in it
-- The ranks and the margins (docs/spec/results.md §6 and §6a) are decided here and nowhere else.
with unit_scores as (
    select * from {{ ref('int_unit_scores') }}
),

level_thresholds as (
    select * from {{ ref('stg_registry__level_thresholds') }}
),

rank_groups as (
    select * from {{ ref('stg_registry__rank_groups') }}
),

unit_periods as (
    select * from {{ ref('int_unit_periods') }}
),

rankable as (
    -- a unit assessed without a rank (its own reason or its group's) keeps its level and takes
    -- no place: the others rank as if it were not there
    select
        unit_scores.*,
        unit_periods.not_ranked_reason,
        unit_scores.status = 'scored' and unit_periods.not_ranked_reason is null as is_ranked
    from unit_scores
    left join unit_periods
        on unit_scores.period = unit_periods.period
        and unit_scores.unit_code = unit_periods.unit_code
),

ranking as (
    -- competition rank (1, 2, 2, 4) on the exact percentage within period, block, group
    select
        *,
        rank() over (
            partition by period, block, rank_group, is_ranked
            order by percent_rank_key desc
        ) as ranking
    from rankable
),

ranked as (
    select
        *,
        case when is_ranked then ranking end as rank
    from ranking
),

ratios as (
    -- one row per distinct exact ratio of a rank group, with the ratios just above and below:
    -- a window over the distinct ratios, not a join of every unit with every other
    select
        period,
        block,
        rank_group,
        percent_rank_key,
        count(*) as units_at_ratio,
        any_value(total_score) as total_score,
        any_value(applicable_max) as applicable_max
    from ranked
    where rank is not null and percent_rank_key is not null
    group by all
),

neighbour_ratios as (
    select
        period,
        block,
        rank_group,
        percent_rank_key,
        units_at_ratio,
        lag(total_score) over by_ratio as above_total,
        lag(applicable_max) over by_ratio as above_max,
        lead(total_score) over by_ratio as below_total,
        lead(applicable_max) over by_ratio as below_max
    from ratios
    window by_ratio as (partition by period, block, rank_group order by percent_rank_key desc)
),

current_levels as (
    select
        ranked.period,
        ranked.unit_code,
        ranked.framework_version,
        ranked.block,
        level_thresholds.from_pct
    from ranked
    inner join level_thresholds
        on ranked.framework_version = level_thresholds.framework_version
        and ranked.block = level_thresholds.block
        and ranked.level = level_thresholds.level_code
),

level_neighbours as (
    -- the next level up (the lowest threshold above the unit's) and whether one lies below
    select
        current_levels.period,
        current_levels.unit_code,
        current_levels.from_pct,
        arg_min(level_thresholds.level_code, level_thresholds.from_pct) filter (
            where level_thresholds.from_pct > current_levels.from_pct
        ) as next_level,
        min(level_thresholds.from_pct) filter (
            where level_thresholds.from_pct > current_levels.from_pct
        ) as next_from_pct,
        count(*) filter (where level_thresholds.from_pct < current_levels.from_pct) > 0
            as has_lower_level
    from current_levels
    inner join level_thresholds
        on current_levels.framework_version = level_thresholds.framework_version
        and current_levels.block = level_thresholds.block
    group by all
),

margins as (
    select
        ranked.period,
        ranked.unit_code,
        level_neighbours.next_level,
        case
            when level_neighbours.next_level is not null
                then {{ cents_to_points(
                    min_cents_reaching('level_neighbours.next_from_pct', 100, 'ranked.applicable_max')
                    ~ ' - cast(ranked.total_score * 100 as hugeint)') }}
        end as points_to_next_level,
        case
            when level_neighbours.has_lower_level
                then {{ cents_to_points(
                    'cast(ranked.total_score * 100 as hugeint) - ('
                    ~ min_cents_reaching('level_neighbours.from_pct', 100, 'ranked.applicable_max')
                    ~ ' - 1)') }}
        end as points_to_drop_level,
        case
            when neighbour_ratios.above_total is not null
                then {{ cents_to_points(
                    min_cents_reaching('neighbour_ratios.above_total', 'neighbour_ratios.above_max', 'ranked.applicable_max')
                    ~ ' - cast(ranked.total_score * 100 as hugeint)') }}
        end as points_to_next_rank,
        case
            -- a unit sharing its rank falls below the others by the smallest step
            when neighbour_ratios.units_at_ratio > 1 then cast(0.01 as decimal(9, 2))
            -- no total can fall below a unit that scored 0
            when neighbour_ratios.below_total > 0
                then {{ cents_to_points(
                    'cast(ranked.total_score * 100 as hugeint) - ('
                    ~ min_cents_reaching('neighbour_ratios.below_total', 'neighbour_ratios.below_max', 'ranked.applicable_max')
                    ~ ' - 1)') }}
        end as points_to_drop_rank
    from ranked
    left join level_neighbours
        on ranked.period = level_neighbours.period
        and ranked.unit_code = level_neighbours.unit_code
    left join neighbour_ratios
        on ranked.period = neighbour_ratios.period
        and ranked.block = neighbour_ratios.block
        and ranked.rank_group = neighbour_ratios.rank_group
        and ranked.percent_rank_key = neighbour_ratios.percent_rank_key
        and ranked.rank is not null
    where ranked.status = 'scored'
)

select
    ranked.period,
    ranked.unit_code,
    ranked.unit_name,
    ranked.block,
    ranked.rank_group,
    -- '' for the empty group (the block ranks as one); ingest refuses a group without a label
    coalesce(rank_groups.rank_group_name, '') as rank_group_name,
    ranked.framework_version,
    ranked.status,
    ranked.total_score,
    ranked.self_score,
    ranked.applicable_max,
    ranked.percent,
    ranked.level,
    ranked.level_name,
    cast(ranked.rank as integer) as rank,
    ranked.is_late,
    ranked.answered_count,
    ranked.unanswered_count,
    ranked.appraised_count,
    margins.next_level,
    margins.points_to_next_level,
    margins.points_to_drop_level,
    margins.points_to_next_rank,
    margins.points_to_drop_rank,
    ranked.not_ranked_reason
from ranked
left join margins
    on ranked.period = margins.period
    and ranked.unit_code = margins.unit_code
left join rank_groups
    on ranked.rank_group = rank_groups.rank_group
