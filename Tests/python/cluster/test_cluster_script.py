"""scripts/cluster as docs/clustering.md and the README use it: start the three local members, status, kill -9 of
the master, a new master, stop, clean. On ports moved by TRELLIS_CLUSTER_PORT_OFFSET, in a run folder of its own."""
import os
import random
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
SCRIPT = os.path.join(ROOT, "scripts", "cluster")
# Every port cluster-configs/ uses (Bolt, HTTP, coordination, data, for all five files).
CONFIG_PORTS = [7687, 7688, 7689, 7690, 7474, 7475, 7476, 7477, 5001, 5002, 5003, 6001, 6002, 6003, 6004]


def free(port):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def free_offset():
    for _ in range(50):
        offset = random.randrange(20000, 55000, 10)
        if all(free(p + offset) for p in CONFIG_PORTS):
            return offset
    pytest.skip("no offset with every cluster port free")


def status_rows(out):
    """member name → (pid, role, bolt, http) from `scripts/cluster status`."""
    rows = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 6 and parts[0].isdigit():
            rows[parts[1]] = tuple(parts[2:])
    return rows


def test_start_status_kill_master_stop_clean():
    run = tempfile.mkdtemp(prefix="trellis-cluster-script-")
    offset = free_offset()
    env = dict(os.environ, TRELLIS_CLUSTER_RUN=run, TRELLIS_CLUSTER_PORT_OFFSET=str(offset), TRELLIS_CLUSTER_WAIT="60")

    def cluster(*args, timeout=120):
        return subprocess.run([SCRIPT, *args], env=env, capture_output=True, text=True, timeout=timeout)

    try:
        # Before anything runs, status shows the moved ports (it used to show cluster-configs/' own ones).
        rows = status_rows(cluster("status").stdout)
        assert rows["instance2"][2] == f"bolt://127.0.0.1:{7688 + offset}", rows
        assert rows["instance3"][3] == f"http://127.0.0.1:{7476 + offset}", rows
        started = cluster("start")
        assert started.returncode == 0, started.stdout + started.stderr
        rows = status_rows(started.stdout)
        masters = [m for m, r in rows.items() if r[1] == "master"]
        assert len(masters) == 1 and sorted(r[1] for r in rows.values()) == ["master", "slave", "slave"], rows
        old = masters[0]
        killed = cluster("kill", old[-1])
        assert killed.returncode == 0 and "SIGKILL" in killed.stdout
        deadline = time.monotonic() + 60
        while True:
            rows = status_rows(cluster("status").stdout)
            if rows[old][1] == "down" and [r[1] for m, r in rows.items() if m != old].count("master") == 1:
                break
            assert time.monotonic() < deadline, f"no new master after kill -9 of {old}: {rows}"
            time.sleep(0.5)
        stopped = cluster("stop")
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        assert all(r[0] == "-" for r in status_rows(cluster("status").stdout).values())
        assert "removed" in cluster("clean").stdout
        assert not os.path.exists(run)
    finally:
        cluster("clean")
        shutil.rmtree(run, ignore_errors=True)
