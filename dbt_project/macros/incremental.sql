{#- Incremental builds recompute only the (period, unit) pairs that received answers since the
    model last ran; everything else of the model stays as it was. The pipeline forces a full
    refresh whenever the registry or the models change (dti.dbt_runner), so a unit's rows
    only ever change through its own answers. -#}

{#- A CTE body: the (period, unit_code) pairs to (re)compute in this run. -#}
{% macro changed_unit_periods() -%}
    select distinct period, unit_code
    from {{ ref('stg_portal__submission_rows') }}
    {% if is_incremental_run() -%}
    where loaded_at > (select coalesce(max(built_through), '-infinity'::timestamptz) from {{ this }})
    {%- endif %}
{%- endmacro %}

{#- The column every incremental model carries: how far into raw.submission_rows it was built. -#}
{% macro built_through() -%}
    (select coalesce(max(loaded_at), '-infinity'::timestamptz) from {{ ref('stg_portal__submission_rows') }})
{%- endmacro %}

{#- Incremental models that keep a row for units with no answer (not submitted) need every
    unit-period on the first build, and only the changed ones afterwards. -#}
{% macro is_changed_or_full_build(alias) -%}
    {% if is_incremental_run() -%}
    exists (
        select 1 from changed
        where changed.period = {{ alias }}.period and changed.unit_code = {{ alias }}.unit_code
    )
    {%- else -%}
    true
    {%- endif %}
{%- endmacro %}

{#- is_incremental(), safe where `this` is not a relation (dbt unit tests). -#}
{% macro is_incremental_run() -%}
    {{ return(this is not none and is_incremental()) }}
{%- endmacro %}
