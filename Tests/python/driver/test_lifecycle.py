"""`trellis start|status|stop`, graceful SIGTERM and kill -9 through the server, with the driver checking data."""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from neo4j import GraphDatabase

from conftest import TRELLIS_BIN, free_port, server_env


def trellis(env, *args, timeout=120):
    return subprocess.run([TRELLIS_BIN, *args], env=env, capture_output=True, text=True, timeout=timeout)


# Auth is disabled on these servers; any basic credentials are accepted.
def count(bolt):
    with GraphDatabase.driver(f"bolt://127.0.0.1:{bolt}", auth=("neo4j", "unused")) as d:
        return d.execute_query("MATCH (n:Kept) RETURN count(n) AS c").records[0]["c"]


def test_start_status_stop_and_restart_keep_data():
    home = tempfile.mkdtemp(prefix="trellis-life-")
    bolt, http = free_port(), free_port()
    env = server_env(home, bolt, http)
    try:
        assert trellis(env, "status").returncode == 3
        started = trellis(env, "start")
        assert started.returncode == 0, started.stdout + started.stderr
        assert "Started trellis (pid" in started.stdout
        assert os.path.exists(os.path.join(home, "run", "trellis.pid"))
        status = trellis(env, "status")
        assert status.returncode == 0 and "running at pid" in status.stdout
        assert "already running" in trellis(env, "start").stdout
        again = trellis(env, "console", timeout=30)
        assert again.returncode == 1, "a second server on the same home must refuse to start"
        with GraphDatabase.driver(f"bolt://127.0.0.1:{bolt}", auth=("neo4j", "unused")) as d:
            d.execute_query("UNWIND range(1, 100) AS i CREATE (:Kept {i: i})")
        stopped = trellis(env, "stop")
        assert stopped.returncode == 0 and "stopped" in stopped.stdout
        assert trellis(env, "status").returncode == 3
        assert not os.path.exists(os.path.join(home, "run", "trellis.pid"))
        log = open(os.path.join(home, "logs", "trellis.log")).read()
        assert "Started." in log and "Stopped." in log
        assert trellis(env, "restart").returncode == 0
        assert count(bolt) == 100
    finally:
        trellis(env, "stop")
        shutil.rmtree(home, ignore_errors=True)


def test_kill_minus_9_loses_no_committed_transaction():
    home = tempfile.mkdtemp(prefix="trellis-kill-")
    bolt, http = free_port(), free_port()
    env = server_env(home, bolt, http)
    try:
        assert trellis(env, "start").returncode == 0
        with GraphDatabase.driver(f"bolt://127.0.0.1:{bolt}", auth=("neo4j", "unused")) as d:
            for i in range(50):
                d.execute_query("CREATE (:Kept {i: $i})", i=i)
        pid = int(open(os.path.join(home, "run", "trellis.pid")).read())
        os.kill(pid, signal.SIGKILL)
        for _ in range(100):
            try:
                os.kill(pid, 0)
                time.sleep(0.05)
            except ProcessLookupError:
                break
        assert trellis(env, "status").returncode == 3, "a pid file left by a killed server is stale"
        assert trellis(env, "start").returncode == 0
        assert count(bolt) == 50
        log = open(os.path.join(home, "logs", "trellis.log")).read()
        assert "Recovery completed: replayed" in log, "the start after kill -9 says it recovered"
    finally:
        trellis(env, "stop")
        shutil.rmtree(home, ignore_errors=True)


def test_bad_configuration_stops_start_up_with_file_and_line():
    home = tempfile.mkdtemp(prefix="trellis-conf-")
    try:
        os.makedirs(os.path.join(home, "conf"))
        with open(os.path.join(home, "conf", "trellis.conf"), "w") as f:
            f.write("# comment\ndbms.memory.pagecache.size=lots\n")
        result = trellis(server_env(home, free_port(), free_port()), "console", timeout=30)
        assert result.returncode == 1
        assert "trellis.conf:2" in result.stderr and "dbms.memory.pagecache.size" in result.stderr
    finally:
        shutil.rmtree(home, ignore_errors=True)


def test_start_with_a_taken_port_fails_naming_the_port_and_setting():
    """A port held by another process answers connections, so `trellis start` must not take an answering port for
    a started server: it waits for the server's own report and prints the server's reason."""
    home = tempfile.mkdtemp(prefix="trellis-port-")
    holder = socket.socket()
    try:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        env = server_env(home, taken, free_port())
        result = trellis(env, "start", "--timeout", "60")
        assert result.returncode == 1, result.stdout + result.stderr
        assert f"cannot listen for Bolt on 127.0.0.1:{taken} (dbms.connector.bolt.listen_address)" in result.stdout
        assert "Address already in use" in result.stdout
        assert "Started" not in result.stdout
        assert trellis(env, "status").returncode == 3
        os.makedirs(os.path.join(home, "data"), exist_ok=True)
        blocked = os.path.join(home, "data", "blocked")
        open(blocked, "w").close()  # a file where a folder must go: refused even for root
        env = server_env(home, free_port(), free_port(), TRELLIS_dbms_directories_data=blocked)
        result = trellis(env, "start", "--timeout", "60")
        assert result.returncode == 1, result.stdout + result.stderr
        assert f"cannot create the folder {blocked} (dbms.directories.data)" in result.stdout
        assert "Error Domain" not in result.stdout
    finally:
        holder.close()
        trellis(server_env(home, free_port(), free_port()), "stop")
        shutil.rmtree(home, ignore_errors=True)


def test_server_outlives_a_start_command_that_went_away():
    """`trellis start` waits on a pipe for the server's "started"; if it was interrupted meanwhile, the server's
    write to the closed pipe must not end the server."""
    home = tempfile.mkdtemp(prefix="trellis-ready-")
    bolt, http = free_port(), free_port()
    env = server_env(home, bolt, http)
    read_end, write_end = os.pipe()
    proc = subprocess.Popen(
        [TRELLIS_BIN, "console", "--daemon", "--ready-fd", "3"], env=env, stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, pass_fds=(write_end,),
        preexec_fn=lambda: os.dup2(write_end, 3))
    os.close(write_end)
    os.close(read_end)  # the launcher is gone before the server is ready
    try:
        deadline = time.monotonic() + 60
        while trellis(env, "status").returncode != 0:
            assert proc.poll() is None, f"the server exited with {proc.returncode}"
            assert time.monotonic() < deadline
            time.sleep(0.1)
        with socket.create_connection(("127.0.0.1", bolt), timeout=10):
            pass
        time.sleep(0.5)
        assert proc.poll() is None, f"the server exited with {proc.returncode}"
        assert count(bolt) == 0
        # This process is the server's parent here (not `trellis start`), so it reaps it: SIGTERM and wait.
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        shutil.rmtree(home, ignore_errors=True)
