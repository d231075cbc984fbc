with frameworks as (
    select * from {{ ref('frameworks') }}
)

select
    framework_version,
    block,
    valid_from,
    valid_to,
    scale_max,
    hinh_thanh_from_pct,
    nang_cao_from_pct
from frameworks
