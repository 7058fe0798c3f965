"""install_as_prometheus_client: code that imports prometheus_client gets metricore."""

import subprocess
import sys

CODE = """
import metricore
metricore.install_as_prometheus_client()
import prometheus_client
from prometheus_client.core import CounterMetricFamily
import prometheus_client.openmetrics.exposition as om
assert prometheus_client is metricore, prometheus_client
assert CounterMetricFamily.__module__ == "metricore.metrics_core", CounterMetricFamily.__module__
assert om.__name__ == "metricore.openmetrics.exposition", om.__name__
assert om.__spec__.name == "metricore.openmetrics.exposition", om.__spec__
c = prometheus_client.Counter("jobs", "Jobs.", registry=metricore.REGISTRY)
c.inc(3)
assert metricore.REGISTRY.get_sample_value("jobs_total") == 3
try:
    import prometheus_client.no_such_module
except ModuleNotFoundError:
    pass
else:
    raise AssertionError("a module metricore lacks imported")
print("ok")
"""


def test_prometheus_client_resolves_to_metricore():
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_an_imported_prometheus_client_is_replaced():
    code = "import prometheus_client, sys\n" + CODE
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
