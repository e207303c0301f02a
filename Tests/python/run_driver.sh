#!/usr/bin/env bash
# Compatibility tests with the official Neo4j Python driver, newest 6.x and the 5.28 line, each in its own venv
# (.venv-tests-6 / .venv-tests-5 at the repo root). Every test starts a real `trellis console`
# (.build/debug/trellis, built by scripts/test) on free loopback ports with a temporary TRELLIS_HOME.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
export TRELLIS_BIN="${TRELLIS_BIN:-$ROOT/.build/debug/trellis}"
if [ ! -x "$TRELLIS_BIN" ]; then
    echo "run_driver.sh: $TRELLIS_BIN is missing; build first (swift build --product trellis)" >&2
    exit 1
fi
status=0
for line in "6 neo4j==6.4.1" "5 neo4j==5.28.8"; do
    major=${line%% *}
    package=${line#* }
    venv="$ROOT/.venv-tests-$major"
    if [ ! -x "$venv/bin/python" ]; then
        python3 -m venv "$venv"
    fi
    # Quiet, pinned, and a no-op when already installed.
    "$venv/bin/pip" install --quiet --disable-pip-version-check "$package" "pytest==9.2.0" "pytz==2025.2"
    echo "--- driver $("$venv/bin/python" -c 'import neo4j; print(neo4j.__version__)')"
    "$venv/bin/python" -m pytest -q -p no:cacheprovider "$ROOT/Tests/python/driver" "$@" || status=1
done
exit $status
