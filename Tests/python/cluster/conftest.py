"""Pytest glue for the failover drills: module-scoped clusters, and the members' log tails printed when a drill
fails (the processes are gone by the time anyone reads the CI output)."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

import harness  # noqa: E402


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        item.session.__dict__.setdefault("cluster_failures", True)
        for cluster in item.session.__dict__.get("live_clusters", []):
            report.sections.append(("cluster logs", cluster.log_tails()))


def make_cluster(request, cluster_class=None, **kwargs):
    """Starts a cluster for a test module; stops it (and removes its folders) when the module is done."""
    cluster = (cluster_class or harness.Cluster)(**kwargs)
    live = request.session.__dict__.setdefault("live_clusters", [])
    live.append(cluster)
    try:
        cluster.start()
    except BaseException:
        print(cluster.log_tails())
        live.remove(cluster)
        cluster.stop()
        raise
    request.addfinalizer(lambda: (live.remove(cluster), cluster.stop()))
    return cluster
