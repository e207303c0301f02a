"""Fixtures that run a real `trellis console` process per test module (or per test where the test changes
server state such as users), on free loopback ports, with a temporary TRELLIS_HOME, and always stop it."""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import pytest
from neo4j import GraphDatabase

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from trellis_process import TRELLIS_BIN, env_name, free_port, stop_process  # noqa: E402

PASSWORD = "test-password"


def server_env(home, bolt, http, **settings):
    """The environment for a `trellis` process of its own: home, loopback ports, auth and TLS off, plus `settings`
    (already in the TRELLIS_ form)."""
    env = dict(os.environ)
    env.update({
        "TRELLIS_HOME": home,
        "TRELLIS_dbms_connector_bolt_listen__address": f"127.0.0.1:{bolt}",
        "TRELLIS_dbms_connector_http_listen__address": f"127.0.0.1:{http}",
        "TRELLIS_dbms_security_auth__enabled": "false",
        "TRELLIS_dbms_connector_bolt_tls__level": "DISABLED",
    })
    env.update(settings)
    return env


def wait_for_port(port, proc, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"trellis exited with {proc.returncode} during start-up")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"trellis did not listen on {port} within {timeout}s")


class TrellisProcess:
    """One server: home folder, ports, process. `stop()` sends SIGTERM, then SIGKILL after 20 s."""

    def __init__(self, initial_password=PASSWORD, settings=None, prepare=None):
        self.home = tempfile.mkdtemp(prefix="trellis-driver-")
        self.bolt_port = free_port()
        self.http_port = free_port()
        self.env = dict(os.environ)
        self.env.update({
            "TRELLIS_HOME": self.home,
            "TRELLIS_dbms_connector_bolt_listen__address": f"127.0.0.1:{self.bolt_port}",
            "TRELLIS_dbms_connector_http_listen__address": f"127.0.0.1:{self.http_port}",
            "TRELLIS_dbms_connectors_default__advertised__address": "127.0.0.1",
            "TRELLIS_dbms_connector_bolt_tls__level": "DISABLED",
        })
        for k, v in (settings or {}).items():
            self.env[env_name(k)] = v
        if prepare:
            prepare(self)
        if initial_password is not None:
            subprocess.run([TRELLIS_BIN, "admin", "set-initial-password", initial_password], env=self.env,
                           check=True, capture_output=True)
        self.proc = subprocess.Popen([TRELLIS_BIN, "console"], env=self.env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        try:
            wait_for_port(self.bolt_port, self.proc)
            wait_for_port(self.http_port, self.proc)
            deadline = time.monotonic() + 30
            while "Started." not in self.log() and time.monotonic() < deadline:
                time.sleep(0.02)
        except Exception:
            self.stop()
            raise

    @property
    def uri(self):
        return f"bolt://127.0.0.1:{self.bolt_port}"

    @property
    def routing_uri(self):
        return f"neo4j://127.0.0.1:{self.bolt_port}"

    def log(self, name="trellis.log"):
        path = os.path.join(self.home, "logs", name)
        return open(path).read() if os.path.exists(path) else ""

    def stop_process_only(self):
        """Graceful stop that keeps the home folder (to read logs)."""
        stop_process(self.proc)

    def stop(self):
        stop_process(self.proc)
        shutil.rmtree(self.home, ignore_errors=True)


@pytest.fixture(scope="module")
def server():
    s = TrellisProcess()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def driver(server):
    d = GraphDatabase.driver(server.uri, auth=("neo4j", PASSWORD))
    yield d
    d.close()


@pytest.fixture
def clean(driver):
    driver.execute_query("MATCH (n) DETACH DELETE n")
    return driver
