-- grain: one row per period and unit active in it
with unit_scores as (
    select * from {{ ref('int_unit_scores') }}
),

ranked as (
    select
        *,
        -- competition rank (1, 2, 2, 4) on the exact percentage within period, block, group
        case
            when status = 'scored' then rank() over (
                partition by period, block, rank_group, status = 'scored'
                order by percent_rank_key desc
            )
        end as rank,
    from unit_scores
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
    appraised_count,
from ranked
