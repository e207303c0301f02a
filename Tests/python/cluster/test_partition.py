"""Network partition of the master (issue 5, drill 4, "cut its links"): each member runs in its own Linux network
namespace, joined to the others by a veth pair on a bridge in the test's namespace. Taking the master's veth down
isolates it from every other member (and from the test) while its process keeps running, unlike SIGSTOP: it must
notice by itself that it lost the majority and stop accepting writes, while the majority elects a new master.
After the link comes back it rejoins as a slave. Every member's own /ha/master answer is sampled throughout from
inside its namespace, where the cut does not reach, so two members claiming mastership at once would be seen.

Needs root and iproute2 (`ip netns`); elsewhere the test is skipped with a loud reason."""
import os
import secrets
import shutil
import subprocess
import threading
import time

import pytest

import harness
from conftest import make_cluster
from harness import CATCH_UP_TIMEOUT, ELECTION_TIMEOUT, wait_until

TAG = secrets.token_hex(2)
SUBNET = f"10.{200 + secrets.randbelow(50)}.{secrets.randbelow(256)}"
BRIDGE = f"trbr{TAG}"


def ip(*args, check=True):
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True)


def netns_available():
    if os.geteuid() != 0 or shutil.which("ip") is None or shutil.which("curl") is None:
        return False
    probe = f"trellis-probe-{TAG}"
    if ip("netns", "add", probe, check=False).returncode != 0:
        return False
    ip("netns", "del", probe, check=False)
    return True


pytestmark = pytest.mark.skipif(not netns_available(),
                                reason="SKIPPED LOUDLY: the partition drill needs root, iproute2 and curl")


class NetnsMember(harness.Member):
    def __init__(self, cluster, name, template, settings):
        super().__init__(cluster, name, template, settings)
        index = len(cluster.members) + 1
        self.namespace = f"trellis-{TAG}-{index}"
        self.veth = f"trv{TAG}{index}"
        self.host = f"{SUBNET}.{10 + index}"
        self.command_prefix = ("ip", "netns", "exec", self.namespace)
        ip("netns", "add", self.namespace)
        try:
            ip("link", "add", self.veth, "type", "veth", "peer", "name", "eth0", "netns", self.namespace)
            ip("link", "set", self.veth, "master", BRIDGE)
            ip("link", "set", self.veth, "up")
            ip("-n", self.namespace, "addr", "add", f"{self.host}/24", "dev", "eth0")
            ip("-n", self.namespace, "link", "set", "eth0", "up")
            ip("-n", self.namespace, "link", "set", "lo", "up")
        except BaseException:
            ip("netns", "del", self.namespace, check=False)
            raise

    def own_claim(self):
        """This member's /ha/master answer asked from inside its own namespace (reachable while cut off)."""
        result = subprocess.run(
            ["ip", "netns", "exec", self.namespace, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-m", "1",
             f"http://{self.host}:{self.http_port}/db/manage/server/ha/master"], capture_output=True, text=True)
        return result.stdout.strip()

    def cut(self):
        ip("link", "set", self.veth, "down")

    def heal(self):
        ip("link", "set", self.veth, "up")


class NetnsCluster(harness.Cluster):
    member_class = NetnsMember

    def __init__(self, **kwargs):
        ip("link", "add", BRIDGE, "type", "bridge")
        ip("addr", "add", f"{SUBNET}.1/24", "dev", BRIDGE)
        ip("link", "set", BRIDGE, "up")
        try:
            super().__init__(**kwargs)
        except BaseException:
            self.remove_network()
            raise

    def stop(self, keep=False):
        for m in self.members:
            try:
                m.heal()
            except Exception:
                pass
        super().stop(keep)
        self.remove_network()

    def remove_network(self):
        for m in self.members:
            ip("netns", "del", m.namespace, check=False)
        ip("link", "del", BRIDGE, check=False)


class ClaimSampler(threading.Thread):
    """Every member's own claim to be master, round after round."""

    def __init__(self, cluster):
        super().__init__(daemon=True)
        self.cluster = cluster
        self.samples = []
        self.stop_requested = threading.Event()

    def run(self):
        while not self.stop_requested.is_set():
            claims = [m.name for m in self.cluster.data_members if m.running and m.own_claim() == "200"]
            self.samples.append((time.monotonic(), claims))
            time.sleep(0.02)

    def stop(self):
        self.stop_requested.set()
        self.join(timeout=30)


@pytest.fixture(scope="module")
def cluster(request):
    return make_cluster(request, cluster_class=NetnsCluster)


def test_partitioned_master_steps_down_the_majority_elects_and_it_rejoins_after_the_heal(cluster):
    master = cluster.wait_for_stable(harness.FORM_TIMEOUT)
    majority = [m for m in cluster.data_members if m is not master]
    with master.driver() as driver:
        driver.execute_query("CREATE (:BeforeCut)")
    sampler = ClaimSampler(cluster)
    sampler.start()
    try:
        cut_at = time.monotonic()
        master.cut()
        wait_until(lambda: master.own_claim() == "404", ELECTION_TIMEOUT, "the cut-off master to step down")
        stepped_down = time.monotonic() - cut_at
        new_master = cluster.master(ELECTION_TIMEOUT, among=majority)
        elected = time.monotonic() - cut_at
        print(f"\n[partition] {master.name} cut off: it stopped claiming master after {stepped_down:.2f}s, "
              f"{new_master.name} answered master after {elected:.2f}s")
        with new_master.driver() as driver:
            driver.execute_query("CREATE (:DuringCut)")
        master.heal()
        wait_until(lambda: master.role() == "slave", harness.FORM_TIMEOUT, "the old master to rejoin as slave")
        wait_until(lambda: master.count("DuringCut") == 1, CATCH_UP_TIMEOUT, "the old master to catch up")
        assert cluster.master() is new_master
    finally:
        sampler.stop()
    assert len(sampler.samples) > 20, "too few samples to say anything"
    split = [s for s in sampler.samples if len(s[1]) > 1]
    assert not split, f"two members claimed master at once: {split[:5]}"
    assert master.count("BeforeCut") == 1
