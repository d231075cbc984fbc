"""Airflow-specific logic of the DTI pipeline: triggers, assets, task bodies and callbacks.

The DAG files in ``dags/`` only declare schedules and wiring; everything they run lives here
so that it is importable by the triggerer and tested without a running Airflow.
"""
