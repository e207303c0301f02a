"""Strict push with ha.tx_push_factor=2 on three members (docs/clustering.md, "What each push mode guarantees"):
a commit is acknowledged only once both slaves have it; with one slave down it fails with
Neo.DatabaseError.Cluster.ReplicationFailure although it is committed on the master, and writes work again once
the slave is back."""
import pytest
from neo4j.exceptions import Neo4jError

import harness
from conftest import make_cluster
from harness import CATCH_UP_TIMEOUT, wait_until

SETTINGS = {"ha.tx_push_factor": "2", "ha.tx_push_strict": "true", "ha.pull_interval": "1s"}


@pytest.fixture(scope="module")
def cluster(request):
    return make_cluster(request, settings=SETTINGS)


def test_factor_two_needs_both_slaves_and_a_refused_commit_stays_committed_on_the_master(cluster):
    master = cluster.wait_for_stable(harness.FORM_TIMEOUT)
    slaves = [m for m in cluster.data_members if m is not master]
    def first_strict_write():
        # Each member reports its own role; the master may count a fresh slave a moment later, and until then a
        # strict commit is refused (yet committed). Every attempt creates a node, so the acknowledged one is a
        # real transaction.
        with master.driver(max_transaction_retry_time=0.0) as driver:
            try:
                driver.execute_query("CREATE (:Strict {n: 1})")
            except Neo4jError as error:
                assert error.code == "Neo.DatabaseError.Cluster.ReplicationFailure", error.code
                return False
        return True
    wait_until(first_strict_write, harness.ELECTION_TIMEOUT, "the first strict commit to be acknowledged")
    refused_first = master.count("Strict") - 1
    # Acknowledged under strict push: both slaves have it (and every earlier transaction) the moment the commit
    # returns, no waiting.
    for slave in slaves:
        assert slave.count("Strict") == refused_first + 1

    down, up = slaves
    down.kill9()

    def refused():
        with master.driver(max_transaction_retry_time=0.0) as driver:
            with driver.session() as session:
                try:
                    session.run("CREATE (:Strict {n: 2})").consume()
                except Neo4jError as error:
                    return error.code
        return None
    code = wait_until(refused, harness.ELECTION_TIMEOUT, "a strict commit to be refused with one slave down")
    assert code == "Neo.DatabaseError.Cluster.ReplicationFailure"
    # Refused to the client, but committed on the master, and pulled by the remaining slave.
    assert master.count("Strict") >= 2
    wait_until(lambda: up.count("Strict") == master.count("Strict"), CATCH_UP_TIMEOUT, "the slave to pull it")

    down.start()
    wait_until(lambda: down.role() == "slave", harness.FORM_TIMEOUT, "the killed slave to rejoin")

    attempts = iter(range(3, 1000))
    acknowledged = []

    def strict_write():
        # The member knows it is a slave slightly before the master's view of the cluster says so; until then a
        # strict commit still fails (and is still committed). Each attempt writes a new node, so the one that
        # succeeds is a transaction the master acknowledged under strict push (a MERGE that finds the node of a
        # refused attempt would commit nothing and prove nothing).
        n = next(attempts)
        with master.driver(max_transaction_retry_time=0.0) as driver:
            try:
                driver.execute_query("CREATE (:Strict {n: $n})", n=n)
            except Neo4jError as error:
                assert error.code == "Neo.DatabaseError.Cluster.ReplicationFailure", error.code
                return False
        acknowledged.append(n)
        return True
    wait_until(strict_write, harness.ELECTION_TIMEOUT, "a strict commit to succeed with both slaves back")
    # Acknowledged: on both slaves already, no waiting.
    (n,) = acknowledged
    for slave in (down, up):
        assert slave.query("MATCH (s:Strict {n: $n}) RETURN count(s) AS c", n=n)[0]["c"] == 1, slave
    # Refused attempts are committed on the master too and reach the slaves by pulls.
    for slave in (down, up):
        wait_until(lambda: slave.count("Strict") == master.count("Strict"), CATCH_UP_TIMEOUT,
                   f"{slave} to pull the refused attempts")
