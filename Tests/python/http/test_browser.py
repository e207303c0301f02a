"""The /browser/ page in a real headless browser (Debian's chromium): it loads, runs a query through the
transactional endpoint, shows the rows as a table and draws the graph."""
import os
import shutil
import subprocess
import tempfile
from urllib.parse import quote, urlencode

import requests

from conftest import PASSWORD


def chromium_binary():
    for name in ["chromium", "chromium-browser", "google-chrome"]:
        path = shutil.which(name)
        if path:
            return path
    raise AssertionError("chromium is not installed (run_http.sh installs Debian's chromium)")


def test_page_is_self_contained(server):
    r = requests.get(server.url("/browser/"), timeout=10)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/html")
    assert "<script src" not in r.text and "<link" not in r.text


def test_page_runs_a_query_and_shows_rows(clean):
    clean.commit("CREATE (:Person {name: 'Browser Ann'})-[:KNOWS]->(:Person {name: 'Browser Bob'})")
    fragment = urlencode({"query": "MATCH (a:Person)-[r:KNOWS]->(b) RETURN a.name AS name, a, r, b",
                          "user": "neo4j", "password": PASSWORD, "run": "1"}, quote_via=quote)
    profile = tempfile.mkdtemp(prefix="trellis-chromium-")
    try:
        out = subprocess.run(
            [chromium_binary(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             f"--user-data-dir={profile}", "--virtual-time-budget=20000", "--dump-dom",
             clean.url("/browser/") + "#" + fragment],
            capture_output=True, timeout=180)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    dom = out.stdout.decode("utf-8", "replace")
    assert 'class="result-row"' in dom, dom[-3000:] + out.stderr.decode("utf-8", "replace")[-2000:]
    assert "<td>Browser Ann</td>" in dom
    assert "1 rows, 2 nodes, 1 relationships" in dom
    assert dom.count("<circle") == 2  # the drawn graph: two nodes
    assert ">KNOWS</text>" in dom
