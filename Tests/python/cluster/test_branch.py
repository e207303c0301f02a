"""Slave-only members and branched data (issue 5, drills 3 and 5), on a cluster where instance3 is
`ha.slave_only=true`, the master pushes to nobody (`ha.tx_push_factor=0`) and slaves never pull on a timer
(`ha.pull_interval=0s`), so what each member holds is decided by the drill alone:

1. a write sent through the slave-only member commits on the master and is then on both (read-your-writes);
2. the master commits more transactions that no slave receives, and is killed;
3. the remaining data member is elected although the slave-only member holds newer transactions;
4. the slave-only member's diverged store is moved to branched/ and replaced by a copy of the new master's;
5. the old master restarts, detects that its store branched, moves it to branched/, copies the new master's
   store: every member ends with the new master's data, and the lost writes are in the old master's branch.

Then, on the same cluster, a member restarts carrying another cluster's store (another store id, more
transactions than the master has): it never serves that data, moves it to branched/ and copies the master's."""
import os
import shutil

import pytest

import harness
from conftest import make_cluster
from harness import CATCH_UP_TIMEOUT, ELECTION_TIMEOUT, RoleSampler, wait_until

SETTINGS = {"ha.tx_push_factor": "0", "ha.pull_interval": "0s"}
SLAVE_ONLY = {"instance3": {"ha.slave_only": "true"}}
LOST = 7


@pytest.fixture(scope="module")
def cluster(request):
    return make_cluster(request, settings=SETTINGS, member_settings=SLAVE_ONLY)


def labels(member):
    """Label → node count: the data a member serves."""
    rows = member.query("MATCH (n) UNWIND labels(n) AS l RETURN l, count(*) AS c")
    return {r["l"]: r["c"] for r in rows}


def branches(member):
    path = os.path.join(member.database_directory, "branched")
    return sorted(os.listdir(path)) if os.path.isdir(path) else []


def test_slave_only_member_is_never_elected_and_a_diverged_master_is_branched(cluster):
    slave_only = cluster.member("instance3")
    with RoleSampler(cluster) as sampler:
        old_master = cluster.wait_for_stable(harness.FORM_TIMEOUT)
        assert old_master is not slave_only
        other = next(m for m in cluster.data_members if m is not old_master and m is not slave_only)

        with slave_only.driver() as driver:
            driver.execute_query("CREATE (:ViaSlaveOnly)")
        assert slave_only.count("ViaSlaveOnly") == 1
        with old_master.driver() as driver:
            for i in range(LOST):
                driver.execute_query("CREATE (:Lost {i: $i})", i=i)
        assert old_master.count("Lost") == LOST
        # Nothing was pushed or pulled: the other data member has none of it, the slave-only member is ahead.
        assert labels(other) == {}

        old_master.kill9()
        new_master = cluster.master(ELECTION_TIMEOUT, among=[other, slave_only])
        assert new_master is other, "the slave-only member was elected"
        with new_master.driver() as driver:
            driver.execute_query("UNWIND range(1, 3) AS i CREATE (:Kept {i: i})")

        # The slave-only member committed ViaSlaveOnly at a tx id where the new master has something else (or
        # nothing): it must keep its store as a branch and take a copy of the new master's.
        wait_until(lambda: slave_only.role() == "slave", ELECTION_TIMEOUT, "the slave-only member to follow")
        assert branches(slave_only), "the slave-only member's diverged store was not kept under branched/"
        # Without pushes or timed pulls it holds the master's data as of its copy (which may predate Kept); a write
        # through it brings it up to date (the slave catches up to the master's commit before answering).
        with slave_only.driver() as driver:
            driver.execute_query("CREATE (:AfterFailover)")
        assert labels(slave_only) == labels(new_master) == {"Kept": 3, "AfterFailover": 1}

        old_master.start()
        wait_until(lambda: old_master.role() == "slave", harness.FORM_TIMEOUT, "the old master to rejoin as slave")
        wait_until(lambda: labels(old_master) == labels(new_master), CATCH_UP_TIMEOUT,
                   "the old master to hold the new master's data")
        assert labels(new_master) == {"Kept": 3, "AfterFailover": 1}
        assert cluster.master() is new_master
    assert not sampler.ever_master(slave_only.name), "the slave-only member answered /ha/master 200"
    assert not sampler.split_brain_samples()

    kept = branches(old_master)
    assert kept, "the old master's store was not moved to branched/"
    log = old_master.log().lower()
    assert "branch" in log, "trellis.log does not tell the operator about the branch"
    # Optimistic mode loses the unpushed writes to the cluster, but never silently: they are in the branch.
    branch = os.path.join(old_master.database_directory, "branched", kept[-1])
    assert harness.query_store(branch, "MATCH (n:Lost) RETURN count(n) AS c")[0]["c"] == LOST


FOREIGN_TRANSACTIONS = 12


def test_a_member_carrying_another_clusters_store_moves_it_away_and_copies_the_masters(cluster, tmp_path):
    master = cluster.wait_for_stable(harness.FORM_TIMEOUT)
    joiner = next(m for m in cluster.data_members if m is not master and m.name != "instance3")
    with master.driver() as driver:
        driver.execute_query("CREATE (:BeforeForeignJoin)")
    expected = labels(master)
    foreign = str(tmp_path / "foreign-graph.db")
    # More transactions than the cluster's store has: by tx id alone it would look ahead of the master.
    harness.make_store(["UNWIND range(1, 5) AS i CREATE (:Foreign {i: i})"] * FOREIGN_TRANSACTIONS, foreign)

    joiner.stop()
    shutil.rmtree(joiner.database_directory)
    shutil.copytree(foreign, joiner.database_directory)
    joiner.start()
    # The joiner finds the master at once, so this mostly checks the outcome; that a member refuses reads before
    # its store is known to be the cluster's is proven by the HA instance tests (TrellisServerTests).
    served = []

    def joined_with_the_masters_data():
        current = labels(joiner)  # refused (and retried) until the member knows its store is the cluster's
        served.append(current)
        assert "Foreign" not in current, f"{joiner.name} served the other cluster's data: {current}"
        return joiner.role() == "slave" and current == expected
    wait_until(joined_with_the_masters_data, harness.FORM_TIMEOUT, f"{joiner.name} to serve the master's data")
    assert served, "the joiner never answered a read"

    kept = branches(joiner)
    assert len(kept) == 1, f"the other cluster's store was not kept under branched/: {kept}"
    assert "not a copy of the master's store" in joiner.log(), "trellis.log does not say why the store was replaced"
    branch = os.path.join(joiner.database_directory, "branched", kept[0])
    assert harness.query_store(branch, "MATCH (n:Foreign) RETURN count(n) AS c")[0]["c"] == 5 * FOREIGN_TRANSACTIONS
    # A write through it reaches the master: it is a working slave of this cluster now.
    with joiner.driver() as driver:
        driver.execute_query("CREATE (:AfterForeignJoin)")
    assert master.count("AfterForeignJoin") == 1
