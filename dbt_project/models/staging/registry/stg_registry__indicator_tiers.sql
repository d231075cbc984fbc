-- grain: one row per tier of a `tiers` indicator
with indicators as (
    select * from {{ ref('indicators') }}
    where method = 'tiers' and nullif(trim(tiers), '') is not null
),

tiers as (
    select
        framework_version,
        block,
        indicator_code,
        unnest(string_split(tiers, '|')) as tier
    from indicators
)

select
    framework_version,
    block,
    indicator_code,
    cast(trim(split_part(tier, ':', 1)) as decimal(18, 4)) as lower_bound,
    cast(trim(split_part(tier, ':', 2)) as decimal(9, 2)) as tier_points
from tiers
