with complaint_windows as (
    select * from {{ ref('complaint_windows') }}
)

select
    period,
    opens_at,
    closes_at
from complaint_windows
