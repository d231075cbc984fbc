with periods as (
    select * from {{ ref('periods') }}
)

select
    period,
    deadline,
    coalesce(late_self_answers_count, true) as late_self_answers_count
from periods
