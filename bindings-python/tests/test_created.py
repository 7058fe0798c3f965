"""``_created`` samples: the time a series was made (Python's ``time.time()``), kept in
the registry file, set anew by ``Counter.reset()``, switched off and on as in
``prometheus_client``."""

import time

import metricore
from metricore import Counter, Gauge, Histogram, Summary, generate_latest
from metricore.multiprocess import MultiProcessCollector
from metricore.openmetrics.exposition import generate_latest as generate_om

CREATED = True


def test_created_is_the_time_each_series_was_made(registry, monkeypatch):
    monkeypatch.setattr(time, "time", lambda: 100.5)
    c = Counter("jobs", "Jobs.", ["q"], registry=registry)
    c.labels("a").inc()
    Histogram("lat", "Latency.", buckets=[1], registry=registry).observe(0.5)
    monkeypatch.setattr(time, "time", lambda: 200.25)
    c.labels("b").inc(2)
    Summary("size", "Size.", registry=registry).observe(3)
    Gauge("depth", "Depth.", registry=registry).set(1)
    assert registry.get_sample_value("jobs_created", {"q": "a"}) == 100.5
    assert registry.get_sample_value("jobs_created", {"q": "b"}) == 200.25
    assert registry.get_sample_value("lat_created") == 100.5
    assert registry.get_sample_value("size_created") == 200.25
    assert registry.get_sample_value("depth_created") is None
    text = generate_latest(registry).decode()
    assert (
        "jobs_total{q=\"b\"} 2.0\n# HELP jobs_created Jobs.\n# TYPE jobs_created gauge\n"
        "jobs_created{q=\"a\"} 100.5\njobs_created{q=\"b\"} 200.25\n"
    ) in text, text
    om = generate_om(registry).decode()
    assert "jobs_total{q=\"a\"} 1.0\njobs_created{q=\"a\"} 100.5\njobs_total{q=\"b\"}" in om, om
    assert "lat_sum 0.5\nlat_created 100.5\n" in om, om


def test_reset_zeroes_the_counter_and_restamps_it(registry, monkeypatch):
    monkeypatch.setattr(time, "time", lambda: 10.0)
    c = Counter("jobs", "Jobs.", registry=registry)
    c.inc(3)
    c.inc(0.5)
    monkeypatch.setattr(time, "time", lambda: 20.0)
    c.reset()
    assert registry.get_sample_value("jobs_total") == 0
    assert registry.get_sample_value("jobs_created") == 20.0
    c.inc()
    assert registry.get_sample_value("jobs_total") == 1


def test_disable_and_enable_switch_every_render(registry):
    Counter("jobs", "Jobs.", registry=registry).inc()
    metricore.disable_created_metrics()
    assert registry.get_sample_value("jobs_created") is None
    assert b"_created" not in generate_latest(registry)
    metricore.enable_created_metrics()
    assert abs(registry.get_sample_value("jobs_created") - time.time()) < 60


def test_the_environment_variable_turns_them_off(monkeypatch):
    monkeypatch.setenv("PROMETHEUS_DISABLE_CREATED_SERIES", "True")
    assert metricore.metrics._get_use_created() is False
    monkeypatch.setenv("PROMETHEUS_DISABLE_CREATED_SERIES", "false")
    assert metricore.metrics._get_use_created() is True


def test_created_is_kept_in_the_shared_file(shared_path, monkeypatch, tmp_path):
    monkeypatch.setattr(time, "time", lambda: 42.0)
    a = metricore.CollectorRegistry()
    metricore.use_shared(shared_path, registry=a)
    Counter("jobs", "Jobs.", registry=a).inc()
    monkeypatch.setattr(time, "time", lambda: 99.0)
    b = metricore.CollectorRegistry()
    metricore.use_shared(shared_path, registry=b)
    assert b.get_sample_value("jobs_created") == 42.0
    assert b.get_sample_value("jobs_total") == 1


def test_a_multiprocess_collector_renders_none(tmp_path, monkeypatch):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    registry = metricore.CollectorRegistry()
    MultiProcessCollector(registry)
    shared = metricore.CollectorRegistry()
    metricore.use_shared(str(tmp_path / "metricore.registry"), registry=shared)
    Counter("jobs", "Jobs.", registry=shared).inc()
    assert registry.get_sample_value("jobs_total") == 1
    assert registry.get_sample_value("jobs_created") is None
    assert shared.get_sample_value("jobs_created") is not None
