#!/usr/bin/env bash
# `make test`: three pytest processes side by side, each printed when all are done.
#   - the e2e tests (Airflow stacks, servers, Chromium; marked `e2e`), one after another:
#     two stacks at once would only fight for the cores and the ports;
#   - the tests of the roof (tests/pipeline, marked `pipeline` by tests/conftest.py): whole
#     runs of the samples, the heaviest half of the rest;
#   - everything else.
# Three rather than two: an e2e test spends most of its time waiting for the stack it started
# and a run for dbt's and DuckDB's single-threaded parts, so two processes kept the two cores
# about 60 % busy (`/usr/bin/time make test`: 120 % CPU over 20 minutes).
# The exit status is the worst of the three.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
work=$(mktemp -d /tmp/dti-tests.XXXXXX)
trap 'kill ${pids:-} 2>/dev/null; rm -rf "$work"' EXIT

names=(e2e pipeline rest)
selections=("e2e" "pipeline and not e2e" "not pipeline and not e2e")
pids=""
for k in 0 1 2; do
    "$PY" -m pytest -m "${selections[$k]}" --durations=15 --basetemp="$work/${names[$k]}" "$@" \
        >"$work/${names[$k]}.log" 2>&1 &
    pids="$pids $!"
done
worst=0
k=0
for pid in $pids; do
    wait "$pid"
    status=$?
    # pytest exits 5 when a selection is empty (e.g. -k matching one part only): no failure
    [ "$status" -eq 5 ] && status=0
    statuses[$k]=$status
    [ "$status" -gt "$worst" ] && worst=$status
    k=$((k + 1))
done
pids=""
for k in 0 1 2; do
    echo
    echo "=== ${names[$k]}: pytest -m '${selections[$k]}' (exit ${statuses[$k]}) ==="
    cat "$work/${names[$k]}.log"
done
echo "=== exit: e2e ${statuses[0]}, pipeline ${statuses[1]}, rest ${statuses[2]} ==="
exit "$worst"
