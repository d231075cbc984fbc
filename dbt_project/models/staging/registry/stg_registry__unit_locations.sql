with unit_locations as (
    select * from {{ ref('unit_locations') }}
)

select
    unit_code,
    official_code,
    division_type,
    latitude,
    longitude
from unit_locations
