-- grain: one row per unit of the registry
with units as (
    select * from {{ ref('stg_registry__units') }}
)

select
    unit_code,
    unit_name,
    block,
    rank_group,
    active_from,
    active_to
from units
