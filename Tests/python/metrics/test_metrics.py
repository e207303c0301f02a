"""Metrics end to end (docs/monitoring.md): a real `trellis console` with the Prometheus endpoint and the CSV
reporter on; write transactions over Bolt must move `neo4j.transaction.committed` in both, and the page cache and
Bolt counters must be there and plausible. Waits are bounded polls, never fixed sleeps."""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import pytest
from neo4j import GraphDatabase

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from trellis_process import START_TIMEOUT, TRELLIS_BIN, env_name, free_port, stop_process  # noqa: E402

WRITES = 25


class Server:
    def __init__(self):
        self.home = tempfile.mkdtemp(prefix="trellis-metrics-")
        self.bolt_port = free_port()
        self.prometheus_port = free_port()
        self.env = dict(os.environ)
        settings = {
            "dbms.connector.bolt.listen_address": f"127.0.0.1:{self.bolt_port}",
            "dbms.connector.bolt.tls_level": "DISABLED",
            "dbms.connector.http.enabled": "false",
            "dbms.security.auth_enabled": "false",
            "metrics.prometheus.enabled": "true",
            "metrics.prometheus.endpoint": f"127.0.0.1:{self.prometheus_port}",
            "metrics.csv.enabled": "true",
            "metrics.csv.interval": "200ms",
        }
        for name, value in settings.items():
            self.env[env_name(name)] = value
        self.env["TRELLIS_HOME"] = self.home
        self.stderr = open(os.path.join(self.home, "console.err"), "w+")
        self.proc = subprocess.Popen([TRELLIS_BIN, "console"], env=self.env, stdout=subprocess.DEVNULL,
                                     stderr=self.stderr)
        try:
            self.wait_until(lambda: self.scrape() is not None, START_TIMEOUT, "the Prometheus endpoint to answer")
        except Exception:
            self.stop()
            raise

    def wait_until(self, condition, timeout, what):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.stderr.seek(0)
                raise RuntimeError(f"trellis exited with {self.proc.returncode}:\n" + self.stderr.read()[-4000:])
            value = condition()
            if value:
                return value
            time.sleep(0.05)
        raise AssertionError(f"timed out after {timeout}s waiting for {what}")

    def scrape(self):
        """Metric name -> (type, value) from the Prometheus endpoint, or None while it does not answer."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.prometheus_port}/metrics", timeout=2) as r:
                assert r.status == 200
                assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
                text = r.read().decode()
        except (urllib.error.URLError, ConnectionError, socket.timeout):
            return None
        types, values = {}, {}
        for line in text.splitlines():
            if line.startswith("# TYPE "):
                _, _, name, kind = line.split(" ")
                types[name] = kind
            elif line and not line.startswith("#"):
                name, value = line.split(" ")
                values[name] = float(value)
        return {name: (types.get(name), value) for name, value in values.items()}

    def csv_last(self, name):
        """(header, last value) of a metric's CSV file, or None before its first report."""
        path = os.path.join(self.home, "metrics", name + ".csv")
        if not os.path.exists(path):
            return None
        lines = open(path).read().splitlines()
        if len(lines) < 2:
            return None
        t, value = lines[-1].split(",")
        assert abs(int(t) - time.time()) < 120, lines[-1]  # epoch seconds
        return lines[0], float(value)

    def stop(self):
        stop_process(self.proc)
        self.stderr.close()
        shutil.rmtree(self.home, ignore_errors=True)


@pytest.fixture(scope="module")
def server():
    s = Server()
    yield s
    s.stop()


def test_writes_move_committed_in_prometheus_and_csv(server):
    before = server.scrape()
    committed_before = before["neo4j_transaction_committed"][1]
    csv_before = server.wait_until(lambda: server.csv_last("neo4j.transaction.committed"), 10, "the first CSV line")
    assert csv_before[0] == "t,count"

    with GraphDatabase.driver(f"bolt://127.0.0.1:{server.bolt_port}", auth=None) as driver:
        with driver.session() as session:
            for i in range(WRITES):
                session.execute_write(lambda tx, i=i: tx.run("CREATE (:Metric {i: $i})", i=i).consume())

    after = server.wait_until(
        lambda: (m := server.scrape()) and m["neo4j_transaction_committed"][1] >= committed_before + WRITES and m,
        10, f"neo4j_transaction_committed to grow by {WRITES}")
    assert after["neo4j_transaction_committed"][0] == "counter"
    assert after["neo4j_transaction_committed_write"][1] >= WRITES
    assert after["neo4j_transaction_last_committed_tx_id"][1] >= WRITES
    assert after["neo4j_ids_in_use_node"] == ("gauge", WRITES)
    server.wait_until(
        lambda: (c := server.csv_last("neo4j.transaction.committed")) and c[1] >= csv_before[1] + WRITES,
        10, f"the committed CSV file to grow by {WRITES}")

    # Page cache: the writes and reads touched pages; the ratios are ratios.
    assert after["neo4j_page_cache_hits"][0] == "counter"
    assert after["neo4j_page_cache_hits"][1] > 0
    assert after["neo4j_page_cache_pins"][1] >= after["neo4j_page_cache_hits"][1]
    assert 0 < after["neo4j_page_cache_hit_ratio"][1] <= 1
    assert 0 < after["neo4j_page_cache_usage_ratio"][1] <= 1
    gauge = server.wait_until(lambda: server.csv_last("neo4j.page_cache.usage_ratio"), 10, "a gauge CSV file")
    assert gauge[0] == "t,value"

    # Bolt: at least one connection, and every transaction took several messages (BEGIN, RUN, PULL, COMMIT).
    assert after["neo4j_bolt_connections_opened"][1] >= 1
    assert after["neo4j_bolt_messages_received"][1] >= 4 * WRITES
    assert after["neo4j_bolt_messages_done"][1] >= 4 * WRITES
    assert after["neo4j_bolt_messages_failed"][1] == 0
    assert after["neo4j_bolt_connections_running"][0] == "gauge"

    # The process stand-ins for the JVM metrics.
    assert after["trellis_process_resident_memory"][1] > 1 << 20
    assert after["trellis_process_threads"][1] >= 2


def test_failed_messages_and_closed_connections_are_counted(server):
    before = server.scrape()
    with GraphDatabase.driver(f"bolt://127.0.0.1:{server.bolt_port}", auth=None) as driver:
        with driver.session() as session:
            with pytest.raises(Exception):
                session.run("THIS IS NOT CYPHER").consume()
    after = server.wait_until(
        lambda: (m := server.scrape())
        and m["neo4j_bolt_connections_closed"][1] >= before["neo4j_bolt_connections_closed"][1] + 1 and m,
        10, "the closed connection to be counted")
    assert after["neo4j_bolt_messages_failed"][1] >= before["neo4j_bolt_messages_failed"][1] + 1
    assert after["neo4j_bolt_connections_opened"][1] >= before["neo4j_bolt_connections_opened"][1] + 1
