# The front door. `make demo` and `make test` are the two commands of the README.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_PERIODS ?= 2023 2024 2025
BENCH_BEFORE ?=

.PHONY: venv demo test test-fast lint format airflow airflow-cli bench bench-rush bench-xlsx services browser lock clean

venv: $(STAMP)

# The runtime and the development tools (requirements-dev.lock); the Docker image installs the
# runtime alone (requirements.lock). Both are checked against their hashes.
$(STAMP): requirements-dev.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python --require-hashes -r requirements-dev.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $(STAMP)

# The bundled HCMC samples of 2023, 2024 and 2025 in one warehouse and one site (out/): one
# run publishes every period and prints each period's ranking per block.
demo: venv
	rm -rf scratch/demo
	for period in $(DEMO_PERIODS); do \
	    $(BIN)/dti sample --period $$period --inbox scratch/demo/inbox || exit 1; done
	$(BIN)/dti run $(addprefix --period ,$(DEMO_PERIODS)) --inbox scratch/demo/inbox \
	    --warehouse scratch/demo/warehouse.duckdb --out out --show-ranking

# Services the tests talk to for real (PostgreSQL, Redis) and the browser they drive.
services:
	bash scripts/ensure_services.sh

browser:
	bash scripts/ensure_browser.sh

test: venv services browser
	$(BIN)/lint-imports
	bash scripts/run_tests.sh

# The suite without the tests that start Airflow, servers or a browser.
test-fast: venv
	$(BIN)/python -m pytest -m "not e2e and not browser and not slow"

lint: venv
	$(BIN)/lint-imports
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	mkdir -p scratch
	# sqlfluff parses the profile, which reads these from dti.settings when dbt really runs
	cd dbt_project && DTI_WAREHOUSE=$(CURDIR)/scratch/lint.duckdb DTI_DUCKDB_MEMORY_LIMIT=1GB \
	    ../$(BIN)/sqlfluff lint models

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

airflow: venv services
	bash scripts/airflow_local.sh

# Any airflow command against the stack `make airflow` runs, from a second terminal (its
# metadata database, AIRFLOW_HOME and keys), e.g.
#   make airflow-cli ARGS="backfill create --dag-id dti_rerun --from-date 2023-01-01 --to-date 2025-01-01"
airflow-cli: venv
	bash scripts/airflow_local.sh cli $(ARGS)

# BENCH_UNITS=1000 for a development run; BENCH_BEFORE=<git revision> also measures that
# revision's `dti run` side by side (before/after ratios from one run on one machine)
bench: venv
	BENCH_BEFORE=$(BENCH_BEFORE) $(BIN)/python -m bench.run

# The deadline rush on a real Airflow stack (PostgreSQL, Redis): RUSH_ARGS="--submissions 100
# --minutes 3" for a small one. Writes its figures next to make bench's in bench/results.json.
bench-rush: venv services
	$(BIN)/python -m bench.rush $(RUSH_ARGS)

# The workbook writer's peak memory on 500,000 answer rows, beside BENCH_BEFORE's writer
bench-xlsx: venv
	BENCH_BEFORE=$(BENCH_BEFORE) $(BIN)/python -m bench.xlsx_memory

# From pyproject.toml: the runtime (project.dependencies) and runtime + dev group, each for
# every supported Python (--universal from 3.11), with hashes. A version already locked stays
# unless a requirement moves it, so the two files agree on every package they share.
LOCK := $(BIN)/uv pip compile pyproject.toml --quiet --universal --python-version 3.11 --generate-hashes
lock: venv
	$(LOCK) -o requirements.lock
	$(LOCK) --group dev -o requirements-dev.lock

clean:
	rm -rf scratch out dbt_project/target dbt_project/logs
