"""Server CPU per query through the official driver (not a test; run by hand against a running server):

    .venv-tests-6/bin/python Tests/python/driver/bench_query_cpu.py --uri bolt://127.0.0.1:7687 --pid <server pid> \
        --query Q1 --seconds 3 --rounds 8

One client runs one statement in a loop (auto-commit, RUN + PULL per call) against a database loaded with the
shared bench graph (shared/bench/gen.py + workload.py). For each round it reads the server process's CPU time
(/proc/<pid>/stat, all threads) and context switches (/proc/<pid>/task/*/status) before and after, so the figures
are the server's own cost per query, whatever the client costs. Several short rounds give a median that a busy
machine disturbs less than one long run. With --pid-b/--uri-b, rounds alternate between two servers (A/B)."""
import argparse
import glob
import os
import random
import statistics
import time

from neo4j import GraphDatabase

QUERIES = {
    "Q1": "MATCH (p:Person {id:$id}) RETURN p.name, p.age",
    "Q2": "MATCH (p:Person {id:$id})-[:KNOWS]->(f) RETURN count(f)",
    "R1": "RETURN $id",
    # One durable auto-commit CREATE per call, as the bench's W1 (ids above the loaded graph's).
    "W1": "CREATE (:Person {id:$id, name:$n, age:$a, city:$c})",
}


def params(query, rng, persons):
    if query == "W1":
        i = persons + rng.randrange(1 << 40)
        return {"id": i, "n": f"w{i}", "a": i % 90, "c": "C1"}
    return {"id": rng.randrange(persons)}
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def context_switches(pid):
    total = 0
    for path in glob.glob(f"/proc/{pid}/task/*/status"):
        try:
            for line in open(path):
                if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                    total += int(line.split()[1])
        except FileNotFoundError:  # a thread ended meanwhile
            pass
    return total


def round_once(session, pid, name, seconds, rng, persons):
    query = QUERIES[name]
    c0, s0, t0, n = cpu_seconds(pid), context_switches(pid), time.monotonic(), 0
    while time.monotonic() - t0 < seconds:
        session.run(query, params(name, rng, persons)).consume()
        n += 1
    elapsed = time.monotonic() - t0
    return n / elapsed, 1e6 * (cpu_seconds(pid) - c0) / n, (context_switches(pid) - s0) / n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--uri", required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--uri-b")
    ap.add_argument("--pid-b", type=int)
    ap.add_argument("--query", default="Q1", choices=sorted(QUERIES))
    ap.add_argument("--seconds", type=float, default=3)
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--persons", type=int, default=10000)
    a = ap.parse_args()
    targets = [("A", a.uri, a.pid)] + ([("B", a.uri_b, a.pid_b)] if a.uri_b else [])
    results = {name: [] for name, _, _ in targets}
    drivers = {name: GraphDatabase.driver(uri, auth=None) for name, uri, _ in targets}
    try:
        sessions = {name: drivers[name].session() for name in drivers}
        rng = random.Random(1)
        for name, _, _ in targets:  # warm-up: plan cache, page cache
            for _ in range(200):
                sessions[name].run(QUERIES[a.query], params(a.query, rng, a.persons)).consume()
        for _ in range(a.rounds):
            for name, _, pid in targets:
                results[name].append(round_once(sessions[name], pid, a.query, a.seconds, rng, a.persons))
        for s in sessions.values():
            s.close()
    finally:
        for d in drivers.values():
            d.close()
    for name, uri, _ in targets:
        rows = results[name]
        cpu = sorted(r[1] for r in rows)
        print(f"{name} {uri} {a.query}: median {statistics.median(cpu):.1f} µs server CPU/query "
              f"(rounds {cpu[0]:.1f}–{cpu[-1]:.1f}), {statistics.median(r[2] for r in rows):.2f} context switches/query, "
              f"median {statistics.median(r[0] for r in rows):,.0f} queries/s")


if __name__ == "__main__":
    main()
