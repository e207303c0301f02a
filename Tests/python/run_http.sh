#!/usr/bin/env bash
# HTTP API suite: plain HTTP (requests), the Python 6.x driver over http://, and the /browser/ page in headless
# chromium, against real `trellis console` processes on free loopback ports (.build/debug/trellis, built by
# scripts/test). Installs what it needs: a venv .venv-tests at the repo root, and Debian's chromium if missing.
set -euo pipefail
source "$(dirname "$0")/suite-common.sh"
venv="$ROOT/.venv-tests"
suite_venv "$venv" "requests==2.34.2" "pytest==9.2.0" "neo4j[http]==6.4.1"
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
    echo "run_http.sh: installing Debian's chromium for the browser check"
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
"$venv/bin/python" -m pytest -q -p no:cacheprovider "$ROOT/Tests/python/http" "$@"
