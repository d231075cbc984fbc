with former_units as (
    select * from {{ ref('former_units') }}
)

select
    unit_code,
    unit_name,
    province_name,
    official_code,
    active_to
from former_units
