-- grain: one row per period and unit with a result to compare with in the period before:
-- the row of fct_unit_trend for that period (method same_unit, predecessor or weighted_mean;
-- the rule is written there once)
with trend as (
    select * from {{ ref('fct_unit_trend') }}
)

select
    period,
    unit_code,
    trend_period as previous_period,
    method,
    compared_units,
    percent,
    level,
    level_name,
    rank,
    rank_group
from trend
where trend_period = period - 1
