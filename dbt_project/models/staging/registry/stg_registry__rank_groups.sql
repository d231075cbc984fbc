-- grain: one row per rank group: its Vietnamese label (the group's code never reaches a reader)
with rank_groups as (
    select * from {{ ref('rank_groups') }}
)

select
    trim(rank_group) as rank_group,
    trim(rank_group_name) as rank_group_name
from rank_groups
