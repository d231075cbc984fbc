-- grain: one row per rank group: its Vietnamese label (the group's code never reaches a reader)
-- and, for a group assessed without a rank, the published reason
with rank_groups as (
    select * from {{ ref('rank_groups') }}
)

select
    trim(rank_group) as rank_group,
    trim(rank_group_name) as rank_group_name,
    nullif(
        trim(
            cast({{ optional_registry_column(ref('rank_groups'), 'not_ranked_reason', 'null') }} as varchar)
        ),
        ''
    ) as not_ranked_reason
from rank_groups
