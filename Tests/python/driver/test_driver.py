"""The official driver against a real Trellis process: queries, transactions, bookmarks, routing, errors."""
import threading

import pytest
from neo4j import GraphDatabase, READ_ACCESS, Query
from neo4j.exceptions import AuthError, ClientError, CypherSyntaxError, ConstraintError, TransientError

from conftest import PASSWORD


def test_session_run_returns_records(driver):
    with driver.session() as s:
        rec = s.run("RETURN 1 AS x, 'a' AS y").single()
        assert rec["x"] == 1 and rec["y"] == "a"
        assert list(s.run("UNWIND range(1, 5) AS i RETURN i").value()) == [1, 2, 3, 4, 5]


def test_large_result_streams_in_batches(driver):
    with driver.session(fetch_size=100) as s:
        total = sum(r["i"] for r in s.run("UNWIND range(1, 20000) AS i RETURN i"))
    assert total == 20000 * 20001 // 2


def test_nodes_relationships_and_paths_come_back_as_graph_types(clean):
    with clean.session() as s:
        rec = s.run("CREATE p = (a:Person {name: 'Ann'})-[r:KNOWS {since: 2020}]->(b:Person:Admin {name: 'Bob'}) "
                    "RETURN a, r, b, p").single()
    a, r, b, p = rec["a"], rec["r"], rec["b"], rec["p"]
    assert set(a.labels) == {"Person"} and a["name"] == "Ann"
    assert set(b.labels) == {"Person", "Admin"}
    assert r.type == "KNOWS" and r["since"] == 2020
    assert r.start_node.element_id == a.element_id and r.end_node.element_id == b.element_id
    assert [n["name"] for n in p.nodes] == ["Ann", "Bob"]
    assert len(p.relationships) == 1


def test_execute_write_and_read(clean):
    def create(tx, name):
        return tx.run("CREATE (n:Item {name: $name}) RETURN n.name AS name", name=name).single()["name"]

    with clean.session() as s:
        assert s.execute_write(create, "one") == "one"
        count = s.execute_read(lambda tx: tx.run("MATCH (n:Item) RETURN count(n) AS c").single()["c"])
    assert count == 1


def test_explicit_transaction_commit_and_rollback(clean):
    with clean.session() as s:
        tx = s.begin_transaction()
        tx.run("CREATE (:T {v: 1})")
        assert tx.run("MATCH (n:T) RETURN count(n) AS c").single()["c"] == 1
        tx.rollback()
        assert s.run("MATCH (n:T) RETURN count(n) AS c").single()["c"] == 0
        with s.begin_transaction(metadata={"app": "tests"}, timeout=30) as tx:
            tx.run("CREATE (:T {v: 2})")
            tx.commit()
        assert s.run("MATCH (n:T) RETURN n.v AS v").single()["v"] == 2


def test_bookmarks_chain_sessions(clean):
    with clean.session() as s1:
        s1.run("CREATE (:B {v: 42})").consume()
        bookmarks = s1.last_bookmarks()
    assert bookmarks
    with clean.session(bookmarks=bookmarks) as s2:
        assert s2.run("MATCH (n:B) RETURN n.v AS v").single()["v"] == 42


def test_concurrent_write_commits_get_distinct_exact_bookmarks(clean):
    """Each write commit's bookmark names its own transaction, so commits racing each other never share one."""
    bookmarks = []
    errors = []
    lock = threading.Lock()

    def writer():
        try:
            for _ in range(25):
                with clean.session() as s:
                    s.execute_write(lambda tx: tx.run("CREATE (:Bm)").consume())
                    with lock:
                        bookmarks.extend(s.last_bookmarks().raw_values)
        except Exception as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert len(bookmarks) == 100
    assert len(set(bookmarks)) == 100, sorted(bookmarks)


def test_routing_driver_reads_and_writes(server):
    with GraphDatabase.driver(server.routing_uri, auth=("neo4j", PASSWORD)) as d:
        d.verify_connectivity()
        with d.session() as s:
            s.execute_write(lambda tx: tx.run("CREATE (:Routed)").consume())
            n = s.execute_read(lambda tx: tx.run("MATCH (n:Routed) RETURN count(n) AS c").single()["c"])
        assert n >= 1
        records, _, _ = d.execute_query("CALL dbms.cluster.routing.getRoutingTable({}) YIELD servers RETURN servers")
        roles = {s["role"]: s["addresses"] for s in records[0]["servers"]}
        assert roles["WRITE"] == [f"127.0.0.1:{server.bolt_port}"]
        assert roles["READ"] == roles["ROUTE"] == roles["WRITE"]


def test_read_session_refuses_writes(driver):
    with driver.session(default_access_mode=READ_ACCESS) as s:
        with pytest.raises(ClientError) as e:
            s.run("CREATE (:NotAllowed)").consume()
    assert e.value.code == "Neo.ClientError.Statement.AccessMode"


def test_errors_surface_as_driver_exception_classes(clean):
    with clean.session() as s:
        with pytest.raises(CypherSyntaxError):
            s.run("RETRUN 1").consume()
        s.run("CREATE CONSTRAINT ON (u:U) ASSERT u.id IS UNIQUE").consume()
        s.run("CREATE (:U {id: 1})").consume()
        with pytest.raises(ConstraintError):
            s.run("CREATE (:U {id: 1})").consume()
        s.run("DROP CONSTRAINT ON (u:U) ASSERT u.id IS UNIQUE").consume()
        # The session stays usable after failures.
        assert s.run("RETURN 2 AS x").single()["x"] == 2


def test_a_bookmark_this_instance_has_not_reached_is_a_transient_error():
    from conftest import TrellisProcess
    server = TrellisProcess(settings={"dbms.transaction.bookmark_ready_timeout": "1s"})
    try:
        with GraphDatabase.driver(server.uri, auth=("neo4j", PASSWORD)) as d:
            from neo4j import Bookmarks
            with d.session(bookmarks=Bookmarks.from_raw_values(["FB:trellis:tx:999999999"])) as s:
                with pytest.raises(TransientError) as e:
                    s.run("RETURN 1").consume()
            assert e.value.code == "Neo.TransientError.Transaction.BookmarkTimeout"
            with d.session(bookmarks=Bookmarks.from_raw_values(["not-ours"])) as s:
                with pytest.raises(ClientError) as e:
                    s.run("RETURN 1").consume()
            assert e.value.code == "Neo.ClientError.Transaction.InvalidBookmark"
    finally:
        server.stop()


def test_wrong_password_is_an_auth_error(server):
    with GraphDatabase.driver(server.uri, auth=("neo4j", "wrong")) as d:
        with pytest.raises(AuthError):
            d.verify_connectivity()


def test_deadlocks_are_transient_and_retried_by_transaction_functions(clean):
    """Two writers lock two nodes in opposite orders; the loser's DeadlockDetected is a TransientError,
    which execute_write retries, so both increments land."""
    clean.execute_query("CREATE (:Acc {id: 1, n: 0}), (:Acc {id: 2, n: 0})")
    barrier = threading.Barrier(2)
    errors = []

    def work(first, second):
        def tx_fn(tx):
            tx.run("MATCH (a:Acc {id: $id}) SET a.n = a.n + 1", id=first).consume()
            try:
                barrier.wait(timeout=2)
            except threading.BrokenBarrierError:
                pass
            tx.run("MATCH (a:Acc {id: $id}) SET a.n = a.n + 1", id=second).consume()
        try:
            with clean.session() as s:
                s.execute_write(tx_fn)
        except Exception as e:  # surfaced to the assertion below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(1, 2)), threading.Thread(target=work, args=(2, 1))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    records, _, _ = clean.execute_query("MATCH (a:Acc) RETURN a.id AS id, a.n AS n ORDER BY id")
    assert [(r["id"], r["n"]) for r in records] == [(1, 2), (2, 2)]


def test_transaction_timeout_rolls_back(clean):
    with clean.session() as s:
        tx = s.begin_transaction(timeout=0.2)
        tx.run("CREATE (:Slow)").consume()
        import time
        time.sleep(0.5)
        with pytest.raises(ClientError) as e:
            tx.run("RETURN 1").consume()
        assert "TransactionTimedOut" in e.value.code or "Terminated" in e.value.code
        tx.close()
    assert clean.execute_query("MATCH (n:Slow) RETURN count(n) AS c").records[0]["c"] == 0


def test_idle_transaction_past_its_timeout_releases_its_locks(clean):
    """A client opens a transaction, takes a write lock and then sends nothing more. Once the transaction's
    time-out passes the server rolls it back on its own, so another writer gets the lock; the silent client's
    next message fails with TransactionTimedOut and its change is gone."""
    clean.execute_query("CREATE (:Held {id: 1, n: 0})")
    with clean.session() as holder:
        tx = holder.begin_transaction(timeout=1.0)
        tx.run("MATCH (h:Held {id: 1}) SET h.n = 1").consume()
        # Waits for the holder's lock; bounded by its own time-out so a broken reaper fails instead of hanging.
        with clean.session() as writer:
            writer.run(Query("MATCH (h:Held {id: 1}) SET h.n = 2", timeout=30)).consume()
        with pytest.raises(ClientError) as e:
            tx.run("RETURN 1").consume()
        assert e.value.code == "Neo.ClientError.Transaction.TransactionTimedOut"
        tx.close()
    assert clean.execute_query("MATCH (h:Held) RETURN h.n AS n").records[0]["n"] == 2


def test_version_and_components(driver):
    info = driver.get_server_info()
    assert info.agent.startswith("Neo4j/")
    records, _, _ = driver.execute_query("CALL dbms.components() YIELD name, versions, edition RETURN *")
    assert records[0]["name"] == "Neo4j Kernel"


def test_list_and_kill_queries_and_transactions(driver):
    import time
    with driver.session() as holder:
        tx = holder.begin_transaction(metadata={"app": "ops-test"})
        tx.run("RETURN 1").consume()
        records, _, _ = driver.execute_query("CALL dbms.listTransactions() YIELD transactionId, metaData, username "
                                             "RETURN transactionId, metaData, username")
        assert any(r["metaData"] == {"app": "ops-test"} and r["username"] == "neo4j" for r in records)
        tx.rollback()

    outcome = {}

    def long_query():
        try:
            with driver.session() as s:
                # Termination is checked at each kernel access, so the statement must touch the graph per row.
                s.run("UNWIND range(1, 2000000000) AS i MATCH (n) WHERE n.never = i RETURN count(*)").consume()
            outcome["result"] = "finished"
        except Exception as e:  # the kill surfaces here
            outcome["result"] = e

    import threading
    t = threading.Thread(target=long_query)
    t.start()
    target = None
    for _ in range(100):
        records, _, _ = driver.execute_query("CALL dbms.listQueries() YIELD queryId, query RETURN queryId, query")
        target = next((r["queryId"] for r in records if "2000000000" in r["query"]), None)
        if target:
            break
        time.sleep(0.05)
    assert target, "the running query is listed"
    killed, _, _ = driver.execute_query("CALL dbms.killQuery($id)", id=target)
    assert killed[0]["message"] == "Query found"
    t.join(30)
    assert not t.is_alive()
    assert isinstance(outcome["result"], Exception) and "Terminated" in str(outcome["result"])
    missing, _, _ = driver.execute_query("CALL dbms.killQuery('query-999999')")
    assert missing[0]["message"] == "No Query found with this id"
