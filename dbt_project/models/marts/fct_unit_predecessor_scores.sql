-- grain: one row per period, unit and unit it is compared with in the period before: the
-- unit itself when it was scored then, otherwise each scored predecessor of its lineage
with scores as (
    select * from {{ ref('fct_unit_scores') }}
),

lineage as (
    select * from {{ ref('stg_registry__unit_lineage') }}
),

same_unit as (
    select
        current_scores.period,
        current_scores.unit_code,
        previous_scores.unit_code as compared_code,
        cast(1 as decimal(9, 4)) as weight
    from scores as current_scores
    inner join scores as previous_scores
        on current_scores.unit_code = previous_scores.unit_code
        and previous_scores.period = current_scores.period - 1
        and previous_scores.status = 'scored'
),

predecessors as (
    -- only for units not scored themselves the period before
    select
        current_scores.period,
        current_scores.unit_code,
        lineage.predecessor_code as compared_code,
        lineage.weight
    from scores as current_scores
    inner join lineage
        on current_scores.unit_code = lineage.successor_code
        and current_scores.period = lineage.from_period
    inner join scores as previous_scores
        on lineage.predecessor_code = previous_scores.unit_code
        and previous_scores.period = current_scores.period - 1
        and previous_scores.status = 'scored'
    left join same_unit
        on current_scores.period = same_unit.period
        and current_scores.unit_code = same_unit.unit_code
    where same_unit.unit_code is null
),

compared as (
    select
        period,
        unit_code,
        compared_code,
        weight,
        'same_unit' as relation
    from same_unit
    union all
    select
        period,
        unit_code,
        compared_code,
        weight,
        'predecessor' as relation
    from predecessors
)

select
    compared.period,
    compared.unit_code,
    compared.relation,
    compared.compared_code,
    previous_scores.unit_name as compared_name,
    previous_scores.block as compared_block,
    previous_scores.rank_group as compared_rank_group,
    previous_scores.framework_version as compared_framework_version,
    compared.weight,
    previous_scores.period as previous_period,
    previous_scores.percent,
    previous_scores.level,
    previous_scores.level_name,
    previous_scores.rank
from compared
inner join scores as previous_scores
    on compared.compared_code = previous_scores.unit_code
    and previous_scores.period = compared.period - 1
