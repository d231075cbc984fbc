-- grain: one row per period, unit, compared period (every period up to and including the
-- unit's) and unit compared with in it: the unit itself when it was scored then, otherwise,
-- for the periods before its lineage's from_period, each scored predecessor with its lineage
-- weight (docs/spec/results.md §9). fct_unit_trend and fct_unit_predecessor_scores read it,
-- so which unit a result is compared with is decided here once.
with scores as (
    select * from {{ ref('int_unit_scores') }}
),

lineage as (
    select * from {{ ref('stg_registry__unit_lineage') }}
),

same_unit as (
    select
        current_scores.period,
        current_scores.unit_code,
        past_scores.period as compared_period,
        past_scores.unit_code as compared_code,
        cast(1 as decimal(9, 4)) as weight
    from scores as current_scores
    inner join scores as past_scores
        on current_scores.unit_code = past_scores.unit_code
        and current_scores.period >= past_scores.period
        and past_scores.status = 'scored'
),

predecessors as (
    -- the unit's own result wins: predecessors count only in the periods before the
    -- lineage's from_period in which the unit itself was not scored
    select
        current_scores.period,
        current_scores.unit_code,
        past_scores.period as compared_period,
        lineage.predecessor_code as compared_code,
        lineage.weight
    from scores as current_scores
    inner join lineage
        on current_scores.unit_code = lineage.successor_code
        and current_scores.period >= lineage.from_period
    inner join scores as past_scores
        on lineage.predecessor_code = past_scores.unit_code
        and lineage.from_period > past_scores.period
        and past_scores.status = 'scored'
    left join same_unit
        on current_scores.period = same_unit.period
        and current_scores.unit_code = same_unit.unit_code
        and past_scores.period = same_unit.compared_period
    where same_unit.unit_code is null
)

select
    period,
    unit_code,
    compared_period,
    compared_code,
    'same_unit' as relation,
    weight
from same_unit
union all
select
    period,
    unit_code,
    compared_period,
    compared_code,
    'predecessor' as relation,
    weight
from predecessors
