#!/usr/bin/env bash
# `make airflow`: the DTI DAGs on a local Airflow 3.3.2, no Docker.
#
# Starts the API server (UI), scheduler (LocalExecutor), DAG processor and triggerer on
# 127.0.0.1 against the PostgreSQL metadata database $DTI_AIRFLOW_DB (created when missing),
# creates the `dti_duckdb` pool (one slot: DuckDB has one writer) and the Redis connection of
# the portal watcher, prints the UI address and login, and runs until Ctrl-C.
#
# `scripts/airflow_local.sh cli ARGS…` (`make airflow-cli ARGS="…"`) runs `airflow ARGS…` in
# another terminal against that running stack: the same metadata database, AIRFLOW_HOME and
# keys, as long as it is started with the same settings below.
#
# The pipeline reads DTI_INBOX, DTI_WAREHOUSE, DTI_OUT (and the other DTI_* settings) exactly
# like `dti run`; relative paths are taken from the repository root.
#   DTI_AIRFLOW_DB    metadata database name        (default dti_airflow_<8 hex of this checkout>)
#   DTI_AIRFLOW_PORT  UI/API port on 127.0.0.1      (default 8080)
#   AIRFLOW_HOME      config, logs, login secrets   (default ./airflow_home)
#   DTI_REDIS_URL     Redis for portal announcements (default redis://127.0.0.1:6379/0)
#   PGHOST/PGPORT/PGUSER/PGPASSWORD  PostgreSQL     (default 127.0.0.1:5432, postgres, trust)
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-.venv/bin/python}
export AIRFLOW_HOME=${AIRFLOW_HOME:-$PWD/airflow_home}
export DTI_INBOX=${DTI_INBOX:-data/inbox}
export DTI_WAREHOUSE=${DTI_WAREHOUSE:-data/warehouse.duckdb}
export DTI_OUT=${DTI_OUT:-data/out}
mkdir -p "$AIRFLOW_HOME" "$DTI_INBOX" "$(dirname "$DTI_WAREHOUSE")" "$DTI_OUT"

installed=$("$PYTHON" -c 'import importlib.metadata as m; print(m.version("apache-airflow"))')
pinned=$(sed -n 's/^apache-airflow==\([0-9.]*\).*/\1/p' requirements.lock | head -n 1)
if [[ -n "$pinned" && "$installed" != "$pinned" ]]; then
    echo "apache-airflow $installed is installed but requirements.lock pins $pinned; run make venv" >&2
    exit 1
fi

if [[ "${1:-}" == cli ]]; then
    shift
    exec "$PYTHON" -m orchestration.stack cli --home "$AIRFLOW_HOME" -- "$@"
fi
exec "$PYTHON" -m orchestration.stack up --home "$AIRFLOW_HOME"
