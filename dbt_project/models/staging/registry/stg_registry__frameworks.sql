with frameworks as (
    select * from {{ ref('frameworks') }}
)

select
    framework_version,
    block,
    valid_from,
    valid_to,
    scale_max
from frameworks
