#!/usr/bin/env bash
# `make test`: the e2e tests (Airflow stacks, servers, Chromium; marked `e2e`) and the few
# slowest others (marked `slow`) run one after another in one pytest process while the rest
# of the suite runs in a second one beside it. Two processes rather than one, because most of
# an e2e test's time is spent waiting for the stack it started, and two stacks at once would
# only fight for the two cores and the ports; the `slow` ones fill the first process's idle
# core so that both end at about the same time. Its output is printed when both are done;
# the exit status is the worse of the two.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
work=$(mktemp -d /tmp/dti-tests.XXXXXX)
trap 'kill "${e2e_pid:-}" 2>/dev/null; rm -rf "$work"' EXIT

"$PY" -m pytest -m "e2e or slow" --durations=20 --basetemp="$work/e2e" "$@" >"$work/e2e.log" 2>&1 &
e2e_pid=$!
"$PY" -m pytest -m "not e2e and not slow" --durations=20 --basetemp="$work/rest" "$@"
rest=$?
wait "$e2e_pid"
e2e=$?
e2e_pid=
echo
echo "=== the e2e and slow tests (pytest -m 'e2e or slow') ==="
cat "$work/e2e.log"
echo "=== exit: rest of the suite $rest, e2e $e2e ==="
# pytest exits 5 when a selection is empty (e.g. -k matching only one half): that is no failure
[ "$rest" -eq 5 ] && rest=0
[ "$e2e" -eq 5 ] && e2e=0
exit $(( rest > e2e ? rest : e2e ))
