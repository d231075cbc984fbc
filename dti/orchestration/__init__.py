"""Where the Airflow integration lived before it moved to ``orchestration/`` (kept for one reason:
triggers that a running deployment stored under their old class path must still load)."""
