"""deploy/: the Prometheus config is valid, and every query of the Grafana dashboard is
valid PromQL that returns data from `metricore demo` (which records the dashboard's
metrics) once a real Prometheus has scraped it."""

import json
import os
import subprocess
import urllib.parse

import pytest

from conftest import METRICORE, ROOT, Prometheus

DASHBOARD = os.path.join(ROOT, "deploy", "grafana", "metricore-llm-gateway.json")
# Values for the dashboard's variables; the rate window spans several 1 s scrapes.
VARIABLES = {"$__rate_interval": "5s", "$model": ".*", "$namespace": ".*", "${svc}": "http"}


def test_prometheus_config_is_valid():
    r = subprocess.run(
        ["promtool", "check", "config", os.path.join(ROOT, "deploy", "prometheus.yml")],
        capture_output=True, text=True, timeout=30,
    )
    assert r.returncode == 0, r.stdout + r.stderr


def dashboard_queries():
    with open(DASHBOARD) as f:
        dashboard = json.load(f)
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"]
            for name, value in VARIABLES.items():
                expr = expr.replace(name, value)
            yield panel["title"], expr


@pytest.fixture(scope="module")
def demo_prometheus(built, module_processes, module_dir):
    demo = module_processes("metricore-demo", [METRICORE, "demo", "--listen", "127.0.0.1:0"])
    url = demo.wait_for_line(r"serving it at (http://\S+/metrics)", 30).group(1)
    return Prometheus(module_processes, module_dir, urllib.parse.urlparse(url).netloc)


def test_dashboard_queries_return_data_from_the_demo(demo_prometheus):
    queries = list(dashboard_queries())
    assert len(queries) >= 20
    for title, expr in queries:
        # Valid PromQL, whatever the data.
        demo_prometheus.query(expr)
        # The token service is not part of the demo, and nothing overflows there.
        if "http_" in expr or "overflow" in expr:
            continue
        demo_prometheus.wait_for(f"{title}: {expr}", expr, timeout=30)
