with submission_rows as (
    select * from {{ source('portal', 'submission_rows') }}
),

typed as (
    select
        cast(period as integer) as period,
        unit_code,
        indicator_code,
        stage,
        value,
        nullif(trim(value), '') is not null as is_answered,
        {{ parse_number('value') }} as value_number,
        {{ parse_boolean('value') }} as value_boolean,
        evidence_ref,
        submitted_at,
        submission_id,
        source,
        batch_sha256,
        source_row,
        loaded_at
    from submission_rows
)

select * from typed
