#!/usr/bin/env bash
# Metrics suite: a real `trellis console` process (.build/debug/trellis, built by scripts/test) on free loopback ports
# with the Prometheus endpoint and the CSV reporter on, driven over Bolt by the official Python driver. Uses the venv
# .venv-tests at the repository root.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
export TRELLIS_BIN="${TRELLIS_BIN:-$ROOT/.build/debug/trellis}"
if [ ! -x "$TRELLIS_BIN" ]; then
    echo "run_metrics.sh: $TRELLIS_BIN is missing; build first (swift build --product trellis)" >&2
    exit 1
fi
venv="$ROOT/.venv-tests"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "neo4j==6.4.1" "pytest==9.2.0"
"$venv/bin/python" -m pytest -q -p no:cacheprovider "$ROOT/Tests/python/metrics" "$@"
