-- grain: one row per framework version, block and level: its label, its order, its colours and the band of
-- percent it covers (from_pct included, below_pct excluded; NULL above the highest level)
with level_thresholds as (
    select * from {{ ref('stg_registry__level_thresholds') }}
)

select
    framework_version,
    block,
    level_code as level,
    level_name,
    sort_order,
    from_pct,
    colour,
    background,
    lead(from_pct) over (partition by framework_version, block order by sort_order) as below_pct
from level_thresholds
