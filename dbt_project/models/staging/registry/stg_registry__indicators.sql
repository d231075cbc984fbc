with indicators as (
    select * from {{ ref('indicators') }}
)

select
    framework_version,
    block,
    indicator_code,
    pillar_code,
    indicator_name,
    max_points,
    method,
    -- docs/spec/results.md §3: a ratio is measured against 100 % by default
    coalesce(target, 100) as target,
    nullif(trim(tiers), '') as tiers,
    nullif(trim(applies_to), '') as applies_to
from indicators
