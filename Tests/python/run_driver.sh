#!/usr/bin/env bash
# Compatibility tests with the official Neo4j Python driver, newest 6.x and the 5.28 line, each in its own venv
# (.venv-tests-6 / .venv-tests-5 at the repo root). Every test starts a real `trellis console`
# (.build/debug/trellis, built by scripts/test) on free loopback ports with a temporary TRELLIS_HOME.
set -euo pipefail
source "$(dirname "$0")/suite-common.sh"
status=0
for line in "6 neo4j==6.4.1" "5 neo4j==5.28.8"; do
    major=${line%% *}
    package=${line#* }
    venv="$ROOT/.venv-tests-$major"
    suite_venv "$venv" "$package" "pytest==9.2.0" "pytz==2025.2"
    echo "--- driver $("$venv/bin/python" -c 'import neo4j; print(neo4j.__version__)')"
    "$venv/bin/python" -m pytest -q -p no:cacheprovider "$ROOT/Tests/python/driver" "$@" || status=1
done
exit $status
