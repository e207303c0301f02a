#!/usr/bin/env bash
# openCypher TCK through Bolt: starts `trellis console` on a free port, runs ../shared/tck/tck_runner.py (or
# $TRELLIS_TCK_DIR) with --min-passed from Tests/tck-bolt-floor.txt (a floor that only rises), stops the server.
# The server runs with trellis.testing.procedures.enabled=true so the TCK's "there exists a procedure" fixtures are
# registered through trellis.testing.registerProcedure (conformance testing only; off by default).
# Extra arguments go to the runner (e.g. --filter clauses/match -v); failing scenarios are listed by default.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
TCK_DIR="${TRELLIS_TCK_DIR:-$ROOT/../shared/tck}"
[ -f "$TCK_DIR/tck_runner.py" ] || TCK_DIR="/work/shared/tck"
if [ ! -f "$TCK_DIR/tck_runner.py" ]; then
    echo "######## SKIPPED: openCypher TCK not found (set TRELLIS_TCK_DIR or put shared/tck beside the repo) ########"
    exit 0
fi
BIN="${TRELLIS_BIN:-$ROOT/.build/debug/trellis}"
FLOOR=$(tr -dc '0-9' < "$ROOT/Tests/tck-bolt-floor.txt" 2>/dev/null || true)
FLOOR=${FLOOR:-0}
venv="$ROOT/.venv-tests-6"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "neo4j==6.4.1"

HOME_DIR=$(mktemp -d /tmp/trellis-tck.XXXXXX)
# trellis.* settings are not reachable through TRELLIS_* variables, so this one goes in the instance's trellis.conf.
mkdir -p "$HOME_DIR/conf"
echo "trellis.testing.procedures.enabled=true" > "$HOME_DIR/conf/trellis.conf"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
HTTP_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
TRELLIS_HOME="$HOME_DIR" TRELLIS_dbms_security_auth__enabled=false \
TRELLIS_dbms_connector_bolt_listen__address="127.0.0.1:$PORT" \
TRELLIS_dbms_connector_http_listen__address="127.0.0.1:$HTTP_PORT" \
TRELLIS_dbms_connector_bolt_tls__level=DISABLED \
    "$BIN" console >"$HOME_DIR/console.out" 2>&1 &
PID=$!
cleanup() {
    kill -TERM "$PID" 2>/dev/null || true
    for _ in $(seq 1 200); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$PID" 2>/dev/null || true
    rm -rf "$HOME_DIR"
}
trap cleanup EXIT
for _ in $(seq 1 600); do
    (echo > "/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
    kill -0 "$PID" 2>/dev/null || { cat "$HOME_DIR/console.out"; echo "trellis exited during start-up"; exit 1; }
    sleep 0.1
done
echo "TCK via Bolt on 127.0.0.1:$PORT, floor $FLOOR passed"
"$venv/bin/python" "$TCK_DIR/tck_runner.py" --uri "bolt://127.0.0.1:$PORT" --features "$TCK_DIR/features" \
    --procedure-query 'CALL trellis.testing.registerProcedure($signature, $header, $rows)' \
    --min-passed "$FLOOR" "$@"
