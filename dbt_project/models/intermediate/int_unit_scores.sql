-- grain: one row per period and active unit: totals, percent, level and status
{%- set new_answers = new_answers_since_last_build() %}
with changed as (
    {{ changed_unit_periods(new_answers) }}
),

unit_periods as (
    select * from {{ ref('int_unit_periods') }}
    where {{ is_changed_or_full_build('int_unit_periods', new_answers) }}
),

indicator_points as (
    select * from {{ ref('int_indicator_points') }}
    where {{ is_changed_or_full_build('int_indicator_points', new_answers) }}
),

submission_rows as (
    select * from {{ ref('stg_portal__submission_rows') }}
    where {{ is_changed_or_full_build('stg_portal__submission_rows', new_answers) }}
),

periods as (
    select * from {{ ref('stg_registry__periods') }}
),

level_thresholds as (
    select * from {{ ref('stg_registry__level_thresholds') }}
),

totals as (
    select
        period,
        unit_code,
        sum(final_points) as total_score,
        sum(self_points) as self_score,
        sum(max_points) as applicable_max,
        count(*) filter (where is_answered) as answered_count,
        count(*) filter (where not is_answered) as unanswered_count,
        count(*) filter (where is_appraised) as appraised_count
    from indicator_points
    group by all
),

unit_activity as (
    -- any row at all, of either stage, means the unit took part; late = any self answer
    -- saved after the period's deadline, whether or not the period lets it count
    select
        submission_rows.period,
        submission_rows.unit_code,
        bool_or(
            submission_rows.stage = 'self'
            and coalesce(submission_rows.submitted_at > periods.deadline, false)
        ) as is_late
    from submission_rows
    left join periods using (period)
    group by all
),

scored as (
    select
        unit_periods.period,
        unit_periods.unit_code,
        unit_periods.unit_name,
        unit_periods.block,
        unit_periods.rank_group,
        unit_periods.framework_version,
        case when unit_activity.unit_code is null then 'not_submitted' else 'scored' end as status,
        cast(coalesce(totals.total_score, 0) as decimal(9, 2)) as total_score,
        cast(coalesce(totals.self_score, 0) as decimal(9, 2)) as self_score,
        cast(coalesce(totals.applicable_max, 0) as decimal(9, 2)) as applicable_max,
        coalesce(unit_activity.is_late, false) as is_late,
        coalesce(totals.answered_count, 0) as answered_count,
        coalesce(totals.unanswered_count, 0) as unanswered_count,
        coalesce(totals.appraised_count, 0) as appraised_count
    from unit_periods
    left join totals
        on unit_periods.period = totals.period
        and unit_periods.unit_code = totals.unit_code
    left join unit_activity
        on unit_periods.period = unit_activity.period
        and unit_periods.unit_code = unit_activity.unit_code
),

levels as (
    -- the highest level whose threshold the exact total reaches
    select
        scored.period,
        scored.unit_code,
        arg_max(level_thresholds.level_code, level_thresholds.from_pct) as level,
        arg_max(level_thresholds.level_name, level_thresholds.from_pct) as level_name
    from scored
    inner join level_thresholds
        on scored.framework_version = level_thresholds.framework_version
        and scored.block = level_thresholds.block
        and {{ reaches_percent('scored.total_score', 'scored.applicable_max', 'level_thresholds.from_pct') }}
    where scored.status = 'scored' and scored.applicable_max > 0
    group by all
)

select
    scored.period,
    scored.unit_code,
    scored.unit_name,
    scored.block,
    scored.rank_group,
    scored.framework_version,
    scored.status,
    scored.total_score,
    scored.self_score,
    scored.applicable_max,
    case
        when scored.status = 'scored' and scored.applicable_max > 0
            then cast({{ divide_half_up('scored.total_score * 100', 'scored.applicable_max') }} as decimal(7, 2))
    end as percent,
    case
        when scored.status = 'scored' and scored.applicable_max > 0
            then {{ percent_rank_key('scored.total_score', 'scored.applicable_max') }}
    end as percent_rank_key,
    levels.level,
    levels.level_name,
    scored.is_late,
    scored.answered_count,
    scored.unanswered_count,
    scored.appraised_count,
    {{ built_through(new_answers) }} as built_through
from scored
left join levels
    on scored.period = levels.period
    and scored.unit_code = levels.unit_code
