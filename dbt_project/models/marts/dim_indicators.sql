-- grain: one row per framework version, block and indicator
with indicators as (
    select * from {{ ref('stg_registry__indicators') }}
)

select
    framework_version,
    block,
    pillar_code,
    indicator_code,
    indicator_name,
    max_points,
    method,
    target,
    tiers,
    applies_to,
    evidence_required
from indicators
