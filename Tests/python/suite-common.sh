# Sourced by the Tests/python/run_*.sh runners (not a runner itself: scripts/test runs only run_*.sh).
# Sets ROOT and TRELLIS_BIN, moves to the repository root, and stops with a clear message when the debug build
# (made by scripts/test) is missing.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
export TRELLIS_BIN="${TRELLIS_BIN:-$ROOT/.build/debug/trellis}"
if [ ! -x "$TRELLIS_BIN" ]; then
    echo "$(basename "$0"): $TRELLIS_BIN is missing; build first (swift build --product trellis)" >&2
    exit 1
fi

# suite_venv <dir> <pinned package>...: creates the venv when missing and installs the pins (quiet, a no-op when
# already installed).
suite_venv() {
    local venv="$1"
    shift
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "$@"
}
