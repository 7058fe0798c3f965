"""Exemplars: stored in the registry, rendered in OpenMetrics only, returned by collect()."""

import time

import pytest

import metricore
from metricore import Counter, Histogram, generate_latest
from metricore.openmetrics.exposition import generate_latest as generate_openmetrics
from metricore.samples import Exemplar


def samples(registry, name):
    return [s for f in registry.collect() for s in f.samples if s.name == name]


def test_counter_and_histogram_exemplars_are_stored_and_collected(registry):
    c = Counter("calls", "Calls.", ["route"], registry=registry)
    h = Histogram("wait_seconds", "Wait.", buckets=[0.1, 1], registry=registry)
    before = time.time()
    c.labels("/a").inc(exemplar={"trace_id": "abc"})
    c.labels("/a").inc(2.5, exemplar={"trace_id": "def", "span_id": "1"})
    h.observe(0.5, exemplar={"trace_id": "h1"})
    h.observe(5, exemplar={"trace_id": "h2"})
    after = time.time()

    (total,) = samples(registry, "calls_total")
    assert total.value == 3.5
    assert total.exemplar.labels == {"trace_id": "def", "span_id": "1"}
    assert total.exemplar.value == 2.5
    assert before <= total.exemplar.timestamp <= after
    assert isinstance(total.exemplar, Exemplar)
    buckets = {s.labels["le"]: s for s in samples(registry, "wait_seconds_bucket")}
    assert buckets["0.1"].exemplar is None
    assert buckets["1.0"].exemplar == Exemplar({"trace_id": "h1"}, 0.5, buckets["1.0"].exemplar.timestamp)
    assert buckets["+Inf"].exemplar.labels == {"trace_id": "h2"}

    om = generate_openmetrics(registry).decode()
    assert 'calls_total{route="/a"} 3.5 # {trace_id="def",span_id="1"} 2.5 ' in om
    assert 'wait_seconds_bucket{le="+Inf"} 2.0 # {trace_id="h2"} 5.0 ' in om
    assert "trace_id" not in generate_latest(registry).decode()


def test_a_refused_exemplar_raises_after_recording(registry, monkeypatch):
    monkeypatch.setattr(metricore.validation, "_legacy", True)
    c = Counter("c", "C.", registry=registry)
    h = Histogram("h", "H.", registry=registry)
    with pytest.raises(ValueError):
        c.inc(exemplar={"trace_id": "x" * 121})
    with pytest.raises(ValueError):
        h.observe(1.0, exemplar={"1": "number"})
    assert registry.get_sample_value("c_total") == 1
    assert registry.get_sample_value("h_count") == 1
    assert all(s.exemplar is None for f in registry.collect() for s in f.samples)


def test_utf8_names_are_accepted_in_utf8_mode_and_not_stored(registry, monkeypatch):
    monkeypatch.setattr(metricore.validation, "_legacy", False)
    c = Counter("c", "C.", registry=registry)
    c.inc(exemplar={":o)": "smile"})
    (total,) = samples(registry, "c_total")
    assert total.value == 1 and total.exemplar is None


def test_exemplars_reach_other_processes(shared_path):
    import subprocess
    import sys

    code = (
        "import metricore, sys\n"
        "r = metricore.CollectorRegistry()\n"
        "metricore.use_shared(sys.argv[1], registry=r)\n"
        "metricore.Counter('jobs', 'Jobs.', registry=r).inc(exemplar={'trace_id': 'child'})\n"
    )
    subprocess.run([sys.executable, "-c", code, shared_path], check=True)
    r = metricore.CollectorRegistry()
    metricore.use_shared(shared_path, registry=r)
    Counter("jobs", "Jobs.", registry=r)
    (total,) = samples(r, "jobs_total")
    assert total.exemplar.labels == {"trace_id": "child"}
