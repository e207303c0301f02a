"""A real Trellis HA cluster for the failover drills: one `trellis console` process per member, each with its own
temporary TRELLIS_HOME, its conf copied from cluster-configs/, and free loopback ports passed as TRELLIS_*
environment overrides. Everything here polls with a deadline; nothing relies on timing to be correct."""
import atexit
import concurrent.futures
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request

from neo4j import GraphDatabase

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "../../.."))
CONFIGS = os.path.join(ROOT, "cluster-configs")
TRELLIS_BIN = os.environ.get("TRELLIS_BIN", os.path.join(ROOT, ".build/debug/trellis"))
PASSWORD = "drill-password"
AUTH = ("neo4j", PASSWORD)

# Short failure detection so a drill fails over in about a second or two, but not so short that a loaded 2-core
# machine running a debug build suspects healthy members. Every drill waits with deadlines far above these.
HEARTBEAT_INTERVAL = os.environ.get("TRELLIS_DRILL_HEARTBEAT_INTERVAL", "250ms")
HEARTBEAT_TIMEOUT = os.environ.get("TRELLIS_DRILL_HEARTBEAT_TIMEOUT", "1500ms")

# Every wait in the drills is bounded by one of these.
FORM_TIMEOUT = 90.0
ELECTION_TIMEOUT = 45.0
CATCH_UP_TIMEOUT = 45.0


def env_name(setting):
    """`ha.tx_push_factor` → `TRELLIS_ha_tx__push__factor` (docs/configuration.md: `_` as `__`, `.` as `_`)."""
    return "TRELLIS_" + setting.replace("_", "__").replace(".", "_")


_used_ports = set()


def _ephemeral_range():
    try:
        low, high = open("/proc/sys/net/ipv4/ip_local_port_range").read().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def free_port():
    """A port nobody listens on now, below the kernel's ephemeral range: members connect to each other while they
    start, and an outgoing connection given a not-yet-bound member's port (possible with port 0 picks, which come
    from that range) would make that member fail to bind."""
    low, _ = _ephemeral_range()
    for _ in range(200):
        port = random.randrange(20000, min(low, 32768))
        if port in _used_ports:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _used_ports.add(port)
        return port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout, what, interval=0.1):
    """Polls `predicate` until it returns a truthy value (returned) or `timeout` seconds pass (AssertionError)."""
    deadline = time.monotonic() + timeout
    last_error = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except AssertionError:
            raise  # a check inside the predicate failed: that is the drill's verdict, not a reason to wait
        except Exception as error:  # a member that is restarting refuses connections for a while
            last_error = error
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_error!r})" if last_error else ""
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}{detail}")
        time.sleep(interval)


def within(seconds, function, *args):
    """Runs `function(*args)` on a helper thread and fails if it takes longer than `seconds` (a hung driver call
    must fail the drill, not the whole suite). The thread is left behind; cluster teardown unblocks it."""
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    try:
        return pool.submit(function, *args).result(timeout=seconds)
    except concurrent.futures.TimeoutError:
        raise AssertionError(f"{getattr(function, '__name__', 'call')} did not finish within {seconds}s")
    finally:
        pool.shutdown(wait=False)


class Member:
    """One cluster member: a home folder, four ports, and (while running) a `trellis console` process."""

    #: Address every port of the member binds and advertises; a subclass may put members on other hosts.
    host = "127.0.0.1"
    #: Prepended to the trellis command line (e.g. `ip netns exec <namespace>`).
    command_prefix = ()

    def __init__(self, cluster, name, template, settings):
        self.cluster = cluster
        self.name = name
        self.template = template
        self.home = os.path.join(cluster.root, name)
        self.arbiter = template == "arbiter"
        self.bolt_port = free_port()
        self.http_port = free_port()
        self.coordination_port = free_port()
        self.data_port = free_port()
        self.settings = dict(settings)
        self.proc = None
        self.paused = False
        self.should_run = False
        os.makedirs(os.path.join(self.home, "conf"), exist_ok=True)
        shutil.copy(os.path.join(CONFIGS, template + ".conf"), os.path.join(self.home, "conf", "trellis.conf"))

    @property
    def coordination_address(self):
        return f"{self.host}:{self.coordination_port}"

    @property
    def uri(self):
        return f"bolt://{self.host}:{self.bolt_port}"

    @property
    def routing_uri(self):
        return f"neo4j://{self.host}:{self.bolt_port}"

    @property
    def database_directory(self):
        return os.path.join(self.home, "data", "databases", "graph.db")

    def environment(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRELLIS_")}
        env["TRELLIS_HOME"] = self.home
        overrides = {
            "ha.initial_hosts": ",".join(m.coordination_address for m in self.cluster.members),
            "ha.host.coordination": self.coordination_address,
            "dbms.connector.bolt.listen_address": f"{self.host}:{self.bolt_port}",
        }
        # Empty (as the failover benchmark sets them): the server's defaults, or what the conf file says.
        if HEARTBEAT_INTERVAL:
            overrides["ha.heartbeat_interval"] = HEARTBEAT_INTERVAL
        if HEARTBEAT_TIMEOUT:
            overrides["ha.heartbeat_timeout"] = HEARTBEAT_TIMEOUT
        if self.host != "127.0.0.1":
            overrides["dbms.connectors.default_advertised_address"] = self.host
        if not self.arbiter:
            overrides.update({
                "ha.host.data": f"{self.host}:{self.data_port}",
                "dbms.connector.http.listen_address": f"{self.host}:{self.http_port}",
                "dbms.connector.bolt.tls_level": "DISABLED",
            })
        overrides.update(self.settings)
        for setting, value in overrides.items():
            env[env_name(setting)] = str(value)
        return env

    def start(self):
        assert self.proc is None or self.proc.poll() is not None, f"{self.name} is already running"
        env = self.environment()
        if not self.arbiter and not os.path.exists(os.path.join(self.home, "data", "dbms", "auth")):
            subprocess.run([TRELLIS_BIN, "admin", "set-initial-password", PASSWORD], env=env, check=True,
                           capture_output=True)
        out = open(os.path.join(self.home, "console.out"), "ab")
        self.proc = subprocess.Popen([*self.command_prefix, TRELLIS_BIN, "console"], env=env, stdout=out,
                                     stderr=subprocess.STDOUT)
        out.close()
        self.paused = False
        self.should_run = True

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self):
        return self.proc.pid

    def kill9(self):
        """A crash: SIGKILL, nothing flushed or closed."""
        self.should_run = False
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.paused = False

    def pause(self):
        self.proc.send_signal(signal.SIGSTOP)
        self.paused = True

    def resume(self):
        self.proc.send_signal(signal.SIGCONT)
        self.paused = False

    def stop(self):
        """Graceful stop (SIGTERM), SIGKILL after 20 s."""
        self.should_run = False
        if self.proc is None or self.proc.poll() is not None:
            return
        if self.paused:
            self.resume()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def log(self):
        path = os.path.join(self.home, "logs", "trellis.log")
        return open(path, errors="replace").read() if os.path.exists(path) else ""

    def http_get(self, path, timeout=1.0):
        """(status, body) of a GET on this member's HTTP connector; (None, error) when it does not answer."""
        try:
            with urllib.request.urlopen(f"http://{self.host}:{self.http_port}{path}", timeout=timeout) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()
        except (OSError, urllib.error.URLError) as error:
            return None, str(error)

    def role(self, timeout=1.0):
        """master / slave / UNKNOWN from /db/manage/server/ha/available, or None when the member does not answer."""
        if self.arbiter or not self.running or self.paused:
            return None
        status, body = self.http_get("/db/manage/server/ha/available", timeout)
        if status in (200, 404) and body in ("master", "slave", "UNKNOWN"):
            return body
        return None

    def driver(self, **config):
        config.setdefault("connection_timeout", 5.0)
        config.setdefault("max_transaction_retry_time", 30.0)
        return GraphDatabase.driver(self.uri, auth=AUTH, **config)

    def query(self, cypher, **parameters):
        """Runs one auto-commit read on this member (READ access mode, no routing) and returns the records."""
        with self.driver() as driver:
            with driver.session(default_access_mode="READ") as session:
                return list(session.run(cypher, parameters))

    def count(self, label):
        return self.query(f"MATCH (n:{label}) RETURN count(n) AS c")[0]["c"]

    def __repr__(self):
        return f"{self.name}(bolt {self.bolt_port}, pid {self.proc.pid if self.proc else '-'})"


class Cluster:
    """Members named instance1…, started together. `settings` apply to every member, `member_settings` to one."""

    member_class = Member

    def __init__(self, templates=("instance1", "instance2", "instance3"), settings=None, member_settings=None):
        self.root = tempfile.mkdtemp(prefix="trellis-cluster-")
        self.members = []
        # Even if the test run is interrupted, no server process outlives it on the shared machine.
        atexit.register(self.stop)
        for index, template in enumerate(templates):
            name = template if template.startswith("instance") else f"{template}{index + 1}"
            extra = dict(settings or {})
            extra.update((member_settings or {}).get(template, {}))
            if template == "arbiter":
                extra = {k: v for k, v in extra.items() if k.startswith("ha.heartbeat")}
            self.members.append(self.member_class(self, name, template, extra))

    @property
    def data_members(self):
        return [m for m in self.members if not m.arbiter]

    def start(self):
        for member in self.members:
            member.start()
        self.wait_for_stable(FORM_TIMEOUT)
        return self

    def roles(self):
        return {m.name: m.role() for m in self.data_members}

    def wait_for_stable(self, timeout):
        """Until exactly one running data member is master and every other running one is slave; returns the
        master."""
        def stable():
            for m in self.members:
                if m.should_run and not m.running:
                    tail = "\n".join(m.log().splitlines()[-5:])
                    raise AssertionError(f"{m.name} exited with {m.proc.returncode}:\n{tail}")
            running = [m for m in self.data_members if m.running and not m.paused]
            roles = {m.name: m.role() for m in running}
            masters = [m for m in running if roles[m.name] == "master"]
            if len(masters) == 1 and all(roles[m.name] == "slave" for m in running if m is not masters[0]):
                return masters[0]
            return None
        return wait_until(stable, timeout, f"one master and slaves among {[m.name for m in self.members]}")

    def master(self, timeout=ELECTION_TIMEOUT, among=None):
        """The single member answering master (among the given members), waiting for an election if needed."""
        candidates = among or [m for m in self.data_members if m.running and not m.paused]

        def one_master():
            masters = [m for m in candidates if m.role() == "master"]
            return masters[0] if len(masters) == 1 else None
        return wait_until(one_master, timeout, "a master")

    def member(self, name):
        return next(m for m in self.members if m.name == name)

    def stop(self, keep=False):
        for member in self.members:
            try:
                member.stop()
            except Exception:
                pass
        if not keep and not os.environ.get("TRELLIS_KEEP_CLUSTER"):
            shutil.rmtree(self.root, ignore_errors=True)

    def log_tails(self, lines=40):
        out = []
        for m in self.members:
            tail = m.log().splitlines()[-lines:]
            out.append(f"----- {m.name} ({m.home}) trellis.log, last {len(tail)} lines")
            out.extend(tail)
        return "\n".join(out)


class RoleSampler:
    """Samples /db/manage/server/ha/master on every member in the background, to prove that no two members ever
    answered 200 (master) at the same time. A sample is one round over all members."""

    def __init__(self, cluster, interval=0.05):
        self.cluster = cluster
        self.interval = interval
        self.samples = []  # (monotonic time, [names answering 200])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self):
        while not self._stop.is_set():
            masters = []
            for m in self.cluster.data_members:
                if not m.running or m.paused:
                    continue
                status, _ = m.http_get("/db/manage/server/ha/master", timeout=0.5)
                if status == 200:
                    masters.append(m.name)
            self.samples.append((time.monotonic(), masters))
            time.sleep(self.interval)

    def split_brain_samples(self):
        return [s for s in self.samples if len(s[1]) > 1]

    def ever_master(self, name):
        return any(name in masters for _, masters in self.samples)


def query_store(store_directory, cypher, **parameters):
    """Opens a copy of a store directory (e.g. a member's `branched/<time>/`) with a stand-alone Trellis
    (dbms.mode=SINGLE) on free ports, runs one read query and returns its records."""
    scratch = Cluster(templates=())
    try:
        single = Member(scratch, "single", "instance1", {"dbms.mode": "SINGLE"})
        shutil.copytree(store_directory, single.database_directory)
        single.start()
        try:
            wait_until(lambda: single.query("RETURN 1 AS one"), 60, "the copied store to open")
            return single.query(cypher, **parameters)
        finally:
            single.stop()
    finally:
        scratch.stop()


def make_store(statements, destination):
    """Creates a store with a stand-alone Trellis (dbms.mode=SINGLE) on free ports, commits each statement as its own
    transaction, stops it cleanly and copies its database directory to `destination`: another database, with its
    own store id, as a member might carry from another cluster."""
    scratch = Cluster(templates=())
    try:
        single = Member(scratch, "single", "instance1", {"dbms.mode": "SINGLE"})
        single.start()
        try:
            wait_until(lambda: single.query("RETURN 1 AS one"), 60, "the stand-alone store to open")
            with single.driver() as driver:
                for statement in statements:
                    driver.execute_query(statement)
        finally:
            single.stop()
        shutil.copytree(single.database_directory, destination)
    finally:
        scratch.stop()
