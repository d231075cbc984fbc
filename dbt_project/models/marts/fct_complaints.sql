-- grain: one row per complaint: open, accepted or rejected, late or not, and what it changed
with decided as (
    select * from {{ ref('int_complaints_decided') }}
),

complaint_answers as (
    select * from {{ ref('fct_complaint_answers') }}
),

units as (
    select * from {{ ref('dim_units') }}
),

changed as (
    select
        complaint_id,
        count(*) as answers_changed,
        list(distinct indicator_code order by indicator_code) as indicators_changed
    from complaint_answers
    group by complaint_id
)

select
    decided.complaint_id,
    decided.period,
    decided.unit_code,
    units.unit_name,
    decided.indicator_code,
    decided.complaint_text,
    decided.evidence_ref,
    decided.filed_at,
    decided.closes_at,
    decided.is_late,
    decided.status,
    decided.decision_reason,
    decided.decided_by,
    decided.decided_at,
    coalesce(changed.answers_changed, 0) as answers_changed,
    changed.indicators_changed
from decided
left join units
    on decided.unit_code = units.unit_code
left join changed
    on decided.complaint_id = changed.complaint_id
