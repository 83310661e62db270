#!/usr/bin/env bash
# Run the README's test command while two busy loops keep both cores busy, as on a loaded CI
# machine or a laptop doing something else: the suite must pass there too (no wall-clock
# thresholds, no real throttle sleeps). The loops are killed on exit, whatever happens.
#
#   scripts/stress-tests.sh                 # the whole suite
#   scripts/stress-tests.sh tests/test_x.py # extra arguments go to pytest
set -euo pipefail
cd "$(dirname "$0")/.."

python="${PYTHON:-.venv/bin/python}"
if [ ! -x "$python" ]; then
    echo "stress-tests: no $python; first: python3 -m venv .venv && .venv/bin/pip install -e \".[dev]\"" >&2
    exit 2
fi

busy=()
stop_busy() {
    for pid in "${busy[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${busy[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
}
trap stop_busy EXIT INT TERM

loops="${STRESS_LOOPS:-2}"
for _ in $(seq 1 "$loops"); do
    python3 -c "while True: pass" &
    busy+=("$!")
done
echo "stress-tests: $loops busy loops (pids ${busy[*]}) on $(nproc) cores" >&2

started=$(date +%s)
status=0
"$python" -m pytest -q "$@" || status=$?
echo "stress-tests: pytest exit $status after $(( $(date +%s) - started )) s under load" >&2
exit "$status"
