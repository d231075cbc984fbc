-- grain: one row per period, unit and pillar of the unit's framework
{%- set new_answers = new_answers_since_last_build() %}
with changed as (
    {{ changed_unit_periods(new_answers) }}
),

unit_periods as (
    select * from {{ ref('int_unit_periods') }}
    where {{ is_changed_or_full_build('int_unit_periods', new_answers) }}
),

pillars as (
    select * from {{ ref('stg_registry__pillars') }}
),

indicator_points as (
    select * from {{ ref('int_indicator_points') }}
    where {{ is_changed_or_full_build('int_indicator_points', new_answers) }}
),

pillar_sums as (
    select
        period,
        unit_code,
        pillar_code,
        sum(final_points) as score,
        sum(self_points) as self_score,
        sum(max_points) as max_points
    from indicator_points
    group by all
)

select
    unit_periods.period,
    unit_periods.unit_code,
    unit_periods.block,
    unit_periods.framework_version,
    pillars.pillar_code,
    pillars.pillar_name,
    pillars.sort_order,
    cast(coalesce(pillar_sums.score, 0) as decimal(9, 2)) as score,
    cast(coalesce(pillar_sums.self_score, 0) as decimal(9, 2)) as self_score,
    -- the pillar's maximum for this unit: only the indicators that apply to it count
    cast(coalesce(pillar_sums.max_points, 0) as decimal(9, 2)) as max_points,
    {{ built_through(new_answers) }} as built_through
from unit_periods
inner join pillars
    on unit_periods.framework_version = pillars.framework_version
    and unit_periods.block = pillars.block
left join pillar_sums
    on unit_periods.period = pillar_sums.period
    and unit_periods.unit_code = pillar_sums.unit_code
    and pillars.pillar_code = pillar_sums.pillar_code
