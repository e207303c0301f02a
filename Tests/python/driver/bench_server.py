"""Small server-path benchmark (not a test; run by hand against a release build):
    TRELLIS_BIN=.build/release/trellis .venv-tests-6/bin/python Tests/python/driver/bench_server.py
Measures login cost (slow hash vs. auth cache), auto-commit round trips and small write transactions through
the official driver. Prints one markdown table. Bounded: each measurement runs at most DUR seconds."""
import os
import time

from neo4j import GraphDatabase

from conftest import PASSWORD, TrellisProcess

DUR = float(os.environ.get("DUR", "3"))


def rate(fn):
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < DUR and n < 50000:
        fn()
        n += 1
    elapsed = time.perf_counter() - start
    return n / elapsed, elapsed / n * 1e6


def logins(uri, count=20):
    start = time.perf_counter()
    for _ in range(count):
        with GraphDatabase.driver(uri, auth=("neo4j", PASSWORD)) as d:
            d.verify_connectivity()
    return (time.perf_counter() - start) / count * 1e3


def main():
    rows = []
    for ttl in ("0", "10m"):
        server = TrellisProcess(settings={"dbms.security.auth_cache_ttl": ttl})
        try:
            rows.append((f"new connection + login, auth_cache_ttl={ttl}", f"{logins(server.uri):.1f} ms"))
            if ttl == "10m":
                with GraphDatabase.driver(server.uri, auth=("neo4j", PASSWORD)) as d, d.session() as s:
                    ops, us = rate(lambda: s.run("RETURN 1 AS x").single())
                    rows.append(("auto-commit RETURN 1 (1 client)", f"{ops:.0f} ops/s, {us:.0f} µs/op"))
                    ops, us = rate(lambda: s.run("CREATE (:B {v: 1})").consume())
                    rows.append(("auto-commit CREATE (durable commit)", f"{ops:.0f} ops/s, {us:.0f} µs/op"))

                    def explicit():
                        with s.begin_transaction() as tx:
                            tx.run("MATCH (b:B) RETURN count(b)").single()
                            tx.commit()
                    ops, us = rate(explicit)
                    rows.append(("explicit tx BEGIN+RUN+COMMIT (read)", f"{ops:.0f} ops/s, {us:.0f} µs/op"))
        finally:
            server.stop()
    print("| measurement | result |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
