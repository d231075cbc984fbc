-- grain: one row per period and unit active in it, with the framework version that governs it
with periods as (
    select period from {{ ref('stg_registry__periods') }}
    union
    select distinct period from {{ ref('stg_portal__submission_rows') }}
),

units as (
    select * from {{ ref('stg_registry__units') }}
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
        units.rank_group,
        frameworks.framework_version
    from periods
    inner join units
        on periods.period between units.active_from and units.active_to
    inner join frameworks
        on units.block = frameworks.block
        and periods.period between frameworks.valid_from and frameworks.valid_to
)

select
    period,
    unit_code,
    unit_name,
    block,
    rank_group,
    framework_version
from unit_periods
