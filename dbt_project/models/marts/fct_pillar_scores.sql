-- grain: one row per period, unit and pillar
with pillar_scores as (
    select * from {{ ref('int_pillar_scores') }}
)

select
    period,
    unit_code,
    block,
    framework_version,
    pillar_code,
    pillar_name,
    sort_order,
    score,
    self_score,
    max_points
from pillar_scores
