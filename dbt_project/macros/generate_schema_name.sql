{#- Schemas are named for the layer (registry, staging, intermediate, marts), not prefixed by the
    target schema, so operators and the GX suites find the same names in every warehouse. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}{{ target.schema }}{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}
