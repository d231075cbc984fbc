with unit_lineage as (
    select * from {{ ref('unit_lineage') }}
)

select
    predecessor_code,
    successor_code,
    from_period,
    kind,
    weight,
    source
from unit_lineage
