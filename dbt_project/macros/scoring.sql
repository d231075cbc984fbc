{#- The scoring rules of docs/spec/results.md, written once. DuckDB's DECIMAL division returns
    DOUBLE, so every division on points goes through integer arithmetic here. -#}

{#- numerator / denominator, both non-negative DECIMALs with at most 6 decimals, rounded half
    up to `scale` decimals, exactly. -#}
{% macro divide_half_up(numerator, denominator, scale=2) -%}
    (cast(
        (cast(({{ numerator }}) * 1000000 as hugeint) * {{ 10 ** scale }} * 2
            + cast(({{ denominator }}) * 1000000 as hugeint))
        // (2 * cast(({{ denominator }}) * 1000000 as hugeint))
        as decimal(38, 0)) * cast('{{ "%.*f" | format(scale, 10 ** -scale) }}' as decimal(18, {{ scale }}))
    )
{%- endmacro %}

{#- A value as sent, read as a number: decimal comma or point. NULL when unreadable. -#}
{% macro parse_number(value) -%}
    try_cast(replace(trim({{ value }}), ',', '.') as decimal(18, 4))
{%- endmacro %}

{#- Round half up to 2 decimals (DuckDB rounds DECIMAL half away from zero: the same for
    non-negative points). -#}
{% macro round_points(points) -%}
    cast(round({{ points }}, 2) as decimal(9, 2))
{%- endmacro %}

{#- Exact comparison of total / applicable_max with a percentage threshold, no division. -#}
{% macro reaches_percent(total, applicable_max, threshold_pct) -%}
    ({{ total }} * 100 >= {{ threshold_pct }} * {{ applicable_max }})
{%- endmacro %}

{#- An integer that orders units exactly as total / applicable_max does (ties stay ties). -#}
{% macro percent_rank_key(total, applicable_max) -%}
    (cast({{ total }} * 100 as hugeint) * cast(1000000000000 as hugeint))
        // cast({{ applicable_max }} * 100 as hugeint)
{%- endmacro %}

{#- The smallest total, in hundredths of a point (an integer), whose ratio to applicable_max
    reaches numerator / denominator: the least c with c × denominator ≥ numerator ×
    applicable_max × 100, exactly (all three non-negative DECIMALs with at most 6 decimals,
    denominator > 0). A level threshold is numerator = from_pct, denominator = 100; another
    unit's ratio is its total over its applicable maximum. The margins of docs/spec/results.md
    §6a are differences between such totals and the unit's own. -#}
{% macro min_cents_reaching(numerator, denominator, applicable_max) -%}
    ((cast(({{ numerator }}) * 1000000 as hugeint) * cast(({{ applicable_max }}) * 100 as hugeint)
        + cast(({{ denominator }}) * 1000000 as hugeint) - 1)
        // cast(({{ denominator }}) * 1000000 as hugeint))
{%- endmacro %}

{#- Hundredths of a point (an integer) as decimal(9, 2) points. -#}
{% macro cents_to_points(cents) -%}
    cast(cast({{ cents }} as decimal(38, 0)) * cast('0.01' as decimal(18, 2)) as decimal(9, 2))
{%- endmacro %}
