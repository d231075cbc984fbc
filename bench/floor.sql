-- The floor: the whole scoring as one hand-written DuckDB statement over raw.submission_rows
-- and the registry tables, materialised once. Same rules as the dbt models (latest answer,
-- appraisal overrides self, points per method, applicable max, level, rank), no layers.
create or replace table bench_floor_unit_scores as
with latest as (
    select period, unit_code, indicator_code, stage,
        arg_max(value, (submitted_at, submission_id)) as value
    from raw.submission_rows
    group by all
),
unit_periods as (
    select p.period, u.unit_code, u.block, coalesce(u.rank_group, '') as rank_group, f.framework_version
    from (select distinct period from raw.submission_rows) p
    join registry.units u on p.period between u.active_from and u.active_to
    join registry.frameworks f on f.block = u.block and p.period between f.valid_from and f.valid_to
),
applicable as (
    select up.*, i.indicator_code, i.method, i.max_points, coalesce(i.target, 100) as target, i.tiers
    from unit_periods up
    join registry.indicators i on i.framework_version = up.framework_version and i.block = up.block
    where i.applies_to is null or list_contains(string_split(i.applies_to, '|'), up.unit_code)
),
answered as (
    select a.*, l.stage, l.value,
        try_cast(replace(trim(l.value), ',', '.') as decimal(18, 4)) as num,
        lower(trim(l.value)) in ('1', 'true', 'có', 'yes') as yes
    from applicable a
    join latest l using (period, unit_code, indicator_code)
),
points as (
    select *,
        case
            when nullif(trim(value), '') is null then 0
            when method = 'boolean' then case when yes then max_points else 0 end
            when method = 'ratio' then case when num >= target then max_points else
                cast((cast(max_points * num * 1000000 as hugeint) * 200 + cast(target * 1000000 as hugeint))
                    // (2 * cast(target * 1000000 as hugeint)) as decimal(38, 0)) * 0.01 end
            when method = 'tiers' then coalesce((
                select max_by(cast(split_part(t, ':', 2) as decimal(9, 2)), cast(split_part(t, ':', 1) as decimal(18, 4)))
                from unnest(string_split(tiers, '|')) as x(t)
                where cast(split_part(t, ':', 1) as decimal(18, 4)) <= num), 0)
            else round(num, 2)
        end as pts
    from answered
),
per_indicator as (
    select period, unit_code, indicator_code,
        coalesce(max(pts) filter (where stage = 'appraisal' and nullif(trim(value), '') is not null),
                 max(pts) filter (where stage = 'self'), 0) as final_points,
        coalesce(max(pts) filter (where stage = 'self'), 0) as self_points
    from points group by all
),
totals as (
    select up.period, up.unit_code, up.block, up.rank_group, up.framework_version,
        coalesce(sum(pi.final_points), 0) as total_score,
        coalesce(sum(pi.self_points), 0) as self_score,
        (select sum(max_points) from applicable a where a.period = up.period and a.unit_code = up.unit_code) as applicable_max
    from unit_periods up left join per_indicator pi using (period, unit_code)
    group by all
)
select t.*,
    (select arg_max(l.level_code, l.from_pct) from registry.levels l
     where l.framework_version = t.framework_version and l.block = t.block
       and t.total_score * 100 >= l.from_pct * t.applicable_max) as level,
    rank() over (partition by t.period, t.block, t.rank_group
                 order by t.total_score * 1000000 // t.applicable_max desc) as rank
from totals t
