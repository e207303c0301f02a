"""A three-member cluster from cluster-configs/instance{1,2,3}.conf as shipped (push factor 1, pull every second):
formation, replication, the HA endpoints, writes through a slave, neo4j:// routing, and finally the loss of the
majority (the last test: it leaves one member alive)."""
import subprocess
import time

import pytest
from neo4j import GraphDatabase, RoutingControl
from neo4j.exceptions import Neo4jError

import harness
from conftest import make_cluster
from harness import AUTH, CATCH_UP_TIMEOUT, wait_until, within


@pytest.fixture(scope="module")
def cluster(request):
    return make_cluster(request)


def test_cluster_forms_with_exactly_one_master(cluster):
    master = cluster.wait_for_stable(harness.FORM_TIMEOUT)
    for member in cluster.data_members:
        is_master = member is master
        # neo4j-ha.md §7: /master 200 "true" or 404 "false", /slave the reverse, /available 200 with the role.
        assert member.http_get("/db/manage/server/ha/master") == ((200, "true") if is_master else (404, "false"))
        assert member.http_get("/db/manage/server/ha/slave") == ((404, "false") if is_master else (200, "true"))
        assert member.http_get("/db/manage/server/ha/available") == (200, "master" if is_master else "slave")
        # `trellis status` on the member's home shows the same role (run/ha-role, refreshed every 250 ms).
        expected = f"(HA role: {'master' if is_master else 'slave'})"
        wait_until(lambda: expected in subprocess.run([harness.TRELLIS_BIN, "status"], env=member.environment(),
                                                      capture_output=True, text=True).stdout,
                   10, f"`trellis status` of {member.name} to say {expected}")


def test_write_on_master_is_readable_on_both_slaves(cluster):
    master = cluster.wait_for_stable(harness.FORM_TIMEOUT)
    with master.driver() as driver:
        driver.execute_query("UNWIND range(1, 25) AS i CREATE (:Replicated {i: i})")
    for slave in cluster.data_members:
        if slave is master:
            continue
        # Pushed to one slave at commit, pulled by the other within ha.pull_interval (1s): poll, never sleep.
        wait_until(lambda: slave.count("Replicated") == 25, CATCH_UP_TIMEOUT, f"{slave.name} to have the write")
        total = slave.query("MATCH (n:Replicated) RETURN sum(n.i) AS s")[0]["s"]
        assert total == sum(range(1, 26))


def test_write_sent_to_a_slave_works_and_the_slave_reads_it_right_after(cluster):
    master = cluster.wait_for_stable(harness.FORM_TIMEOUT)
    slave = next(m for m in cluster.data_members if m is not master)
    for round_number in range(3):
        with slave.driver() as driver:
            with driver.session() as session:  # bolt:// to the slave, WRITE access mode
                session.execute_write(lambda tx: tx.run("CREATE (:ViaSlave {round: $r})", r=round_number).consume())
        # A new connection without bookmarks: read-your-writes must hold on the slave itself.
        assert slave.count("ViaSlave") == round_number + 1
    wait_until(lambda: master.count("ViaSlave") == 3, CATCH_UP_TIMEOUT, "the master to have the slave's writes")


def test_routing_driver_sends_writes_to_the_master_and_reads_anywhere(cluster):
    master = cluster.wait_for_stable(harness.FORM_TIMEOUT)
    slaves = [m for m in cluster.data_members if m is not master]
    # Start from a slave's address: the routing table, not the seed address, must pick the writer.
    with GraphDatabase.driver(slaves[0].routing_uri, auth=AUTH) as driver:
        for i in range(5):
            _, summary, _ = driver.execute_query("CREATE (:Routed {i: $i})", i=i, routing_=RoutingControl.WRITE)
            assert summary.server.address.port == master.bolt_port
        _, summary, _ = driver.execute_query("MATCH (n:Routed) RETURN count(n)", routing_=RoutingControl.READ)
        assert summary.server.address.port in {m.bolt_port for m in cluster.data_members}
    records = master.query("CALL dbms.cluster.routing.getRoutingTable({}) YIELD servers RETURN servers")
    servers = {s["role"]: s["addresses"] for s in records[0]["servers"]}
    assert servers["WRITE"] == [f"127.0.0.1:{master.bolt_port}"]
    assert set(servers["READ"]) == {f"127.0.0.1:{s.bolt_port}" for s in slaves}


def test_without_a_master_writes_fail_with_a_transient_error_and_reads_go_on(cluster):
    master = cluster.wait_for_stable(harness.FORM_TIMEOUT)
    survivor, other = [m for m in cluster.data_members if m is not master]
    wait_until(lambda: survivor.count("Replicated") == 25, CATCH_UP_TIMEOUT, "the survivor to be current")
    before = survivor.count("Replicated")
    master.kill9()
    other.kill9()
    # Alone, the survivor has no majority: it must not become master, and must report no role.
    wait_until(lambda: survivor.role() == "UNKNOWN", harness.ELECTION_TIMEOUT, "the survivor to drop its role")

    def attempt_write():
        with survivor.driver() as driver:
            with driver.session() as session:
                try:
                    session.run("CREATE (:Orphan)").consume()
                except Neo4jError as error:
                    return error
        return None

    started = time.monotonic()
    error = within(60, attempt_write)
    print(f"\n[no-master] write refused after {time.monotonic() - started:.2f}s: {error and error.code}")
    assert error is not None, "a write without a master must fail"
    assert error.code.startswith("Neo.TransientError."), error.code
    assert error.is_retryable()
    # Reads go on, with the data the survivor had.
    assert within(30, survivor.count, "Replicated") == before
    assert survivor.count("Orphan") == 0
    assert survivor.role() == "UNKNOWN"
