"""query.log and http.log as an operator sees them (neo4j-ops.md §4)."""
import os
import re
import urllib.request

from neo4j import GraphDatabase

from conftest import PASSWORD, TrellisProcess


def test_query_log_records_queries_with_parameters_and_masks_passwords():
    server = TrellisProcess(settings={"dbms.logs.query.enabled": "true", "dbms.logs.query.threshold": "0s",
                                      "dbms.logs.http.enabled": "true"})
    try:
        with GraphDatabase.driver(server.uri, auth=("neo4j", PASSWORD)) as d:
            d.execute_query("RETURN $x AS x", x=41, database_=None)
            d.execute_query("CALL dbms.security.createUser('someone', 'hunter2', false)")
            try:
                d.execute_query("RETRUN 1")
            except Exception:
                pass
        urllib.request.urlopen(f"http://127.0.0.1:{server.http_port}/").read()
        server.stop_process_only()
        log = server.log("query.log")
        line = next(l for l in log.splitlines() if "RETURN $x AS x" in l)
        assert re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\+0000 INFO  \d+ ms: ", line), line
        assert "{x: 41}" in line and "neo4j" in line
        assert "hunter2" not in log and "createUser('******', '******', false)" in log
        assert any(" ERROR " in l and "RETRUN 1" in l and "SyntaxError" in l for l in log.splitlines())
        http = server.log("http.log")
        assert '"GET / HTTP/1.1" 200' in http
    finally:
        server.stop()


def test_debug_log_has_startup_and_rotates_files_in_place():
    server = TrellisProcess()
    try:
        server.stop_process_only()
        debug = server.log("debug.log")
        assert "Started." in debug and "database open" in debug
        assert "Stopped." in server.log("trellis.log")
    finally:
        server.stop()
