-- grain: one row per framework version, block and level: the percentage at which it starts, its
-- label, its order (1 = lowest) and its colours; as many levels as the registry's levels.csv lists
with levels as (
    select * from {{ ref('levels') }}
)

select
    framework_version,
    block,
    level_code,
    level_name,
    sort_order,
    from_pct,
    colour,
    background
from levels
