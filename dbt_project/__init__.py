"""The dbt project (models, seeds, macros) and ``runner``, which runs it in-process."""
