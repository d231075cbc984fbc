-- grain: one row per framework version and block
with frameworks as (
    select * from {{ ref('stg_registry__frameworks') }}
)

select
    framework_version,
    block,
    valid_from,
    valid_to,
    scale_max
from frameworks
