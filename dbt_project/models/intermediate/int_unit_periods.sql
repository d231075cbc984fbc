-- grain: one row per period and unit active in it, with the framework version that governs it
-- and the rank group it is ranked in that period: the registry's rank group valid for the
-- period (unit_rank_groups), else the unit's default group; and why it is not ranked, when it
-- is assessed without a rank (its unit_rank_groups row's reason, else its group's)
with periods as (
    select period from {{ ref('stg_registry__periods') }}
    union
    select distinct period from {{ ref('stg_portal__submission_rows') }}
),

units as (
    select * from {{ ref('stg_registry__units') }}
),

unit_rank_groups as (
    select * from {{ ref('stg_registry__unit_rank_groups') }}
),

frameworks as (
    select * from {{ ref('stg_registry__frameworks') }}
),

rank_groups as (
    select * from {{ ref('stg_registry__rank_groups') }}
),

unit_periods as (
    select
        periods.period,
        units.unit_code,
        units.unit_name,
        units.block,
        coalesce(unit_rank_groups.rank_group, units.rank_group) as rank_group,
        frameworks.framework_version,
        unit_rank_groups.not_ranked_reason as unit_not_ranked_reason
    from periods
    inner join units
        on periods.period between units.active_from and units.active_to
    inner join frameworks
        on units.block = frameworks.block
        and periods.period between frameworks.valid_from and frameworks.valid_to
    -- overlapping rows of one unit would repeat the period: the grain test refuses them
    left join unit_rank_groups
        on units.unit_code = unit_rank_groups.unit_code
        and periods.period >= unit_rank_groups.valid_from
        and (unit_rank_groups.valid_to is null or periods.period <= unit_rank_groups.valid_to)
)

select
    unit_periods.period,
    unit_periods.unit_code,
    unit_periods.unit_name,
    unit_periods.block,
    unit_periods.rank_group,
    unit_periods.framework_version,
    coalesce(unit_periods.unit_not_ranked_reason, rank_groups.not_ranked_reason)
        as not_ranked_reason
from unit_periods
left join rank_groups
    on unit_periods.rank_group = rank_groups.rank_group
