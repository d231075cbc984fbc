"""Airflow reads AIRFLOW_HOME on import: point it at a scratch folder before any test imports it."""

from __future__ import annotations

import os
import tempfile

if "AIRFLOW_HOME" not in os.environ:
    os.environ["AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="dti_airflow_home_")
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
