"""The DTI pipeline translated to Airflow: triggers, assets, task bodies and callbacks.

The DAG files in ``dags/`` only declare schedules and wiring; what they run lives here, so that
it is importable by the triggerer and tested without a running Airflow. Every task body calls a
job of ``pipeline.jobs``; nothing here reaches into a flow package (an import-linter contract).
"""
