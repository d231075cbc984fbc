with unit_rank_groups as (
    select * from {{ ref('unit_rank_groups') }}
)

select
    unit_code,
    -- empty rank group = the whole block ranks as one group in these periods
    coalesce(rank_group, '') as rank_group,
    valid_from,
    valid_to
from unit_rank_groups
