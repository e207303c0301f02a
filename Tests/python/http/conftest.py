"""Fixtures for the HTTP API suite: real `trellis console` processes on free loopback ports with a temporary
TRELLIS_HOME, stopped (SIGTERM, then SIGKILL) and cleaned up after use."""
import os
import shutil
import subprocess
import sys
import tempfile
import time

import pytest
import requests

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from trellis_process import START_TIMEOUT, TRELLIS_BIN, env_name, free_port, stop_process  # noqa: E402

PASSWORD = "http-suite-password"


class Trellis:
    """One server process. HTTP is what this suite needs, so start-up waits for the HTTP port."""

    def __init__(self, settings=None, password=PASSWORD):
        self.home = tempfile.mkdtemp(prefix="trellis-http-")
        self.http_port = free_port()
        self.bolt_port = free_port()
        self.password = password
        self.env = dict(os.environ)
        self.env.update({
            "TRELLIS_HOME": self.home,
            "TRELLIS_dbms_connector_http_listen__address": f"127.0.0.1:{self.http_port}",
            "TRELLIS_dbms_connector_bolt_listen__address": f"127.0.0.1:{self.bolt_port}",
            "TRELLIS_dbms_connector_bolt_tls__level": "DISABLED",
        })
        if password is None:
            self.env["TRELLIS_dbms_security_auth__enabled"] = "false"
        for name, value in (settings or {}).items():
            self.env[env_name(name)] = value
        self.proc = None
        try:
            if password is not None:
                subprocess.run([TRELLIS_BIN, "admin", "set-initial-password", password], env=self.env, check=True,
                               capture_output=True, timeout=60)
            self.stderr = open(os.path.join(self.home, "console.err"), "w+")
            self.proc = subprocess.Popen([TRELLIS_BIN, "console"], env=self.env, stdout=subprocess.DEVNULL,
                                         stderr=self.stderr)
            self._wait_for_http()
        except Exception:
            self.stop()
            raise

    def _wait_for_http(self):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.stderr.seek(0)
                raise RuntimeError(f"trellis console exited with {self.proc.returncode} during start-up:\n"
                                   + self.stderr.read()[-4000:])
            try:
                requests.get(self.url("/"), timeout=1)
                return
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError(f"trellis console did not answer HTTP on 127.0.0.1:{self.http_port} "
                           f"within {START_TIMEOUT}s (is the HTTP connector wired?)")

    def url(self, path):
        return f"http://127.0.0.1:{self.http_port}{path}"

    @property
    def auth(self):
        return ("neo4j", self.password) if self.password is not None else None

    def post(self, path, body=None, **kwargs):
        kwargs.setdefault("auth", self.auth)
        return requests.post(self.url(path), json=body, timeout=30, **kwargs)

    def commit(self, *statements, db_path="/db/neo4j/tx/commit"):
        """Runs statements (text, or (text, params), or dicts) in one auto-commit request; returns the JSON."""
        items = []
        for s in statements:
            if isinstance(s, dict):
                items.append(s)
            elif isinstance(s, tuple):
                items.append({"statement": s[0], "parameters": s[1]})
            else:
                items.append({"statement": s})
        r = self.post(db_path, {"statements": items})
        assert r.status_code == 200, r.text
        return r.json()

    def log(self, name):
        path = os.path.join(self.home, "logs", name)
        return open(path).read() if os.path.exists(path) else ""

    def stop(self):
        stop_process(self.proc)
        shutil.rmtree(self.home, ignore_errors=True)


@pytest.fixture(scope="session")
def server():
    s = Trellis(settings={"dbms.logs.http.enabled": "true"})
    yield s
    s.stop()


@pytest.fixture
def clean(server):
    body = server.commit("MATCH (n) DETACH DELETE n")
    assert body["errors"] == [], body
    return server
