#!/usr/bin/env bash
# HTTP API suite: plain HTTP (requests), the Python 6.x driver over http://, and the /browser/ page in headless
# chromium, against real `trellis console` processes on free loopback ports (.build/debug/trellis, built by
# scripts/test). Installs what it needs: a venv .venv-tests at the repo root, and Debian's chromium if missing.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
export TRELLIS_BIN="${TRELLIS_BIN:-$ROOT/.build/debug/trellis}"
if [ ! -x "$TRELLIS_BIN" ]; then
    echo "run_http.sh: $TRELLIS_BIN is missing; build first (swift build --product trellis)" >&2
    exit 1
fi
venv="$ROOT/.venv-tests"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "requests==2.34.2" "pytest==9.2.0" "neo4j[http]==6.4.1"
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
    echo "run_http.sh: installing Debian's chromium for the browser check"
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
"$venv/bin/python" -m pytest -q -p no:cacheprovider "$ROOT/Tests/python/http" "$@"
