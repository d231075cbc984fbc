with complaint_rows as (
    select * from {{ source('portal', 'complaint_rows') }}
),

renamed as (
    select
        complaint_id,
        cast(period as integer) as period,
        unit_code,
        -- empty: the complaint is about the whole unit, not one indicator
        nullif(trim(indicator_code), '') as indicator_code,
        text as complaint_text,
        evidence_ref,
        filed_at,
        source,
        batch_sha256,
        source_row,
        loaded_at
    from complaint_rows
)

select * from renamed
