-- grain: one row per period and unit active in it
with unit_scores as (
    select * from {{ ref('int_unit_scores') }}
),

ranking as (
    -- competition rank (1, 2, 2, 4) on the exact percentage within period, block, group
    select
        *,
        rank() over (
            partition by period, block, rank_group, status = 'scored'
            order by percent_rank_key desc
        ) as ranking
    from unit_scores
),

ranked as (
    select
        *,
        case when status = 'scored' then ranking end as rank
    from ranking
)

select
    period,
    unit_code,
    unit_name,
    block,
    rank_group,
    framework_version,
    status,
    total_score,
    self_score,
    applicable_max,
    percent,
    level,
    level_name,
    cast(rank as integer) as rank,
    is_late,
    answered_count,
    unanswered_count,
    appraised_count
from ranked
