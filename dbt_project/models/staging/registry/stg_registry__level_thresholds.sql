-- grain: one row per framework version, block and level: the percentage at which it starts
with frameworks as (
    select * from {{ ref('frameworks') }}
),

level_labels as (
    select * from {{ ref('level_labels') }}
),

thresholds as (
    select
        framework_version,
        block,
        'khoi_dong' as level_code,
        cast(0 as decimal(9, 4)) as from_pct
    from frameworks
    union all
    select
        framework_version,
        block,
        'hinh_thanh' as level_code,
        hinh_thanh_from_pct as from_pct
    from frameworks
    union all
    select
        framework_version,
        block,
        'nang_cao' as level_code,
        nang_cao_from_pct as from_pct
    from frameworks
)

select
    thresholds.framework_version,
    thresholds.block,
    thresholds.level_code,
    level_labels.level_name,
    level_labels.sort_order,
    thresholds.from_pct
from thresholds
inner join level_labels using (level_code)
