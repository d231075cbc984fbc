-- grain: one row per period, unit and pillar
-- pillar ranks (docs/spec/results.md §6): competition ranks on the exact ratio score / max_points
-- within period, block, rank group and pillar, among scored units the pillar applies to
with pillar_scores as (
    select * from {{ ref('int_pillar_scores') }}
),

unit_scores as (
    select * from {{ ref('int_unit_scores') }}
),

unit_periods as (
    select * from {{ ref('int_unit_periods') }}
),

rankable as (
    -- a unit assessed without a rank has no pillar ranks either, and takes none from others
    select
        pillar_scores.*,
        unit_scores.rank_group,
        unit_scores.status = 'scored'
        and pillar_scores.max_points > 0
        and unit_periods.not_ranked_reason is null as is_ranked,
        case
            when unit_scores.status = 'scored' and pillar_scores.max_points > 0
                then {{ percent_rank_key('pillar_scores.score', 'pillar_scores.max_points') }}
        end as pillar_rank_key
    from pillar_scores
    inner join unit_scores
        on pillar_scores.period = unit_scores.period
        and pillar_scores.unit_code = unit_scores.unit_code
    left join unit_periods
        on pillar_scores.period = unit_periods.period
        and pillar_scores.unit_code = unit_periods.unit_code
),

ranked as (
    select
        *,
        case when is_ranked then rank() over pillar_ranking end as rank
    from rankable
    window pillar_ranking as (
        partition by period, block, rank_group, pillar_code, is_ranked
        order by pillar_rank_key desc
    )
)

select
    period,
    unit_code,
    block,
    rank_group,
    framework_version,
    pillar_code,
    pillar_name,
    sort_order,
    score,
    self_score,
    max_points,
    cast(rank as integer) as rank
from ranked
