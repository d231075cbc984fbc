with submission_rows as (
    select * from {{ source('portal', 'submission_rows') }}
),

boolean_words as (
    -- the yes/no words of the registry (seeds/value_words.csv), lower case
    select
        word,
        boolean_value
    from {{ ref('value_words') }}
    where kind = 'boolean'
),

typed as (
    select
        cast(submission_rows.period as integer) as period,
        submission_rows.unit_code,
        submission_rows.indicator_code,
        submission_rows.stage,
        submission_rows.value,
        nullif(trim(submission_rows.value), '') is not null as is_answered,
        {{ parse_number('submission_rows.value') }} as value_number,
        boolean_words.boolean_value as value_boolean,
        submission_rows.evidence_ref,
        submission_rows.note,
        submission_rows.appraiser,
        submission_rows.reason,
        -- the complaint whose accepted decision brought this appraisal answer
        submission_rows.complaint_id,
        submission_rows.submitted_at,
        submission_rows.submission_id,
        submission_rows.source_updated_at,
        submission_rows.source,
        submission_rows.batch_sha256,
        submission_rows.source_row,
        submission_rows.loaded_at
    from submission_rows
    left join boolean_words
        on lower(trim(submission_rows.value)) = boolean_words.word
)

select * from typed
