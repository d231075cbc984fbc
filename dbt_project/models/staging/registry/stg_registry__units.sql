with units as (
    select * from {{ ref('units') }}
)

select
    unit_code,
    unit_name,
    block,
    -- empty rank group = the whole block ranks as one group
    coalesce(rank_group, '') as rank_group,
    active_from,
    active_to
from units
