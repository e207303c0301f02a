"""Latency and one-way loss between members (issue 5, drill 4), made by a TCP proxy (`link_proxy.py`): every member
listens on its own ports and advertises the proxy's (`ha.host.coordination.advertised_address`,
`ha.host.data.advertised_address`), as an operator would configure members behind a proxy or port forward.

- latency: 100–300 ms on every link from the start; the cluster forms, one master, no false failover for 10 s
  under a light write load, every write replicates;
- one-way loss of the master's outgoing coordination traffic (it still hears the others), then of its incoming
  traffic (the others still hear it): at most one member claims master in any sample, the majority elects a master
  within ELECTION_BOUND, and after the heal one master remains and holds every write acknowledged under strict push;
- a member advertising an address that is not in `ha.initial_hosts` is refused although it reaches every member.

The server's default heartbeat settings (500 ms / 2 s) are used: these drills are about what operators run."""
import os
import re
import threading
import time

import pytest
from neo4j.exceptions import DriverError, Neo4jError

import harness
from conftest import make_cluster
from harness import CATCH_UP_TIMEOUT, RoleSampler, env_name, free_port, wait_until
from link_proxy import LinkProxy

SETTINGS = {
    "ha.heartbeat_interval": "500ms", "ha.heartbeat_timeout": "2s",
    "ha.tx_push_strict": "true", "ha.tx_push_factor": "1",
}
# Documented in docs/clustering.md ("Drills"): after the loss starts, the majority has a master within one heartbeat
# time-out plus an election round (about 2 s with the defaults), or two time-outs when the master's incoming
# traffic is lost (it must lose its lease before the others' promise lapses); the bound leaves room for CI's load.
ELECTION_BOUND = 20.0


class ProxiedMember(harness.Member):
    """Listens on its own coordination and data ports, advertises the proxy's."""

    def __init__(self, cluster, name, template, settings):
        super().__init__(cluster, name, template, settings)
        self.coordination_proxy_port = free_port()
        self.data_proxy_port = free_port()
        conf = open(os.path.join(self.home, "conf", "trellis.conf")).read()
        self.server_id = int(re.search(r"^ha\.server_id=(\d+)", conf, re.M).group(1))

    @property
    def coordination_address(self):
        """What the others list in ha.initial_hosts and dial: the proxy."""
        return f"{self.host}:{self.coordination_proxy_port}"

    def environment(self):
        env = super().environment()
        env[env_name("ha.host.coordination")] = f"{self.host}:{self.coordination_port}"
        env[env_name("ha.host.coordination.advertised_address")] = self.coordination_address
        env[env_name("ha.host.data.advertised_address")] = f"{self.host}:{self.data_proxy_port}"
        return env


class ProxyCluster(harness.Cluster):
    member_class = ProxiedMember

    def __init__(self, latency=None, **kwargs):
        self.proxy = LinkProxy().start()
        try:
            super().__init__(**kwargs)
            for m in self.members:
                self.proxy.add_member(m.name, m.server_id, m.coordination_proxy_port, m.coordination_port,
                                      m.data_proxy_port, m.data_port)
            if latency:
                self.proxy.set_latency(*latency, self.names)
        except BaseException:
            self.proxy.stop()
            raise

    @property
    def names(self):
        return [m.name for m in self.members]

    def stop(self, keep=False):
        try:
            super().stop(keep)
        finally:
            self.proxy.stop()


class WriteProber(threading.Thread):
    """Writes one node at a time through each data member's Bolt port in turn (slaves forward to the master) and
    records the ids whose commit was acknowledged."""

    def __init__(self, cluster, label):
        super().__init__(daemon=True)
        self.cluster = cluster
        self.label = label
        self.acknowledged = []  # (monotonic time, id, member name)
        self.failures = 0
        self.stop_requested = threading.Event()
        self.drivers = {}

    def run(self):
        next_id = 0
        try:
            while not self.stop_requested.is_set():
                for m in self.cluster.data_members:
                    if self.stop_requested.is_set():
                        break
                    driver = self.drivers.get(m.name) or self.drivers.setdefault(
                        m.name, m.driver(connection_timeout=2.0, max_transaction_retry_time=0.0))
                    next_id += 1
                    try:
                        with driver.session(default_access_mode="WRITE") as session:
                            session.run(f"CREATE (:{self.label} {{id: $id}})", id=next_id).consume()
                        self.acknowledged.append((time.monotonic(), next_id, m.name))
                    except (Neo4jError, DriverError, OSError):
                        self.failures += 1
                    time.sleep(0.05)
        finally:
            for driver in self.drivers.values():
                try:
                    driver.close()
                except Exception:
                    pass

    def acknowledged_after(self, moment):
        return [a for a in self.acknowledged if a[0] > moment]

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop_requested.set()
        self.join(timeout=60)


@pytest.fixture(scope="module")
def cluster(request):
    # Latency from the very start: the cluster must form through it.
    return make_cluster(request, cluster_class=ProxyCluster, settings=SETTINGS, latency=(0.1, 0.2))


def ids(member, label):
    return {r["id"] for r in member.query(f"MATCH (n:{label}) RETURN n.id AS id")}


def assert_one_master_at_a_time(sampler):
    assert len(sampler.samples) > 20, "too few samples to say anything"
    split = sampler.split_brain_samples()
    assert not split, f"two members answered /ha/master 200 at once: {split[:5]}"


def test_latency_on_every_link_forms_one_master_without_false_failover_and_replicates(cluster):
    master = cluster.wait_for_stable(harness.FORM_TIMEOUT)
    slaves = [m for m in cluster.data_members if m is not master]
    written = 0
    refused = []
    started = time.monotonic()
    with RoleSampler(cluster) as sampler, master.driver(max_transaction_retry_time=0.0) as driver:
        while time.monotonic() - started < 10:
            try:
                with driver.session() as session:
                    session.run("CREATE (:Latency {id: $id})", id=written).consume()
                written += 1
            except Neo4jError as error:
                refused.append(error.code)
            time.sleep(0.1)
    claimed = {name for _, masters in sampler.samples for name in masters}
    delays = cluster.proxy.forwarded
    print(f"\n[latency 100-300 ms] {written} strict writes in 10 s on {master.name}, {len(refused)} refused; "
          f"members answering master: {sorted(claimed)}; {sum(delays.values())} frames delayed")
    assert_one_master_at_a_time(sampler)
    assert claimed == {master.name}, f"a false failover: {sorted(claimed)} answered master"
    assert not refused, f"writes refused on the master under latency alone: {refused[:5]}"
    assert written >= 5, "too few writes to say anything"
    assert master.role() == "master"
    silent = [(a, b) for a in cluster.names for b in cluster.names
              if a != b and not cluster.proxy.forwarded.get((a, b))]
    assert not silent, f"links the proxy never carried (members not identified by their hello?): {silent}"
    for slave in slaves:
        wait_until(lambda: slave.count("Latency") == written, CATCH_UP_TIMEOUT, f"{slave.name} to have every write")


def one_way_loss(cluster, label, outgoing):
    cluster.proxy.set_latency(0.0, 0.0, cluster.names)
    master = cluster.wait_for_stable(harness.FORM_TIMEOUT)
    others = [m for m in cluster.data_members if m is not master]
    with RoleSampler(cluster) as sampler, WriteProber(cluster, label) as prober:
        wait_until(lambda: len(prober.acknowledged) >= 3, CATCH_UP_TIMEOUT, "writes before the loss")
        lost_at = time.monotonic()
        for other in others:
            if outgoing:
                cluster.proxy.block(master.name, other.name)
            else:
                cluster.proxy.block(other.name, master.name)
        new_master = cluster.master(ELECTION_BOUND, among=others)
        elected = time.monotonic() - lost_at
        wait_until(lambda: prober.acknowledged_after(lost_at + elected), ELECTION_BOUND,
                   "a write acknowledged after the election")
        healed_at = time.monotonic()
        cluster.proxy.heal()
        final = cluster.wait_for_stable(harness.FORM_TIMEOUT)
        wait_until(lambda: {a[2] for a in prober.acknowledged_after(healed_at)} == set(cluster.names),
                   CATCH_UP_TIMEOUT, "writes through every member after the heal")
    direction = "outgoing" if outgoing else "incoming"
    dropped = sum(cluster.proxy.dropped.values())
    print(f"\n[one-way loss, {master.name}'s {direction} coordination traffic] {new_master.name} answered master "
          f"after {elected:.2f}s; {dropped} frames dropped; {len(prober.acknowledged)} writes acknowledged, "
          f"{prober.failures} refused; master after the heal: {final.name}")
    assert_one_master_at_a_time(sampler)
    acknowledged = {a[1] for a in prober.acknowledged}
    for m in cluster.data_members:
        wait_until(lambda: acknowledged <= ids(m, label), CATCH_UP_TIMEOUT,
                   f"{m.name} to hold every acknowledged write")


def test_master_whose_outgoing_coordination_traffic_is_lost_is_replaced_without_split_brain(cluster):
    one_way_loss(cluster, "LostOutgoing", outgoing=True)


def test_master_whose_incoming_coordination_traffic_is_lost_is_replaced_without_split_brain(cluster):
    one_way_loss(cluster, "LostIncoming", outgoing=False)


def test_a_member_advertising_an_address_not_in_initial_hosts_is_refused(cluster):
    """The identity check stays on the advertised address: a member that dials every proxy port, but advertises an
    address the others do not list, is refused and never counted; the cluster carries on."""
    master = cluster.wait_for_stable(harness.FORM_TIMEOUT)
    unlisted = f"127.0.0.1:{free_port()}"
    stranger = harness.Member(cluster, "stranger", "instance3", {
        "ha.server_id": "9", "ha.host.coordination.advertised_address": unlisted})
    try:
        stranger.start()
        reason = f"instance 9 at {unlisted} is not in ha.initial_hosts"
        wait_until(lambda: reason in stranger.log() and "refused this member" in stranger.log(), 60,
                   "the stranger to be told it is refused")
        wait_until(lambda: any(reason in m.log() for m in cluster.data_members), 30,
                   "a member to log the refusal")
        assert stranger.role() == "UNKNOWN", "a refused member must never join"
    finally:
        stranger.stop()
    assert cluster.wait_for_stable(harness.FORM_TIMEOUT) is master
