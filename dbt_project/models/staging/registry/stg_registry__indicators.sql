with indicators as (
    select * from {{ ref('indicators') }}
)

select
    framework_version,
    block,
    indicator_code,
    pillar_code,
    indicator_name,
    max_points,
    method,
    -- docs/spec/results.md §3: a ratio is measured against 100 % by default
    coalesce(target, 100) as target,
    nullif(trim(tiers), '') as tiers,
    nullif(trim(applies_to), '') as applies_to,
    -- docs/spec/submissions.md §1: a counted answer without evidence_ref gets a warning
    coalesce(
        {{ optional_registry_column(ref('indicators'), 'evidence_required', 'null') }}, false
    ) as evidence_required,
    -- false: collected and shown, never scored (max_points 0; the framework checkpoint holds it)
    coalesce({{ optional_registry_column(ref('indicators'), 'scored', 'null') }}, true) as is_scored
from indicators
