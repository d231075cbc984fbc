with decision_rows as (
    select * from {{ source('portal', 'decision_rows') }}
),

renamed as (
    select
        complaint_id,
        decision,
        reason as decision_reason,
        decided_by,
        decided_at,
        source,
        batch_sha256,
        source_row,
        loaded_at
    from decision_rows
)

select * from renamed
