"""The same metrics recorded with metricore and with prometheus_client render the same
families, read back by prometheus_client's own parsers in both formats, ``_created``
samples included."""

import math
import os
import time

import prometheus_client
import prometheus_client.openmetrics.exposition as pc_om
import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_om
from prometheus_client.parser import text_string_to_metric_families as parse_text

import metricore
import metricore.openmetrics.exposition as mc_om

CREATED = True

WEIRD = 'q"uote \\ back\nline é 模型'


def record(lib, registry):
    """Defines and records one set of metrics with `lib` (either module)."""
    c = lib.Counter("requests_total", "Requests served.", ["model", "namespace"], registry=registry)
    c.labels("gpt-4", "wechat").inc()
    c.labels(model="gpt-4", namespace="web").inc(3)
    c.labels("llama-3", WEIRD).inc(0.25)
    lib.Counter("bytes", "Bytes.", namespace="app", subsystem="io", unit="bytes", registry=registry).inc(1024)
    lib.Counter("unused", "Never used, with labels.", ["x"], registry=registry)
    g = lib.Gauge("inflight", "In flight.", ["api"], registry=registry)
    g.labels("chat").set(3)
    g.labels("embed").inc(2.5)
    g.labels("embed").dec()
    lib.Gauge("temperature", "Temp.", unit="celsius", registry=registry).set(-4.5)
    h = lib.Histogram("latency_seconds", "Latency.", ["model"], registry=registry)
    for v in (0.001, 0.02, 0.3, 0.3, 4, 11):
        h.labels("gpt-4").observe(v)
    h2 = lib.Histogram("tokens", "Tokens.", registry=registry, buckets=[1, 10, 100, 1000])
    for v in (0, 5, 50, 500, 5000):
        h2.observe(v)
    s = lib.Summary("payload", "Payload size.", ["route"], registry=registry)
    s.labels("/a").observe(10)
    s.labels("/a").observe(2.5)
    lib.Info("build", "Build info.", registry=registry).info({"version": "1.2.3", "commit": "abc"})
    i = lib.Info("shard", "Shard info.", ["id"], registry=registry)
    i.labels("7").info({"zone": "eu"})
    e = lib.Enum("worker_state", "Worker state.", ["worker"], states=["idle", "busy", "dead"], registry=registry)
    e.labels("w1").state("busy")
    e.labels("w2")


def ours(text_or_om):
    r = metricore.CollectorRegistry()
    record(metricore, r)
    return (mc_om if text_or_om == "om" else metricore).generate_latest(r).decode()


def theirs(text_or_om):
    r = prometheus_client.CollectorRegistry()
    record(prometheus_client, r)
    return (pc_om if text_or_om == "om" else prometheus_client).generate_latest(r).decode()


def by_name(families):
    return {f.name: f for f in families if not f.name.startswith("metricore_")}


def samples(family):
    out = {}
    for s in family.samples:
        key = (s.name, tuple(sorted(s.labels.items())))
        assert key not in out, f"duplicate sample {key}"
        out[key] = s.value
    return out


@pytest.mark.parametrize("fmt,parse", [("text", parse_text), ("om", parse_om)])
def test_families_match_prometheus_client(fmt, parse):
    mine = by_name(parse(ours(fmt)))
    peer = by_name(parse(theirs(fmt)))
    assert sorted(mine) == sorted(peer)
    for name, p in peer.items():
        m = mine[name]
        assert (m.type, m.documentation, m.unit) == (p.type, p.documentation, p.unit), name
        ms, ps = samples(m), samples(p)
        assert ms.keys() == ps.keys(), name
        for key, v in ps.items():
            if key[0].endswith("_created"):
                # Both are the time of the series' creation, moments apart.
                assert abs(ms[key] - v) < 60 and abs(v - time.time()) < 60, (name, key, ms[key], v)
            else:
                assert math.isclose(ms[key], v, rel_tol=1e-12), (name, key, ms[key], v)


def test_openmetrics_ends_with_eof_and_has_units():
    text = ours("om")
    assert text.endswith("# EOF\n")
    assert "# UNIT app_io_bytes bytes\n" in text
    assert "# UNIT temperature_celsius celsius\n" in text


def test_our_parser_reads_what_prometheus_client_renders():
    from metricore.openmetrics.parser import text_string_to_metric_families as ours_om
    from metricore.parser import text_string_to_metric_families as ours_text

    for fmt, parse, ours_parse in (("text", parse_text, ours_text), ("om", parse_om, ours_om)):
        text = theirs(fmt)
        peer = by_name(parse(text))
        mine = by_name(ours_parse(text))
        assert sorted(mine) == sorted(peer), fmt
        for name, p in peer.items():
            assert samples(mine[name]) == samples(p), (fmt, name)


def test_custom_collectors_of_prometheus_client_families():
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    class Peer:
        def collect(self):
            c = CounterMetricFamily("ext_jobs", "Jobs.", labels=["kind"])
            c.add_metric(["a"], 2)
            yield c
            yield GaugeMetricFamily("ext_depth", "Depth.", value=1.5)

    r = metricore.CollectorRegistry()
    r.register(Peer())
    pr = prometheus_client.CollectorRegistry()
    pr.register(Peer())
    for fmt, parse, ours_gen, peer_gen in (
        ("text", parse_text, metricore.generate_latest, prometheus_client.generate_latest),
        ("om", parse_om, mc_om.generate_latest, pc_om.generate_latest),
    ):
        mine = by_name(parse(ours_gen(r).decode()))
        peer = by_name(parse(peer_gen(pr).decode()))
        assert sorted(mine) == sorted(peer), fmt
        for name in peer:
            assert samples(mine[name]) == samples(peer[name]), (fmt, name)


def test_values_are_written_as_prometheus_client_writes_them():
    import random

    from prometheus_client.utils import floatToGoString

    rng = random.Random(17)
    values = [0.0, -0.0, 1.0, 2.5, 1e-4, 9.99e-5, 1e-5, 123456.0, 999999.0, 1e6, 1234567.0, 1e15, 1e16,
              1.5e16, -1e16, -2.5e6, 1e22, 1.5e-7, 0.1 + 0.2, 2.0**53, 2.0**64, float("inf"), float("-inf")]
    values += [rng.uniform(-1, 1) * 10 ** rng.randint(-8, 20) for _ in range(300)]
    values += [float(rng.randint(0, 10**9)) for _ in range(100)]
    registry = metricore.CollectorRegistry()
    gauge = metricore.Gauge("v", "V.", ["i"], registry=registry)
    counter = metricore.Counter("n", "N.", ["i"], registry=registry)
    for i, v in enumerate(values):
        gauge.labels(str(i)).set(v)
    ints = [0, 1, 999999, 10**6, 1234567, 2**53 + 1, 2**63]
    for i, n in enumerate(ints):
        counter.labels(str(i)).inc(n)
    lines = set(metricore.generate_latest(registry).decode().splitlines())
    for i, v in enumerate(values):
        assert f'v{{i="{i}"}} {floatToGoString(v)}' in lines, v
    for i, n in enumerate(ints):
        assert f'n_total{{i="{i}"}} {floatToGoString(n)}' in lines, n


def test_refusals_and_repr_as_prometheus_client_gives_them(registry):
    for buckets in ([], [math.inf]):
        with pytest.raises(ValueError, match="a histogram needs a bucket besides \\+Inf"):
            metricore.Histogram("h", "H.", buckets=buckets, registry=registry)
    info = metricore.Info("build", "B.", registry=registry)
    with pytest.raises(ValueError, match='"version" has the value None'):
        info.info({"version": None})
    assert repr(metricore.Counter("c", "C.", registry=registry)) == f"{metricore.Counter.__module__}.Counter(c)"


def test_collect_gives_collector_families_as_yielded(registry):
    family = metricore.core.GaugeHistogramMetricFamily("gh", "GH.", buckets=[("1", 2), ("+Inf", 3)])

    class Collector:
        def collect(self):
            return [family]

    collector = Collector()
    registry.register(collector)
    assert [f for f in registry.collect() if f.name == "gh"] == [family]
    # No sum: collected as given, refused when rendered (TypeError, as prometheus_client).
    assert registry.get_sample_value("gh_bucket", {"le": "1"}) == 2
    with pytest.raises(TypeError):
        metricore.generate_latest(registry)
    registry.unregister(collector)
    bad = metricore.core.GaugeHistogramMetricFamily("bad", "B.", buckets=[(None, 1)], gsum_value=0)
    registry.register(type("C", (), {"collect": lambda self: [bad]})())
    with pytest.raises(AttributeError, match='label "le" has the value None'):
        metricore.generate_latest(registry)


def test_value_class_puts_unregistered_metrics_in_the_multiprocess_file(tmp_path, monkeypatch):
    from metricore import multiprocess, values

    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    monkeypatch.setattr(values, "ValueClass", values.get_value_class())
    try:
        reader = metricore.CollectorRegistry()
        multiprocess.MultiProcessCollector(reader)
        # Two objects of one definition record into one family of the file.
        metricore.Counter("jobs", "J.", registry=None).inc(2)
        metricore.Counter("jobs", "J.", registry=None).inc(3)
        assert reader.get_sample_value("jobs_total") == 5
        assert os.listdir(tmp_path) == [multiprocess.FILE_NAME]
    finally:
        values.close_all_multiprocess_files()
    monkeypatch.setattr(values, "ValueClass", values.MutexValue)
    alone = metricore.Counter("jobs", "J.", registry=None)
    alone.inc()
    assert reader.get_sample_value("jobs_total") == 5
    assert alone._value.get() == 1


def test_metric_classes_can_be_subclassed(registry):
    class Named(metricore.Counter):
        def __init__(self, name, documentation, labelnames=(), namespace="", **kwargs):
            self.namespace = namespace
            super().__init__(name, documentation, labelnames, namespace=namespace, **kwargs)

    c = Named("m", "M.", ["code"], namespace="app", unit="seconds", registry=registry)
    child = c.labels("200")
    child.inc()
    assert (c.namespace, registry.get_sample_value("app_m_seconds_total", {"code": "200"})) == ("app", 1)
    # Children are made by calling the subclass, as prometheus_client makes them.
    assert (type(child), child.namespace, c.labels(code="200")) == (Named, "app", child)
    with pytest.raises(ValueError, match="_labelvalues is given by labels"):
        Named("m", "M.", ["code"], _labelvalues=("200",))

    class Timed(metricore.Histogram):
        def __init__(self, name, documentation, labelnames=(), buckets=(1.0,), **kwargs):
            self.bounds = list(buckets)
            super().__init__(name, documentation, labelnames, buckets=buckets, **kwargs)

    h = Timed("t", "T.", ["op"], buckets=[0.5, 2.0], registry=registry)
    h.labels("read").observe(1)
    assert h.labels("read").bounds == [0.5, 2.0]
    assert registry.get_sample_value("t_bucket", {"op": "read", "le": "2.0"}) == 1
