-- a view: incremental builds read it for the changed units only; a table would be rebuilt
-- whole (every unit × indicator) on every run
{{ config(materialized='view') }}

-- grain: one row per period, unit and indicator that applies to that unit
with unit_periods as (
    select * from {{ ref('int_unit_periods') }}
),

indicators as (
    select * from {{ ref('stg_registry__indicators') }}
),

applicable as (
    select
        unit_periods.period,
        unit_periods.unit_code,
        unit_periods.block,
        unit_periods.framework_version,
        indicators.pillar_code,
        indicators.indicator_code,
        indicators.indicator_name,
        indicators.method,
        indicators.max_points,
        indicators.target
    from unit_periods
    inner join indicators
        on unit_periods.framework_version = indicators.framework_version
        and unit_periods.block = indicators.block
    -- applies_to names the only units an indicator is scored for; empty means all of the block
    where indicators.applies_to is null
        or list_contains(string_split(indicators.applies_to, '|'), unit_periods.unit_code)
)

select
    period,
    unit_code,
    block,
    framework_version,
    pillar_code,
    indicator_code,
    indicator_name,
    method,
    max_points,
    target
from applicable
