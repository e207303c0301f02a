"""Failover benchmark: time from `kill -9` of the master to the first successful write through a neo4j:// driver,
over N rounds on one three-member cluster (cluster-configs/instance{1,2,3}.conf, the server's default heartbeat
settings unless given). Run through scripts/bench-failover, which prepares the venv.

Each round: a client writes continuously (one MERGE per transaction, retried every 20 ms on any error, no driver
back-off so the number measures the cluster and not the driver's retry schedule); after at least one second of
writes the master is killed; the round records
  - election: kill → a survivor answers 200 on /db/manage/server/ha/master,
  - first write: kill → acknowledgement of the first write begun after the kill,
  - lost: writes acknowledged before the kill that the new master does not have.
The killed member is then restarted and must be back as a slave (and caught up) before the next round."""
import argparse
import logging
import os
import platform
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "python", "cluster"))

import harness  # noqa: E402
from neo4j import GraphDatabase  # noqa: E402


class Client(threading.Thread):
    def __init__(self, cluster, round_number):
        super().__init__(daemon=True)
        self.seeds = [("127.0.0.1", m.bolt_port) for m in cluster.data_members]
        self.round = round_number
        self.acknowledged = []  # (seq, begin, end)
        self.attempts = 0
        self.stop_requested = threading.Event()

    def run(self):
        driver = GraphDatabase.driver(f"neo4j://127.0.0.1:{self.seeds[0][1]}", auth=harness.AUTH,
                                      resolver=lambda _: self.seeds, max_transaction_retry_time=0.0,
                                      connection_timeout=2.0)
        try:
            seq = 0
            while not self.stop_requested.is_set():
                seq += 1
                while not self.stop_requested.is_set():
                    began = time.monotonic()
                    self.attempts += 1
                    try:
                        with driver.session() as session:
                            session.execute_write(lambda tx: tx.run(
                                "MERGE (:Bench {round: $r, seq: $s})", r=self.round, s=seq).consume())
                        self.acknowledged.append((seq, began, time.monotonic()))
                        break
                    except Exception:
                        time.sleep(0.02)
        finally:
            driver.close()

    def stop(self):
        self.stop_requested.set()
        self.join(timeout=60)


def one_round(cluster, round_number):
    master = cluster.wait_for_stable(harness.FORM_TIMEOUT)
    survivors = [m for m in cluster.data_members if m is not master]
    client = Client(cluster, round_number)
    client.start()
    try:
        harness.wait_until(lambda: client.acknowledged and time.monotonic() - client.acknowledged[0][2] > 1.0, 60,
                           "a second of writes")
        killed_at = time.monotonic()
        master.kill9()
        acked_before = {a[0] for a in client.acknowledged if a[2] <= killed_at}
        new_master = cluster.master(120, among=survivors)
        elected = time.monotonic() - killed_at
        first = harness.wait_until(lambda: next((a for a in client.acknowledged if a[1] > killed_at), None), 120,
                                   "a write after the kill")
    finally:
        client.stop()
    present = {r["s"] for r in new_master.query("MATCH (n:Bench {round: $r}) RETURN n.seq AS s", r=round_number)}
    lost = acked_before - present
    branches_dir = os.path.join(master.database_directory, "branched")
    branches_before = set(os.listdir(branches_dir)) if os.path.isdir(branches_dir) else set()
    master.start()
    harness.wait_until(lambda: master.role() == "slave", harness.FORM_TIMEOUT, "the killed master to rejoin")
    cluster.wait_for_stable(harness.FORM_TIMEOUT)
    in_branch = 0
    if lost:
        # The promise for the optimistic mode: every lost write is in the old master's branched store.
        new_branches = sorted(set(os.listdir(branches_dir)) - branches_before) if os.path.isdir(branches_dir) else []
        if new_branches:
            rows = harness.query_store(os.path.join(branches_dir, new_branches[-1]),
                                       "MATCH (n:Bench {round: $r}) RETURN n.seq AS s", r=round_number)
            in_branch = len(lost & {r["s"] for r in rows})
    return {"killed": master.name, "new": new_master.name, "election": elected, "first_write": first[2] - killed_at,
            "acked": len(client.acknowledged), "lost": len(lost), "in_branch": in_branch}


def main():
    # The driver logs every connection the kill breaks; the rounds' results say what matters.
    logging.getLogger("neo4j").setLevel(logging.CRITICAL)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--set", action="append", default=[], metavar="SETTING=VALUE",
                        help="a setting for every member, e.g. ha.tx_push_strict=true (repeatable)")
    args = parser.parse_args()
    settings = dict(s.split("=", 1) for s in args.set)
    cluster = harness.Cluster(settings=settings)
    print(f"trellis: {harness.TRELLIS_BIN}")
    print(f"machine: {platform.node()}, {os.cpu_count()} CPUs, {platform.platform()}, "
          f"load average {os.getloadavg()[0]:.2f} at start")
    print(f"settings: {settings or 'defaults'}; heartbeat interval/timeout "
          f"{harness.HEARTBEAT_INTERVAL or 'default'}/{harness.HEARTBEAT_TIMEOUT or 'default'}")
    results = []
    try:
        cluster.start()
        for n in range(1, args.rounds + 1):
            r = one_round(cluster, n)
            results.append(r)
            print(f"round {n:2}: killed {r['killed']}, {r['new']} master after {r['election']:.2f}s, first write "
                  f"after {r['first_write']:.2f}s, {r['acked']} writes acknowledged, {r['lost']} lost"
                  + (f" ({r['in_branch']} of them found in the old master's branched store)" if r["lost"] else ""),
                  flush=True)
    except BaseException:
        print(cluster.log_tails())
        raise
    finally:
        cluster.stop()
    firsts = [r["first_write"] for r in results]
    elections = [r["election"] for r in results]
    print(f"\n{len(results)} rounds: kill → first write median {statistics.median(firsts):.2f}s, "
          f"max {max(firsts):.2f}s; kill → new master median {statistics.median(elections):.2f}s, "
          f"max {max(elections):.2f}s; acknowledged writes lost: {sum(r['lost'] for r in results)} in total, "
          f"{sum(r['in_branch'] for r in results)} of them found in branched stores")


if __name__ == "__main__":
    main()
