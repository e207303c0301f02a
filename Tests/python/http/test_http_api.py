"""The HTTP API of a real `trellis console`, with a plain HTTP client (requests). Shapes and codes follow
shared/reference/http-api.md; section numbers are in the docstrings."""
import json
import re
import time
import warnings

import pytest
import requests

from conftest import Trellis

EXPIRES = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
                     r"\d{4} \d\d:\d\d:\d\d \+0000$")


def test_discovery_document(server):
    """§1: no auth needed; 3.x and 4.x keys; neo4j_version (the Python 6.x driver reads it)."""
    r = requests.get(server.url("/"), headers={"Accept": "application/json"}, timeout=10)
    assert r.status_code == 200
    doc = r.json()
    assert doc["neo4j_version"]
    assert doc["transaction"] == server.url("/db/{databaseName}/tx")
    assert doc["data"] == server.url("/db/data/")
    assert doc["bolt_direct"].startswith("bolt://")
    assert doc["bolt_routing"].startswith("neo4j://")


def test_auto_commit_with_parameters_rows_and_stats(clean):
    """§3/§4: parameters keep integers integral; row format; includeStats counters."""
    body = clean.commit(
        {"statement": "CREATE (n:Person {name: $name, age: $age}) RETURN n, n.age + 1 AS next",
         "parameters": {"name": "Ann", "age": 41}, "includeStats": True},
        {"statement": "RETURN $list AS l, $map AS m, 1.5 AS f, null AS nothing",
         "parameters": {"list": [1, "two", True], "map": {"k": [1, 2]}}},
    )
    assert body["errors"] == []
    first, second = body["results"]
    assert first["columns"] == ["n", "next"]
    assert first["data"][0]["row"] == [{"name": "Ann", "age": 41}, 42]
    meta = first["data"][0]["meta"]
    assert meta[0]["type"] == "node" and meta[0]["deleted"] is False and isinstance(meta[0]["id"], int)
    assert meta[1] is None
    stats = first["stats"]
    assert stats["contains_updates"] is True
    assert stats["nodes_created"] == 1
    assert stats["properties_set"] == 2
    assert stats["labels_added"] == 1
    assert "stats" not in second
    assert second["data"][0]["row"] == [[1, "two", True], {"k": [1, 2]}, 1.5, None]
    assert "commit" not in body and "transaction" not in body
    again = clean.commit("MATCH (n:Person {name: 'Ann'}) RETURN count(n) AS c")
    assert again["results"][0]["data"][0]["row"] == [1]


def test_graph_result_format(clean):
    """§4: graph has each node/relationship once, ids as strings, startNode/endNode."""
    clean.commit("CREATE (:Person {name: 'A'})-[:KNOWS {since: 2001}]->(:Person {name: 'B'})")
    body = clean.commit({"statement": "MATCH p = (a)-[r:KNOWS]->(b) RETURN p, a, r",
                         "resultDataContents": ["row", "graph"]})
    assert body["errors"] == []
    row = body["results"][0]["data"][0]
    assert row["row"][0] == [{"name": "A"}, {"since": 2001}, {"name": "B"}]
    assert [m["type"] for m in row["meta"][0]] == ["node", "relationship", "node"]
    graph = row["graph"]
    assert len(graph["nodes"]) == 2 and len(graph["relationships"]) == 1
    nodes = {n["properties"]["name"]: n for n in graph["nodes"]}
    rel = graph["relationships"][0]
    assert all(isinstance(n["id"], str) for n in graph["nodes"]) and isinstance(rel["id"], str)
    assert rel["type"] == "KNOWS" and rel["properties"] == {"since": 2001}
    assert rel["startNode"] == nodes["A"]["id"] and rel["endNode"] == nodes["B"]["id"]
    assert nodes["A"]["labels"] == ["Person"]


@pytest.mark.parametrize("base", ["/db/neo4j/tx", "/db/data/transaction"])
def test_explicit_transaction_commit(clean, base):
    """§2: begin 201 + Location + commit link + expires; run more; commit makes it visible."""
    r = clean.post(base, {"statements": [{"statement": "CREATE (:Tx {n: 1})"}]})
    assert r.status_code == 201, r.text
    location = r.headers["Location"]
    assert location.startswith(clean.url(base + "/"))
    body = r.json()
    assert body["commit"] == location + "/commit"
    assert EXPIRES.match(body["transaction"]["expires"]), body["transaction"]
    path = location[len(clean.url("")):]
    r = clean.post(path, {"statements": [{"statement": "CREATE (:Tx {n: 2})"}]})
    assert r.status_code == 200 and r.json()["errors"] == []
    r = clean.post(path + "/commit", {"statements": [{"statement": "MATCH (t:Tx) RETURN count(t)"}]})
    assert r.status_code == 200
    body = r.json()
    assert body["errors"] == [] and body["results"][0]["data"][0]["row"] == [2]
    assert "commit" not in body
    assert clean.commit("MATCH (t:Tx) RETURN count(t)")["results"][0]["data"][0]["row"] == [2]
    gone = clean.post(path, {"statements": []})
    assert gone.status_code == 404
    assert gone.json()["errors"][0]["code"] == "Neo.ClientError.Transaction.TransactionNotFound"


def test_rollback_with_delete(clean):
    """§2: DELETE rolls back: 200 with empty results and errors; nothing written; the id is gone."""
    r = clean.post("/db/neo4j/tx", {"statements": [{"statement": "CREATE (:Gone)"}]})
    path = r.headers["Location"][len(clean.url("")):]
    d = requests.delete(clean.url(path), auth=clean.auth, timeout=10)
    assert d.status_code == 200
    assert d.json() == {"results": [], "errors": []}
    assert clean.commit("MATCH (g:Gone) RETURN count(g)")["results"][0]["data"][0]["row"] == [0]
    assert requests.delete(clean.url(path), auth=clean.auth, timeout=10).status_code == 404


def test_statement_error_rolls_back(clean):
    """§4: a syntax error comes back in errors with 200; earlier results stay; the transaction is rolled back."""
    r = clean.post("/db/neo4j/tx", {"statements": []})
    path = r.headers["Location"][len(clean.url("")):]
    r = clean.post(path, {"statements": [{"statement": "CREATE (:Err) RETURN 1"}, {"statement": "RETRUN 1"},
                                         {"statement": "CREATE (:Err)"}]})
    assert r.status_code == 200
    body = r.json()
    assert len(body["results"]) == 1
    assert body["errors"][0]["code"] == "Neo.ClientError.Statement.SyntaxError"
    assert "transaction" not in body and "commit" not in body
    assert clean.post(path + "/commit", {"statements": []}).status_code == 404
    assert clean.commit("MATCH (e:Err) RETURN count(e)")["results"][0]["data"][0]["row"] == [0]


def test_malformed_body_is_refused(server):
    r = requests.post(server.url("/db/neo4j/tx/commit"), data=b'{"statements": [', auth=server.auth,
                      headers={"Content-Type": "application/json"}, timeout=10)
    assert r.status_code == 400
    assert r.json()["errors"][0]["code"] == "Neo.ClientError.Request.InvalidFormat"


def test_authentication(server):
    """§4/§5: 401 + WWW-Authenticate without or with wrong credentials; broken header is InvalidFormat."""
    body = {"statements": [{"statement": "RETURN 1"}]}
    r = requests.post(server.url("/db/neo4j/tx/commit"), json=body, timeout=10)
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"] == 'Basic realm="Neo4j"'
    assert r.json()["errors"][0]["code"] == "Neo.ClientError.Security.Unauthorized"
    r = requests.post(server.url("/db/neo4j/tx/commit"), json=body, auth=("neo4j", "wrong"), timeout=10)
    assert r.status_code == 401
    r = requests.post(server.url("/db/neo4j/tx/commit"), json=body, headers={"Authorization": "Basic %%%"},
                      timeout=10)
    assert r.status_code == 401
    assert r.json()["errors"][0]["code"] == "Neo.ClientError.Request.InvalidFormat"


def test_ha_endpoints_on_a_single_instance(server):
    """neo4j-ha.md §7: a non-HA server answers 403 on the HA status paths."""
    for name in ["master", "slave", "available"]:
        r = requests.get(server.url(f"/db/manage/server/ha/{name}"), auth=server.auth, timeout=10)
        assert r.status_code == 403, (name, r.status_code, r.text)


def test_query_api_v2(clean):
    """§8: implicit transaction with typed JSON in and out; explicit transaction begin/run/commit."""
    typed = {"Content-Type": "application/vnd.neo4j.query", "Accept": "application/vnd.neo4j.query"}
    r = requests.post(clean.url("/db/neo4j/query/v2"), auth=clean.auth, headers=typed, timeout=10, json={
        "statement": "CREATE (n:V2 {x: $x}) RETURN n.x AS x, $s AS s", "includeCounters": True,
        "parameters": {"x": {"$type": "Integer", "_value": "7"}, "s": "plain"}})
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["data"]["fields"] == ["x", "s"]
    assert body["data"]["values"] == [[{"$type": "Integer", "_value": "7"}, {"$type": "String", "_value": "plain"}]]
    assert body["counters"]["nodesCreated"] == 1
    r = requests.post(clean.url("/db/neo4j/query/v2/tx"), auth=clean.auth, json={}, timeout=10)
    assert r.status_code == 202
    tx = r.json()["transaction"]["id"]
    r = requests.post(clean.url(f"/db/neo4j/query/v2/tx/{tx}"), auth=clean.auth, timeout=10,
                      json={"statement": "CREATE (:V2 {x: 8})"})
    assert r.status_code == 202, r.text
    r = requests.post(clean.url(f"/db/neo4j/query/v2/tx/{tx}/commit"), auth=clean.auth, json={}, timeout=10)
    assert r.status_code == 202, r.text
    r = requests.post(clean.url("/db/neo4j/query/v2"), auth=clean.auth, timeout=10,
                      json={"statement": "MATCH (n:V2) RETURN n.x ORDER BY n.x"})
    assert r.json()["data"]["values"] == [[7], [8]]
    bad = requests.post(clean.url("/db/neo4j/query/v2"), auth=clean.auth, json={"statement": "RETRUN"}, timeout=10)
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["code"] == "Neo.ClientError.Statement.SyntaxError"


def test_request_log(server):
    """logs/http.log gets an NCSA line per request when dbms.logs.http.enabled=true."""
    requests.get(server.url("/?marker=http-log-check"), timeout=10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if "GET /?marker=http-log-check HTTP/1.1\" 200" in server.log("http.log"):
            return
        time.sleep(0.2)
    pytest.fail("no http.log line for the request:\n" + server.log("http.log")[-2000:])


def test_idle_transaction_expires():
    """§2: dbms.rest.transaction.idle_timeout rolls back an idle transaction; the id then gives 404."""
    s = Trellis(settings={"dbms.rest.transaction.idle_timeout": "1s"}, password=None)
    try:
        r = s.post("/db/neo4j/tx", {"statements": [{"statement": "CREATE (:Idle)"}]})
        assert r.status_code == 201
        path = r.headers["Location"][len(s.url("")):]
        time.sleep(2.5)
        r = s.post(path + "/commit", {"statements": []})
        assert r.status_code == 404
        assert r.json()["errors"][0]["code"] == "Neo.ClientError.Transaction.TransactionNotFound"
        assert s.commit("MATCH (i:Idle) RETURN count(i)")["results"][0]["data"][0]["row"] == [0]
    finally:
        s.stop()


def test_python_driver_over_http(clean):
    """The official Python 6.x driver with an http:// URI talks to the Query API (§8)."""
    neo4j = pytest.importorskip("neo4j")
    if int(neo4j.__version__.split(".")[0]) < 6:
        pytest.skip("the http:// scheme needs driver 6.x")
    # Over HTTP the driver cannot resolve a home database, so the database is named. The driver marks its HTTP
    # support as a preview feature; that warning is expected here.
    warnings.simplefilter("ignore", neo4j.warnings.PreviewWarning)
    with neo4j.GraphDatabase.driver(clean.url(""), auth=clean.auth) as driver:
        records, summary, keys = driver.execute_query("CREATE (n:Drv {name: $name}) RETURN n.name AS name, 40 + 2 AS n",
                                                      name="via-http", database_="neo4j")
        assert keys == ["name", "n"]
        assert records[0]["name"] == "via-http" and records[0]["n"] == 42
        assert summary.counters.nodes_created == 1
        with driver.session(database="neo4j") as session:
            count = session.execute_read(lambda tx: tx.run("MATCH (n:Drv) RETURN count(n) AS c").single()["c"])
        assert count == 1
        with pytest.raises(neo4j.exceptions.CypherSyntaxError):
            driver.execute_query("RETRUN 1", database_="neo4j")


def test_large_result_streams(server):
    """Results stream in chunks (Transfer-Encoding: chunked) rather than being built whole."""
    r = server.post("/db/neo4j/tx/commit", {"statements": [{"statement": "UNWIND range(1, 30000) AS i RETURN i"}]},
                    stream=True)
    assert r.status_code == 200
    assert r.headers.get("Transfer-Encoding") == "chunked"
    chunks = 0
    body = b""
    for chunk in r.raw.stream(65536, decode_content=False):
        chunks += 1
        body += chunk
    assert chunks >= 2
    data = json.loads(body)["results"][0]["data"]
    assert len(data) == 30000 and data[-1]["row"] == [30000]
