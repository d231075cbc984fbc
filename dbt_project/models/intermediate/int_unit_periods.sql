-- grain: one row per period and unit active in it, with the framework version that governs it
-- and the rank group it is ranked in that period: the registry's rank group valid for the
-- period (unit_rank_groups), else the unit's default group
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

unit_periods as (
    select
        periods.period,
        units.unit_code,
        units.unit_name,
        units.block,
        coalesce(unit_rank_groups.rank_group, units.rank_group) as rank_group,
        frameworks.framework_version
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
    period,
    unit_code,
    unit_name,
    block,
    rank_group,
    framework_version
from unit_periods
