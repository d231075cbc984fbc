"""Benchmarks: national-scale figures measured side by side with the raw DuckDB floor."""
