#!/usr/bin/env bash
# HA failover drills: real three-member clusters of `trellis console` processes (.build/debug/trellis, built by
# scripts/test) on free loopback ports, driven through the official Neo4j Python driver: kill -9 of the master,
# SIGSTOP/SIGCONT of the master, a network partition (netns), latency and one-way loss through a TCP proxy
# (cluster/link_proxy.py), writes through slaves, loss of the majority, slave-only
# members, branched stores, strict push, routing. Uses the venv .venv-tests at the repository root. Prints each
# drill's failover time.
# Environment: TRELLIS_KEEP_CLUSTER=1 keeps the members' homes (under /tmp/trellis-cluster-*) for inspection.
set -euo pipefail
source "$(dirname "$0")/suite-common.sh"
venv="$ROOT/.venv-tests"
suite_venv "$venv" "neo4j==6.4.1" "pytest==9.2.0"

# A quick start of one HA member first: if this build cannot run dbms.mode=HA at all, say so once instead of
# letting every drill wait for a cluster that never forms.
if ! (cd "$ROOT/Tests/python/cluster" && "$venv/bin/python" ha_probe.py); then
    echo "run_cluster.sh: FAILED: an HA member could not be started (see above)" >&2
    exit 1
fi
"$venv/bin/python" -m pytest -q -s -rs -p no:cacheprovider "$ROOT/Tests/python/cluster" "$@"
