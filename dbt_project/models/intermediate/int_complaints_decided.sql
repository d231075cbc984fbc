-- grain: one row per complaint, with the council's decision when there is one
with complaints as (
    select * from {{ ref('stg_portal__complaint_rows') }}
),

decisions as (
    select * from {{ ref('stg_portal__decision_rows') }}
),

windows as (
    select * from {{ ref('stg_registry__complaint_windows') }}
),

decided as (
    select
        complaints.complaint_id,
        complaints.period,
        complaints.unit_code,
        complaints.indicator_code,
        complaints.complaint_text,
        complaints.evidence_ref,
        complaints.filed_at,
        windows.closes_at,
        -- kept and flagged, never lost (docs/spec/complaints.md §3)
        coalesce(complaints.filed_at > windows.closes_at, false) as is_late,
        coalesce(decisions.decision, 'open') as status,
        decisions.decision_reason,
        decisions.decided_by,
        decisions.decided_at
    from complaints
    left join windows
        on complaints.period = windows.period
    left join decisions
        on complaints.complaint_id = decisions.complaint_id
)

select * from decided
