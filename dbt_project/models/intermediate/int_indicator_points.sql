-- grain: one row per period, unit and applicable indicator: self and final points
{%- set new_answers = new_answers_since_last_build() %}
with changed as (
    {{ changed_unit_periods(new_answers) }}
),

applicable as (
    select * from {{ ref('int_applicable_indicators') }}
    where {{ is_changed_or_full_build('int_applicable_indicators', new_answers) }}
),

-- the view is read once per stage rather than through one shared CTE, which DuckDB would
-- materialise whole before splitting it; the stage filter reaches each scan instead
self_answers as (
    select self_answer_points.* from {{ ref('int_answer_points') }} as self_answer_points
    where
        self_answer_points.stage = 'self'
        and {{ is_changed_or_full_build('self_answer_points', new_answers) }}
),

appraisal_answers as (
    select appraisal_answer_points.* from {{ ref('int_answer_points') }} as appraisal_answer_points
    where
        appraisal_answer_points.stage = 'appraisal'
        and {{ is_changed_or_full_build('appraisal_answer_points', new_answers) }}
),

combined as (
    select
        applicable.period,
        applicable.unit_code,
        applicable.pillar_code,
        applicable.indicator_code,
        applicable.max_points,
        self_answers.value as self_value,
        appraisal_answers.value as appraisal_value,
        self_answers.submission_id as self_submission_id,
        appraisal_answers.submission_id as appraisal_submission_id,
        self_answers.evidence_ref as self_evidence_ref,
        appraisal_answers.evidence_ref as appraisal_evidence_ref,
        self_answers.note as self_note,
        appraisal_answers.appraiser,
        appraisal_answers.reason as appraisal_reason,
        coalesce(self_answers.is_answered, false) as is_self_answered,
        coalesce(appraisal_answers.is_answered, false) as is_appraised,
        coalesce(self_answers.is_late, false) as is_late,
        coalesce(self_answers.points, 0) as self_points,
        -- the council's value overrides the unit's own wherever the council gave one
        case
            when appraisal_answers.is_answered then appraisal_answers.points
            else coalesce(self_answers.points, 0)
        end as final_points,
        case
            when appraisal_answers.is_answered then 'appraisal'
            when self_answers.is_answered then 'self'
        end as scored_stage
    from applicable
    left join self_answers
        on applicable.period = self_answers.period
        and applicable.unit_code = self_answers.unit_code
        and applicable.indicator_code = self_answers.indicator_code
    left join appraisal_answers
        on applicable.period = appraisal_answers.period
        and applicable.unit_code = appraisal_answers.unit_code
        and applicable.indicator_code = appraisal_answers.indicator_code
)

-- registry attributes (block, framework, indicator name, method) and the scored value are
-- added by fct_indicator_points: written here they would be copied into every answer's row
select
    period,
    unit_code,
    pillar_code,
    indicator_code,
    max_points,
    self_value,
    appraisal_value,
    scored_stage,
    scored_stage is not null as is_answered,
    is_appraised,
    is_late,
    cast(self_points as decimal(9, 2)) as self_points,
    cast(final_points as decimal(9, 2)) as final_points,
    self_submission_id,
    appraisal_submission_id,
    self_evidence_ref,
    appraisal_evidence_ref,
    self_note,
    appraiser,
    appraisal_reason,
    {{ built_through(new_answers) }} as built_through
from combined
