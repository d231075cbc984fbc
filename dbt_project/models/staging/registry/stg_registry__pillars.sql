with pillars as (
    select * from {{ ref('pillars') }}
)

select
    framework_version,
    block,
    pillar_code,
    pillar_name,
    max_points,
    sort_order
from pillars
