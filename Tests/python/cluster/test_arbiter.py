"""The arbiter layout (cluster-configs/arbiter.conf): two data members and an arbiter keep a majority when a
data member fails (issue 5, drill 6)."""
import os
import time

import pytest

import harness
from conftest import make_cluster
from harness import CATCH_UP_TIMEOUT, ELECTION_TIMEOUT, wait_until


@pytest.fixture(scope="module")
def cluster(request):
    return make_cluster(request, templates=("instance1", "instance2", "arbiter"))


def test_arbiter_keeps_a_majority_when_the_master_fails(cluster):
    arbiter = next(m for m in cluster.members if m.arbiter)
    master = cluster.wait_for_stable(harness.FORM_TIMEOUT)
    slave = next(m for m in cluster.data_members if m is not master)
    with master.driver() as driver:
        driver.execute_query("UNWIND range(1, 10) AS i CREATE (:BeforeFailover {i: i})")
    wait_until(lambda: slave.count("BeforeFailover") == 10, CATCH_UP_TIMEOUT, "the slave to have the writes")

    killed_at = time.monotonic()
    master.kill9()
    new_master = cluster.master(ELECTION_TIMEOUT, among=[slave])
    print(f"\n[arbiter layout] {slave.name} answered master {time.monotonic() - killed_at:.2f}s after the kill")
    with new_master.driver() as driver:
        driver.execute_query("CREATE (:AfterFailover)")
    assert new_master.count("AfterFailover") == 1
    assert new_master.count("BeforeFailover") == 10
    # An arbiter holds no data and serves no clients.
    assert arbiter.running
    assert not os.path.isdir(os.path.join(arbiter.home, "data", "databases", "graph.db"))
    assert "ARBITER" in arbiter.log() + open(os.path.join(arbiter.home, "console.out"), errors="replace").read()
