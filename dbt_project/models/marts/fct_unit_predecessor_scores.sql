-- grain: one row per period, unit and unit it is compared with in the period before: the
-- unit itself when it was scored then, otherwise each scored predecessor of its lineage (the
-- rule is int_unit_comparisons'), with that unit's result the period before
with comparisons as (
    select * from {{ ref('int_unit_comparisons') }}
),

scores as (
    select * from {{ ref('fct_unit_scores') }}
)

select
    comparisons.period,
    comparisons.unit_code,
    comparisons.relation,
    comparisons.compared_code,
    previous_scores.unit_name as compared_name,
    previous_scores.block as compared_block,
    previous_scores.rank_group as compared_rank_group,
    previous_scores.framework_version as compared_framework_version,
    comparisons.weight,
    previous_scores.period as previous_period,
    previous_scores.percent,
    previous_scores.level,
    previous_scores.level_name,
    previous_scores.rank
from comparisons
inner join scores as previous_scores
    on comparisons.compared_code = previous_scores.unit_code
    and comparisons.compared_period = previous_scores.period
where comparisons.compared_period = comparisons.period - 1
