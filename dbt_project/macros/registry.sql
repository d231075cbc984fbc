{#- A registry column added after the first registries were written: the column when the
    seed file has it, else `default`. Operators keep their own registry folders for years
    (DTI_REGISTRY_DIR), so a new optional column must not make an older folder unusable. -#}
{% macro optional_registry_column(relation, column, default) -%}
    {%- if execute -%}
        {%- set names = adapter.get_columns_in_relation(relation)
            | map(attribute='name') | map('lower') | list -%}
        {%- if column | lower in names -%}{{ column }}{%- else -%}{{ default }}{%- endif -%}
    {%- else -%}{{ default }}{%- endif -%}
{%- endmacro %}
