with unit_rank_groups as (
    select * from {{ ref('unit_rank_groups') }}
)

select
    unit_code,
    -- empty rank group = the whole block ranks as one group in these periods
    coalesce(rank_group, '') as rank_group,
    valid_from,
    valid_to,
    -- a reason: the unit is assessed without a rank in these periods
    nullif(
        trim(
            cast({{ optional_registry_column(ref('unit_rank_groups'), 'not_ranked_reason', 'null') }} as varchar)
        ),
        ''
    ) as not_ranked_reason
from unit_rank_groups
