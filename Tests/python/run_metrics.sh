#!/usr/bin/env bash
# Metrics suite: a real `trellis console` process (.build/debug/trellis, built by scripts/test) on free loopback ports
# with the Prometheus endpoint and the CSV reporter on, driven over Bolt by the official Python driver. Uses the venv
# .venv-tests at the repository root.
set -euo pipefail
source "$(dirname "$0")/suite-common.sh"
venv="$ROOT/.venv-tests"
suite_venv "$venv" "neo4j==6.4.1" "pytest==9.2.0"
"$venv/bin/python" -m pytest -q -p no:cacheprovider "$ROOT/Tests/python/metrics" "$@"
