"""kill -9 of a server while clients commit W1-style transactions (one durable `CREATE (:Person {...})` per
auto-commit transaction, as the shared bench's W1) into a preallocated transaction log (`dbms.tx_log.preallocate`,
docs/transaction-log.md): every acknowledged commit is there after recovery, over several kill/restart rounds."""
import glob
import os
import random
import shutil
import signal
import subprocess
import tempfile
import threading
import time

from neo4j import GraphDatabase

from conftest import TRELLIS_BIN, free_port, server_env, wait_for_port

W1 = "CREATE (:Person {id: $id, name: $n, age: $a, city: $c})"


def start(home, bolt, http):
    env = server_env(home, bolt, http, TRELLIS_dbms_tx__log_preallocate="true")
    proc = subprocess.Popen([TRELLIS_BIN, "console"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wait_for_port(bolt, proc)
    return proc


def writer(bolt, first_id, acknowledged, lock, stop):
    """Commits W1 transactions until the server dies or `stop` is set; records each id once the commit returned."""
    try:
        with GraphDatabase.driver(f"bolt://127.0.0.1:{bolt}", auth=None) as driver, driver.session() as session:
            i = first_id
            while not stop.is_set():
                session.run(W1, id=i, n=f"w{i}", a=i % 90, c="C1").consume()
                with lock:
                    acknowledged.add(i)
                i += 1
    except Exception:  # the kill: the connection drops mid-commit
        pass


def test_kill_minus_9_during_w1_commits_loses_no_acknowledged_commit_with_a_preallocated_log():
    seed = random.randrange(1 << 30)
    print(f"log kill test seed {seed}")
    rng = random.Random(seed)
    home = tempfile.mkdtemp(prefix="trellis-logkill-")
    bolt, http = free_port(), free_port()
    acknowledged, lock = set(), threading.Lock()
    proc = None
    try:
        rounds, writers = 3, 2
        for round_ in range(rounds):
            proc = start(home, bolt, http)
            stop = threading.Event()
            threads = [threading.Thread(target=writer, args=(bolt, (round_ * writers + w) * 1_000_000, acknowledged,
                                                             lock, stop)) for w in range(writers)]
            for t in threads:
                t.start()
            # Bounded wait for some progress, then kill at a random moment while both clients commit.
            with lock:
                target = len(acknowledged) + 30
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                with lock:
                    if len(acknowledged) >= target:
                        break
                time.sleep(0.01)
            time.sleep(rng.uniform(0, 0.05))
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
            stop.set()
            for t in threads:
                t.join(timeout=30)
            assert len(acknowledged) >= target, f"round {round_}: the clients made no progress"
        # The log was preallocated: its file is larger than the few kilobytes of entries (1 MiB zero-filled).
        logs = glob.glob(os.path.join(home, "data", "databases", "graph.db", "neostore.transaction.db.*"))
        assert logs and max(os.path.getsize(p) for p in logs) > 1 << 20, logs
        proc = start(home, bolt, http)
        with GraphDatabase.driver(f"bolt://127.0.0.1:{bolt}", auth=None) as driver:
            ids = [r["id"] for r in driver.execute_query("MATCH (p:Person) RETURN p.id AS id").records]
        print(f"log kill test: {rounds} kills, {len(acknowledged)} acknowledged commits, {len(ids)} present, "
              f"log files {sorted(os.path.getsize(p) for p in logs)} bytes")
        assert len(ids) == len(set(ids)), "no commit was applied twice"
        missing = acknowledged - set(ids)
        assert not missing, f"acknowledged commits lost: {sorted(missing)[:10]} (seed {seed})"
        # Beyond the acknowledged ones, at most the commits in flight at each kill (one per client).
        assert len(ids) <= len(acknowledged) + rounds * writers
    finally:
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(home, ignore_errors=True)
