#!/usr/bin/env bash
# Smoke test of the asv benchmark suite, for CI: every selected benchmark must
# run without error. Timings are not judged (one sample each, --quick).
#
#   PYTHON=/path/to/venv/bin/python bash asv_benchmarks/smoke.sh
#
# $PYTHON (default: python3) is an interpreter where fastdnn is installed; asv
# is installed into it if missing. The suite runs in that interpreter as an
# asv "existing" environment (--python=same), without network access. Runs
# the tiny size of every benchmark, all kernel benchmarks and all tracked
# values. Writes only below asv_benchmarks/.asv/ (results, log, Numba cache,
# bytecode) and asv's machine file (~/.asv-machine.json). BLAS threads:
# $FASTDNN_BENCH_THREADS, default 1 here (the suite's own default is 2).
# Exit status: non-zero if asv check fails or any benchmark fails.
set -euo pipefail

PYTHON="${PYTHON:-python3}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
STATE="$HERE/.asv"
LOG="$STATE/smoke.log"
mkdir -p "$STATE"

# Keep Numba's kernel cache and Python bytecode out of the source tree.
export NUMBA_CACHE_DIR="${NUMBA_CACHE_DIR:-$STATE/numba-cache}"
export PYTHONPYCACHEPREFIX="${PYTHONPYCACHEPREFIX:-$STATE/pycache}"
# One BLAS thread unless told otherwise: timings are not judged here, and two
# BLAS threads on a busy 2-core machine make some calls 100x slower.
export FASTDNN_BENCH_THREADS="${FASTDNN_BENCH_THREADS:-1}"

if ! "$PYTHON" -c "import asv" 2>/dev/null; then
    echo "smoke.sh: asv not found for $PYTHON; installing it (pip install 'asv>=0.6')"
    "$PYTHON" -m pip install --quiet 'asv>=0.6'
fi
# (from $HERE, so that a fastdnn/ source folder in the current directory does not count)
(cd "$HERE" && "$PYTHON" -c "import fastdnn") ||
    { echo "smoke.sh: fastdnn is not installed for $PYTHON" >&2; exit 1; }

CONFIG="$HERE/asv.conf.json"
# asv picks the commit to label the run from the configured branch ("main").
# In a checkout without a local "main" (detached HEAD, other branch name),
# use a copy of the configuration that names HEAD instead.
if ! git -C "$HERE/.." rev-parse --verify --quiet 'main^{commit}' >/dev/null; then
    CONFIG="$STATE/smoke.conf.json"
    "$PYTHON" - "$HERE/asv.conf.json" "$CONFIG" <<'EOF'
import json, sys
from asv.util import load_json
conf = load_json(sys.argv[1], api_version=1, js_comments=True)
conf.update(version=1, branches=["HEAD"], repo="../..", benchmark_dir="../benchmarks",
            env_dir="env", results_dir="results", html_dir="html")
with open(sys.argv[2], "w") as f:
    json.dump(conf, f, indent=4)
EOF
fi

asv() { "$PYTHON" -m asv "$@"; }
cd "$HERE"
start=$SECONDS

echo "== asv machine --yes"
asv machine --yes --config "$CONFIG" >/dev/null

echo "== asv check --python=same"
asv check --python=same --config "$CONFIG"

echo "== asv run --python=same --quick (tiny size, kernels, tracking)"
# asv >= 0.6 exits 2 when a benchmark fails (it has no --strict option any
# more); the log is also searched for "failed" in case an older asv exits 0.
set +e
asv run --python=same --quick --show-stderr --config "$CONFIG" \
    --bench "'tiny'" --bench '^kernels\.' --bench '^tracking\.' 2>&1 | tee "$LOG"
status=${PIPESTATUS[0]}
set -e

failures=$(grep -E '(^|[^a-z])failed([^a-z]|$)' "$LOG" || true)
if [ "$status" -ne 0 ] || [ -n "$failures" ]; then
    echo "smoke.sh: FAILED (asv run exit status $status); failing lines:" >&2
    [ -n "$failures" ] && echo "$failures" >&2
    exit 1
fi
ran=$(grep -cE '^\[[ 0-9.]+%\] ··· [A-Za-z_.]+ ' "$LOG" || true)
echo "smoke.sh: OK, $ran benchmarks ran without error in $((SECONDS - start)) s"
