-- grain: one row per unit with a known place (the wards, communes and special zone)
with unit_locations as (
    select * from {{ ref('stg_registry__unit_locations') }}
),

units as (
    select * from {{ ref('stg_registry__units') }}
)

select
    unit_locations.unit_code,
    unit_locations.official_code,
    unit_locations.division_type,
    unit_locations.latitude,
    unit_locations.longitude
from unit_locations
inner join units on unit_locations.unit_code = units.unit_code
