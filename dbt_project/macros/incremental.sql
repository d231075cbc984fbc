{#- Incremental builds recompute only the (period, unit) pairs that received answers since the
    model last ran; everything else of the model stays as it was. The pipeline forces a full
    refresh whenever the registry or the models change (dti.dbt_runner), so a unit's rows
    only ever change through its own answers.

    A model reads the new answers once, when it compiles (`new_answers_since_last_build`), and
    passes what it read to the other macros: the pairs it recomputes and the high-water mark
    it records come from one snapshot, and a short list of pairs is written into the SQL as
    constants, which DuckDB pushes through views and joins down to the table scans (a
    semi-join against a CTE is not pushed, so every view underneath would be computed whole). -#}

{#- At most this many (period, unit) pairs are written into the SQL as constants; more (a
    whole province's batch) are selected by their load time instead. -#}
{% macro inline_pairs_limit() %}{{ return(var('inline_pairs_limit', 1000) | int) }}{% endmacro %}

{#- What an incremental build of this model must recompute, or none on a full build:
    {'since': watermark of the last build, 'through': newest load now,
     'pairs': [(period, unit_code), ...] or none when more than inline_pairs_limit()}. -#}
{% macro new_answers_since_last_build() -%}
    {%- if not (execute and is_incremental_run()) -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set submission_rows = ref('stg_portal__submission_rows') -%}
    {%- set bounds_sql -%}
        select
            cast(coalesce((select max(built_through) from {{ this }}), '-infinity'::timestamptz) as varchar),
            cast(coalesce((select max(loaded_at) from {{ submission_rows }}), '-infinity'::timestamptz) as varchar)
    {%- endset -%}
    {%- set bounds = run_query(bounds_sql).rows[0] -%}
    {%- set pairs_sql -%}
        select distinct period, unit_code
        from {{ submission_rows }}
        where loaded_at > cast('{{ bounds[0] }}' as timestamptz)
            and loaded_at <= cast('{{ bounds[1] }}' as timestamptz)
        order by period, unit_code
        limit {{ inline_pairs_limit() + 1 }}
    {%- endset -%}
    {%- set rows = run_query(pairs_sql).rows -%}
    {%- set pairs = [] -%}
    {%- for row in rows -%}
        {%- do pairs.append((row[0] | int, row[1])) -%}
    {%- endfor -%}
    {{ return({
        'since': bounds[0],
        'through': bounds[1],
        'pairs': pairs if pairs | length <= inline_pairs_limit() else none
    }) }}
{%- endmacro %}

{#- A CTE body: the (period, unit_code) pairs to (re)compute in this run. -#}
{% macro changed_unit_periods(new_answers) -%}
    {%- if new_answers is none -%}
    select distinct period, unit_code
    from {{ ref('stg_portal__submission_rows') }}
    {%- elif new_answers.pairs is none -%}
    select distinct period, unit_code
    from {{ ref('stg_portal__submission_rows') }}
    where loaded_at > cast('{{ new_answers.since }}' as timestamptz)
        and loaded_at <= cast('{{ new_answers.through }}' as timestamptz)
    {%- elif new_answers.pairs | length == 0 -%}
    select cast(null as integer) as period, cast(null as varchar) as unit_code
    where false
    {%- else -%}
    select * from (
        values
        {%- for period, unit_code in new_answers.pairs %}
        ({{ period }}, {{ sql_text(unit_code) }}){{ "," if not loop.last }}
        {%- endfor %}
    ) as pairs (period, unit_code)
    {%- endif %}
{%- endmacro %}

{#- The column every incremental model carries: how far into raw.submission_rows it was built. -#}
{% macro built_through(new_answers) -%}
    {%- if new_answers is none -%}
    (select coalesce(max(loaded_at), '-infinity'::timestamptz) from {{ ref('stg_portal__submission_rows') }})
    {%- else -%}
    cast('{{ new_answers.through }}' as timestamptz)
    {%- endif %}
{%- endmacro %}

{#- Incremental models that keep a row for units with no answer (not submitted) need every
    unit-period on the first build, and only the changed ones afterwards. -#}
{% macro is_changed_or_full_build(alias, new_answers) -%}
    {%- if new_answers is none -%}
    true
    {%- else -%}
    {%- if new_answers.pairs is not none and new_answers.pairs | length > 0 -%}
    {{ alias }}.period in ({{ new_answers.pairs | map(attribute=0) | unique | join(', ') }})
    and {{ alias }}.unit_code in (
        {%- for unit_code in new_answers.pairs | map(attribute=1) | unique -%}
        {{ sql_text(unit_code) }}{{ ", " if not loop.last }}
        {%- endfor -%}
    )
    and
    {% endif -%}
    exists (
        select 1 from changed
        where changed.period = {{ alias }}.period and changed.unit_code = {{ alias }}.unit_code
    )
    {%- endif %}
{%- endmacro %}

{#- A string literal. -#}
{% macro sql_text(value) -%}
    '{{ value | replace("'", "''") }}'
{%- endmacro %}

{#- is_incremental(), safe where `this` is not a relation (dbt unit tests). -#}
{% macro is_incremental_run() -%}
    {{ return(this is not none and is_incremental()) }}
{%- endmacro %}
