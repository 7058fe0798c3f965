"""The prometheus_client surface: constructors, recording, labels, errors, helpers."""

import asyncio
import os
import time

import pytest

import metricore
from conftest import families, sample_values
from metricore import Counter, Enum, Gauge, Histogram, Info, Summary, generate_latest


def text(registry):
    return generate_latest(registry).decode()


def value(registry, name, labels=None):
    return registry.get_sample_value(name, labels)


def test_module_layout_matches_prometheus_client():
    import metricore.core
    import metricore.exposition
    import metricore.openmetrics.exposition
    import metricore.registry

    assert metricore.REGISTRY is metricore.registry.REGISTRY
    assert metricore.core.CounterMetricFamily is not None
    assert metricore.CONTENT_TYPE_PLAIN_0_0_4 == "text/plain; version=0.0.4; charset=utf-8"
    assert metricore.CONTENT_TYPE_LATEST == "text/plain; version=1.0.0; charset=utf-8"
    assert metricore.openmetrics.exposition.CONTENT_TYPE_LATEST.startswith("application/openmetrics-text")
    assert metricore.Counter is metricore._metricore.Counter


def test_counter_names_and_values(registry):
    c = Counter("requests_total", "Requests.", registry=registry)
    c.inc()
    c.inc(2)
    c.inc(0.5)
    assert c._name == "requests"
    assert value(registry, "requests_total") == 3.5
    assert "# TYPE requests_total counter\nrequests_total 3.5\n" in text(registry)
    assert c._value.get() == 3.5


def test_namespace_subsystem_unit(registry):
    h = Histogram("latency", "L.", namespace="app", subsystem="http", unit="seconds", registry=registry)
    h.observe(0.2)
    assert h._name == "app_http_latency_seconds"
    assert value(registry, "app_http_latency_seconds_count") == 1
    om = metricore.openmetrics.exposition.generate_latest(registry).decode()
    assert "# UNIT app_http_latency_seconds seconds\n" in om
    assert om.endswith("# EOF\n")


def test_labels_positional_keyword_and_str_conversion(registry):
    c = Counter("calls", "Calls.", ["model", "code"], registry=registry)
    c.labels("gpt-4", 200).inc()
    c.labels(model="gpt-4", code="200").inc()
    c.labels(code=200, model="gpt-4").inc(3)
    assert value(registry, "calls_total", {"model": "gpt-4", "code": "200"}) == 5
    child = c.labels("a", "b")
    assert child is c.labels("a", "b")
    assert child._labelvalues == ["a", "b"]


def test_labels_that_are_not_str_are_cached_by_their_str_form(registry):
    import enum

    class Code(enum.Enum):
        OK = 200

        def __str__(self):
            return str(self.value)

    c = Counter("codes", "Codes.", ["code", "ok"], registry=registry)
    assert c.labels(200, 1) is c.labels(200, 1)
    assert c.labels(Code.OK, True) is c.labels(Code.OK, True)
    c.labels(200, 1).inc()
    c.labels(Code.OK, 1).inc()
    c.labels("200", "1").inc()
    # bool is not int here: 1 == True in Python, but their str() forms differ.
    c.labels(200, True).inc(5)
    assert value(registry, "codes_total", {"code": "200", "ok": "1"}) == 3
    assert value(registry, "codes_total", {"code": "200", "ok": "True"}) == 5
    c.remove(200, 1)
    c.labels(200, 1).inc()
    assert value(registry, "codes_total", {"code": "200", "ok": "1"}) == 1


def test_label_errors_name_the_metric(registry):
    c = Counter("calls", "Calls.", ["model", "code"], registry=registry)
    with pytest.raises(ValueError, match='"calls"'):
        c.labels("only-one")
    with pytest.raises(ValueError, match='"calls"'):
        c.labels(model="x", wrong="y")
    with pytest.raises(ValueError, match='"calls"'):
        c.labels("x", code="y")
    with pytest.raises(ValueError, match="missing label values"):
        c.inc()
    with pytest.raises(ValueError, match="cannot be chained"):
        c.labels("a", "b").labels("c", "d")
    plain = Counter("plain", "P.", registry=registry)
    with pytest.raises(ValueError, match="no label names"):
        plain.labels("x")


def test_bad_definitions(registry):
    with pytest.raises(ValueError, match="invalid metric name"):
        Counter("", "x", namespace="ns", registry=registry)
    with pytest.raises(ValueError, match="invalid label name"):
        Counter("ok", "x", ["__reserved"], registry=registry)
    with pytest.raises(ValueError, match="le"):
        Histogram("h", "x", ["le"], registry=registry)
    with pytest.raises(ValueError, match="buckets"):
        Histogram("h2", "x", registry=registry, buckets=[2, 1])
    with pytest.raises(ValueError, match="gauge mode"):
        Gauge("g", "x", registry=registry, multiprocess_mode="median")
    with pytest.raises(TypeError):
        Counter(42, "x", registry=registry)
    with pytest.raises(TypeError):
        Counter("ok2", "x", "model", registry=registry)
    with pytest.raises(TypeError, match="registry"):
        Counter("ok3", "x", registry="not a registry")


def test_duplicate_registration(registry):
    from metricore.core import DuplicateTimeseries

    a = Counter("jobs", "Jobs.", ["kind"], registry=registry)
    with pytest.raises(DuplicateTimeseries, match="Duplicated timeseries"):
        Counter("jobs", "Jobs.", ["kind"], registry=registry)
    with pytest.raises(DuplicateTimeseries, match="Duplicated timeseries"):
        Counter("jobs_total", "Jobs.", ["kind"], registry=registry)
    with pytest.raises(DuplicateTimeseries, match='"jobs_total"'):
        Gauge("jobs_total", "Jobs.", registry=registry)
    # Unregistered, it can be made again, and records into the same series.
    a.labels("x").inc()
    registry.unregister(a)
    b = Counter("jobs", "Jobs.", ["kind"], registry=registry)
    b.labels("x").inc()
    assert value(registry, "jobs_total", {"kind": "x"}) == 1
    with pytest.raises(ValueError, match='"jobs" is already registered as counter'):
        Gauge("jobs", "Jobs.", registry=registry)
    with pytest.raises(ValueError, match='"jobs"'):
        Counter("jobs", "Jobs.", ["other"], registry=registry)


def test_recording_errors(registry):
    c = Counter("c", "C.", registry=registry)
    with pytest.raises(ValueError, match='"c".*non-negative'):
        c.inc(-1)
    with pytest.raises(TypeError, match='"c"'):
        c.inc("1")
    g = Gauge("g", "G.", registry=registry)
    with pytest.raises(TypeError, match='"g"'):
        g.set(None)
    h = Histogram("h", "H.", registry=registry)
    with pytest.raises(ValueError, match='"h"'):
        h.observe(float("nan"))
    c.inc()
    assert value(registry, "c_total") == 1, "an error loses nothing recorded"


def test_counter_never_goes_back_past_2_to_the_64(registry):
    c = Counter("tokens", "Tokens.", registry=registry)
    step = 2**53 - 1
    last = 0.0
    for i in range(2049):
        c.inc(step)
        now = value(registry, "tokens_total")
        assert now >= last, f"step {i}: {now} < {last}"
        last = now
    assert last == pytest.approx(2049 * step, rel=1e-15)
    assert last > 2**64


def test_long_label_values_are_refused(registry):
    c = Counter("hits", "Hits.", ["path"], registry=registry)
    with pytest.raises(ValueError, match="5000 bytes"):
        c.labels("x" * 5000).inc()
    c.labels("x" * 4096).inc()
    assert value(registry, "hits_total", {"path": "x" * 4096}) == 1


def test_gauge(registry):
    g = Gauge("temp", "T.", ["room"], registry=registry)
    k = g.labels("kitchen")
    k.set(20)
    k.inc()
    k.inc(0.5)
    k.dec(2)
    assert value(registry, "temp", {"room": "kitchen"}) == 19.5
    k.set_to_current_time()
    assert abs(value(registry, "temp", {"room": "kitchen"}) - time.time()) < 5


def test_gauge_set_function(registry):
    g = Gauge("queue", "Q.", registry=registry)
    items = [1, 2, 3]
    g.set_function(lambda: len(items))
    assert value(registry, "queue") == 3
    items.append(4)
    assert value(registry, "queue") == 4
    g.set_function(lambda: 7)
    assert value(registry, "queue") == 7


def test_set_function_error_is_raised_by_render(registry):
    g = Gauge("broken", "B.", registry=registry)

    def boom():
        raise RuntimeError("no value")

    g.set_function(boom)
    with pytest.raises(RuntimeError, match="no value"):
        generate_latest(registry)


def test_histogram_buckets_and_time(registry):
    h = Histogram("lat", "L.", registry=registry, buckets=(0.1, 1.0, float("inf")))
    h.observe(0.05)
    h.observe(0.5)
    h.observe(5)
    assert value(registry, "lat_bucket", {"le": "0.1"}) == 1
    assert value(registry, "lat_bucket", {"le": "1.0"}) == 2
    assert value(registry, "lat_bucket", {"le": "+Inf"}) == 3
    assert value(registry, "lat_sum") == pytest.approx(5.55)
    with h.time():
        time.sleep(0.01)
    assert value(registry, "lat_count") == 4
    assert value(registry, "lat_sum") > 5.56
    assert Histogram.DEFAULT_BUCKETS[-1] == float("inf")


def test_summary(registry):
    s = Summary("size", "S.", ["kind"], registry=registry)
    s.labels("a").observe(3)
    s.labels("a").observe(4)
    assert value(registry, "size_count", {"kind": "a"}) == 2
    assert value(registry, "size_sum", {"kind": "a"}) == 7


def test_decorators_and_context_managers(registry):
    h = Histogram("work", "W.", registry=registry)
    g = Gauge("inprogress", "I.", registry=registry)
    errors = Counter("errors", "E.", registry=registry)
    last = Gauge("last", "L.", registry=registry)

    @h.time()
    @g.track_inprogress()
    @errors.count_exceptions(ValueError)
    @last.time()
    def work(fail):
        assert value(registry, "inprogress") == 1
        if fail:
            raise ValueError("bad")
        return "done"

    assert work(False) == "done"
    with pytest.raises(ValueError):
        work(True)
    assert work.__name__ == "work"
    assert value(registry, "work_count") == 2
    assert value(registry, "inprogress") == 0
    assert value(registry, "errors_total") == 1
    with pytest.raises(KeyError):
        with errors.count_exceptions((ValueError, TypeError)):
            raise KeyError("not counted")
    assert value(registry, "errors_total") == 1
    with g.track_inprogress():
        assert value(registry, "inprogress") == 1
    assert value(registry, "inprogress") == 0


def test_async_decorators(registry):
    h = Histogram("async_work", "W.", registry=registry)
    g = Gauge("async_inprogress", "I.", registry=registry)
    errors = Counter("async_errors", "E.", registry=registry)

    @h.time()
    @g.track_inprogress()
    @errors.count_exceptions()
    async def work(fail):
        await asyncio.sleep(0.01)
        assert value(registry, "async_inprogress") >= 1
        if fail:
            raise RuntimeError("bad")
        return 42

    async def main():
        assert await work(False) == 42
        with pytest.raises(RuntimeError):
            await work(True)
        await asyncio.gather(work(False), work(False))

    assert asyncio.iscoroutinefunction(work)
    asyncio.run(main())
    assert value(registry, "async_work_count") == 4
    assert value(registry, "async_work_sum") >= 0.04
    assert value(registry, "async_inprogress") == 0
    assert value(registry, "async_errors_total") == 1


def test_info_and_enum(registry):
    i = Info("build", "Build.", registry=registry)
    i.info({"version": "1.2", "commit": "abc"})
    assert value(registry, "build_info", {"version": "1.2", "commit": "abc"}) == 1
    i.info({"version": "1.3"})
    assert value(registry, "build_info", {"version": "1.2", "commit": "abc"}) is None
    assert value(registry, "build_info", {"version": "1.3"}) == 1
    with pytest.raises(ValueError):
        Info("svc", "S.", ["name"], registry=registry).labels("x").info({"name": "clash"})
    shard = Info("shard", "S.", ["id"], registry=registry)
    shard.labels("1").info({"zone": "eu"})
    shard.labels("2").info({"zone": "us"})
    shard.remove("1")
    assert value(registry, "shard_info", {"id": "1", "zone": "eu"}) is None
    assert value(registry, "shard_info", {"id": "2", "zone": "us"}) == 1
    shard.clear()
    assert value(registry, "shard_info", {"id": "2", "zone": "us"}) is None
    e = Enum("state", "S.", ["worker"], registry=registry, states=["idle", "busy"])
    e.labels("w1").state("busy")
    assert value(registry, "state", {"worker": "w1", "state": "busy"}) == 1
    assert value(registry, "state", {"worker": "w1", "state": "idle"}) == 0
    with pytest.raises(ValueError, match="sleeping"):
        e.labels("w1").state("sleeping")
    with pytest.raises(ValueError):
        Enum("nostates", "S.", registry=registry)


def test_remove_and_clear(registry):
    c = Counter("hits", "H.", ["page"], registry=registry)
    c.labels("a").inc()
    c.labels("b").inc()
    c.remove("a")
    assert value(registry, "hits_total", {"page": "a"}) is None
    c.labels("a").inc()
    assert value(registry, "hits_total", {"page": "a"}) == 1
    c.clear()
    assert value(registry, "hits_total", {"page": "b"}) is None
    with pytest.raises(ValueError, match='"hits"'):
        c.remove("a", "b")


def _until(check, seconds=10.0):
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "condition never held"
        time.sleep(0.01)


def test_expire_after_removes_idle_series_and_labels_makes_them_anew():
    registry = metricore.CollectorRegistry(self_metrics=True)
    c = Counter("jobs", "J.", ["k"], registry=registry, expire_after=0.1)
    held = c.labels("idle")
    held.inc(5)

    def idle_gone():
        c.labels("busy").inc()  # written before every collect: never idle
        return value(registry, "jobs_total", {"k": "idle"}) is None

    _until(idle_gone)
    assert value(registry, "jobs_total", {"k": "busy"}) >= 1
    # A child kept from before records nothing (counted stale); labels() makes it anew.
    held.inc()
    c.labels("idle").inc(2)
    assert value(registry, "jobs_total", {"k": "idle"}) == 2
    assert "\nmetricore_series_expired_total 1.0\n" in text(registry)


def test_expire_after_on_every_kind_and_checked(registry):
    g = Gauge("temp", "T.", ["k"], registry=registry, expire_after=0.05)
    h = Histogram("wait", "W.", ["k"], registry=registry, expire_after=0.05)
    s = Summary("size", "S.", ["k"], registry=registry, expire_after=0.05)
    g.labels("a").set(1)
    h.labels("a").observe(1)
    s.labels("a").observe(1)
    assert text(registry).count('k="a"') > 3
    _until(lambda: 'k="a"' not in text(registry))
    for bad in (-1, float("nan"), 1e9):
        with pytest.raises(ValueError, match="jobs2"):
            Counter("jobs2", "J.", ["k"], registry=registry, expire_after=bad)
    with pytest.raises(ValueError, match="labels"):
        Counter("single", "S.", registry=registry, expire_after=1)


def test_unregister_and_create_again(registry):
    c = Counter("again", "A.", registry=registry)
    c.inc(5)
    registry.unregister(c)
    assert value(registry, "again_total") is None
    c2 = Counter("again", "A.", registry=registry)
    c2.inc()
    assert value(registry, "again_total") == 1
    with pytest.raises(ValueError, match="already registered"):
        registry.register(c2)


def test_unregistered_metric_registered_later(registry):
    c = Counter("loose", "L.", ["k"], registry=None)
    c.labels("a").inc()
    assert "loose" not in text(registry)
    registry.register(c)
    c.labels("a").inc()
    assert value(registry, "loose_total", {"k": "a"}) == 2
    with pytest.raises(ValueError, match="loose"):
        registry.register(c)
    registry.unregister(c)
    assert "loose" not in text(registry)
    with pytest.raises(KeyError):
        registry.unregister(c)
    other = Counter("owned", "O.", registry=metricore.CollectorRegistry())
    with pytest.raises(ValueError, match="owned"):
        registry.register(other)


def test_custom_collector(registry):
    from metricore.core import (
        CounterMetricFamily,
        GaugeMetricFamily,
        HistogramMetricFamily,
        InfoMetricFamily,
        StateSetMetricFamily,
        SummaryMetricFamily,
    )

    class Backend:
        def collect(self):
            yield GaugeMetricFamily("backend_queue", "Queue length.", value=7)
            c = CounterMetricFamily("backend_jobs_total", "Jobs.", labels=["kind"])
            c.add_metric(["a"], 3)
            c.add_metric(["b\"q"], 4.5)
            yield c
            yield HistogramMetricFamily("backend_lat", "Lat.", buckets=[("1.0", 2), ("+Inf", 3)], sum_value=4.0)
            yield SummaryMetricFamily("backend_size", "Size.", count_value=2, sum_value=10)
            yield InfoMetricFamily("backend", "Backend.", value={"version": "9"})
            yield StateSetMetricFamily("backend_mode", "Mode.", value={"on": True, "off": False})

    backend = Backend()
    registry.register(backend)
    fams = families(text(registry))
    assert sample_values(fams["backend_queue"]) == {("backend_queue", ()): 7}
    assert fams["backend_jobs"].type == "counter"
    assert sample_values(fams["backend_jobs"])[("backend_jobs_total", (("kind", 'b"q'),))] == 4.5
    assert value(registry, "backend_lat_count") == 3
    assert value(registry, "backend_info", {"version": "9"}) == 1
    assert value(registry, "backend_mode", {"backend_mode": "on"}) == 1
    with pytest.raises(ValueError):
        registry.register(backend)
    registry.unregister(backend)
    assert "backend_queue" not in text(registry)
    with pytest.raises(KeyError):
        registry.unregister(backend)


def test_collector_errors_are_raised(registry):
    from metricore.core import GaugeMetricFamily

    class Bad:
        def collect(self):
            family = GaugeMetricFamily("bad", "x", labels=["__reserved"])
            family.add_metric(["v"], 1)
            yield family

    registry.register(Bad())
    with pytest.raises(ValueError, match="__reserved"):
        generate_latest(registry)
    with pytest.raises(TypeError):
        registry.register(object())


def test_utf8_names(registry):
    from metricore.core import CounterMetricFamily
    from metricore.exposition import choose_encoder
    from metricore.openmetrics import exposition as om

    Counter("http.requests", "R.", ["http.method"], registry=registry).labels("GET").inc()
    registry.register(type("C", (), {"collect": lambda self: [CounterMetricFamily("my.jobs", "J.", value=2)]})())
    # Without escaping asked for: legacy names, custom collectors' too.
    legacy = generate_latest(registry).decode()
    assert 'http_requests_total{http_method="GET"} 1.0\n' in legacy
    assert "\nmy_jobs_total 2.0\n" in legacy
    utf8 = generate_latest(registry, om.ALLOWUTF8).decode()
    assert '{"http.requests_total","http.method"="GET"} 1.0\n' in utf8
    assert '\n{"my.jobs_total"} 2.0\n' in utf8
    assert "http_dot_requests__total{" in om.generate_latest(registry, om.DOTS).decode()
    with pytest.raises(ValueError, match="bogus"):
        generate_latest(registry, "bogus")
    render, content_type = choose_encoder("application/openmetrics-text; version=1.0.0; escaping=allow-utf-8")
    assert content_type == "application/openmetrics-text; version=1.0.0; charset=utf-8; escaping=allow-utf-8"
    assert render(registry).decode().endswith('{"my.jobs_total"} 2.0\n# EOF\n')
    # The core's HTTP server negotiates the scheme for custom collectors too.
    import urllib.request

    server, thread = metricore.start_http_server(0, addr="127.0.0.1", registry=registry)
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/metrics"
        request = urllib.request.Request(url, headers={"Accept": "text/plain; version=1.0.0; escaping=allow-utf-8"})
        with urllib.request.urlopen(request, timeout=10) as r:
            served = r.read().decode()
        assert '{"http.requests_total","http.method"="GET"} 1.0\n' in served
        assert '\n{"my.jobs_total"} 2.0\n' in served
        with urllib.request.urlopen(url, timeout=10) as r:
            assert "\nmy_jobs_total 2.0\n" in r.read().decode()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
    # Names come through collect() and get_sample_value as they are.
    assert value(registry, "http.requests_total", {"http.method": "GET"}) == 1
    assert {f.name for f in registry.collect()} >= {"http.requests", "my.jobs"}


def test_legacy_validation_switch(registry):
    from metricore import validation

    assert not validation.get_legacy_validation()
    validation.enable_legacy_validation()
    try:
        with pytest.raises(ValueError, match="invalid metric name"):
            Counter("a.b", "x", registry=registry)
        with pytest.raises(ValueError, match="invalid label name"):
            Counter("ab", "x", ["a.b"], registry=registry)
    finally:
        validation.disable_legacy_validation()
    Counter("a.b", "x", ["a.b"], registry=registry)


def test_label_value_escaping(registry):
    c = Counter("esc", "Help with \\ and\nnewline.", ["v"], registry=registry)
    weird = 'quote " backslash \\ newline \n unicode é 模型'
    c.labels(weird).inc()
    fams = families(text(registry))
    assert fams["esc"].documentation == "Help with \\ and\nnewline."
    assert sample_values(fams["esc"]) == {("esc_total", (("v", weird),)): 1}
    assert value(registry, "esc_total", {"v": weird}) == 1


def test_metric_collect_and_describe(registry):
    c = Counter("col", "C.", ["a"], registry=registry)
    c.labels("x").inc(2)
    (fam,) = c.collect()
    assert (fam.name, fam.type, fam.documentation) == ("col", "counter", "C.")
    assert fam.samples[0].name == "col_total" and fam.samples[0].value == 2
    assert c.describe()[0].samples == []


def test_target_info():
    r = metricore.CollectorRegistry(target_info={"service": "tokens"})
    assert r.get_sample_value("target_info", {"service": "tokens"}) == 1


def test_wsgi_app_negotiates_and_compresses(registry):
    import gzip

    Counter("w", "W.", registry=registry).inc()
    app = metricore.make_wsgi_app(registry)
    seen = {}

    def start_response(status, headers):
        seen["status"], seen["headers"] = status, dict(headers)

    body = b"".join(app({"PATH_INFO": "/metrics"}, start_response))
    assert seen["status"] == "200 OK"
    assert seen["headers"]["Content-Type"] == metricore.CONTENT_TYPE_PLAIN_0_0_4
    assert b"w_total 1.0\n" in body
    body = b"".join(
        app(
            {"HTTP_ACCEPT": "application/openmetrics-text; version=1.0.0", "HTTP_ACCEPT_ENCODING": "gzip"},
            start_response,
        )
    )
    assert seen["headers"]["Content-Encoding"] == "gzip"
    assert seen["headers"]["Content-Type"].startswith("application/openmetrics-text")
    assert gzip.decompress(body).endswith(b"# EOF\n")


PROTOBUF_ACCEPT = (
    "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7,"
    "text/plain;version=0.0.4;q=0.3"
)


def test_native_histogram_and_the_protobuf_format(registry):
    h = Histogram("tokens", "Tokens.", ["m"], registry=registry, native_schema=0, native_zero_threshold=0.5)
    both = Histogram("wait_seconds", "Wait.", registry=registry, buckets=[0.1, 1], native_schema=3)
    h.labels("a").observe(0.25)
    h.labels("a").observe(3)
    both.observe(0.5)
    assert both._upper_bounds == [0.1, 1.0, float("inf")]
    text = generate_latest(registry)
    assert b'tokens_bucket{m="a",le="+Inf"} 2.0\ntokens_count{m="a"} 2.0\n' in text
    assert b'wait_seconds_bucket{le="1.0"} 1.0\n' in text
    app = metricore.make_wsgi_app(registry)
    seen = {}

    def start_response(status, headers):
        seen["headers"] = dict(headers)

    body = b"".join(app({"PATH_INFO": "/metrics", "HTTP_ACCEPT": PROTOBUF_ACCEPT}, start_response))
    assert seen["headers"]["Content-Type"].startswith("application/vnd.google.protobuf")
    assert b"tokens" in body and b"# TYPE" not in body
    with pytest.raises(ValueError, match="schema 9"):
        Histogram("bad", "B.", registry=registry, native_schema=9)


def test_write_to_textfile(registry, tmp_path):
    Gauge("tf", "T.", registry=registry).set(2)
    path = tmp_path / "out.prom"
    metricore.write_to_textfile(str(path), registry)
    assert "tf 2.0\n" in path.read_text()
    assert list(tmp_path.iterdir()) == [path]


def test_start_http_server(registry):
    import socket
    import urllib.error
    import urllib.request

    from metricore.core import GaugeMetricFamily

    class Depth:
        def collect(self):
            yield GaugeMetricFamily("served_depth", "Depth.", value=4)

    Counter("served", "S.", registry=registry).inc(3)
    registry.register(Depth())
    server, thread = metricore.start_http_server(0, addr="127.0.0.1", registry=registry)
    try:
        port = server.server_address[1]
        assert thread.is_alive()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
            assert r.headers["Content-Type"] == metricore.CONTENT_TYPE_PLAIN_0_0_4
            body = r.read()
        assert b"served_total 3.0\n" in body and b"served_depth 4" in body
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/metrics", headers={"Accept": "application/openmetrics-text"}
        )
        with urllib.request.urlopen(req, timeout=10) as r:
            assert r.read().endswith(b"# EOF\n")
        with pytest.raises(OSError):
            metricore.start_http_server(port, addr="127.0.0.1", registry=registry)
    finally:
        server.shutdown()
    thread.join(timeout=10)
    assert not thread.is_alive()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_http_server_outlives_its_python_object():
    import subprocess
    import sys

    code = """
import gc, socket, urllib.request
import metricore
metricore.Counter("kept", "K.").inc()
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
metricore.start_http_server(port, addr="127.0.0.1")
gc.collect()
with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
    assert b"kept_total 1.0\\n" in r.read()
print("ok")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_default_registry_reports_the_process():
    text = metricore.generate_latest().decode()
    assert "# TYPE process_cpu_seconds_total counter\n" in text
    assert "process_resident_memory_bytes " in text


def test_push_to_gateway(registry):
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    got = []

    class Gateway(BaseHTTPRequestHandler):
        def _any(self):
            n = int(self.headers.get("Content-Length") or 0)
            got.append((self.command, self.path, self.headers["Content-Type"], self.rfile.read(n)))
            self.send_response(202)
            self.end_headers()

        do_PUT = do_POST = do_DELETE = _any

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Gateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        gw = f"127.0.0.1:{server.server_address[1]}"
        Counter("pushed", "P.", registry=registry).inc()
        metricore.push_to_gateway(gw, job="batch", registry=registry, grouping_key={"inst": "a/b"}, timeout=10)
        metricore.pushadd_to_gateway(gw, job="batch", registry=registry, timeout=10)
        metricore.delete_from_gateway(gw, job="batch", timeout=10)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
    assert [g[0] for g in got] == ["PUT", "POST", "DELETE"]
    assert got[0][1] == "/metrics/job/batch/inst@base64/YS9i"
    assert got[0][2] == metricore.CONTENT_TYPE_PLAIN_0_0_4
    assert b"pushed_total 1.0\n" in got[0][3]
    assert got[2][3] == b""


def test_shared_file_errors(tmp_path):
    bad = tmp_path / "not-a-registry"
    bad.write_bytes(b"hello" * 100)
    with pytest.raises(OSError) as e:
        metricore.use_shared(str(bad), registry=metricore.CollectorRegistry())
    assert str(bad) in str(e.value)
    with pytest.raises(OSError) as e:
        metricore.use_shared(str(tmp_path / "missing-dir" / "r"), registry=metricore.CollectorRegistry())
    assert e.value.filename == str(tmp_path / "missing-dir" / "r")


def test_use_shared_after_metrics_is_refused(registry, shared_path):
    Counter("early", "E.", registry=registry)
    with pytest.raises(RuntimeError, match="early"):
        metricore.use_shared(shared_path, registry=registry)


def test_gauge_modes_in_one_process_are_one_value(registry):
    g = Gauge("mode_all", "M.", registry=registry, multiprocess_mode="livesum")
    g.set(4)
    assert value(registry, "mode_all") == 4


def test_metric_objects_follow_a_removed_shared_file(shared_path):
    registry = metricore.CollectorRegistry(self_metrics=True)
    metricore.use_shared(shared_path, registry=registry)
    plain = Counter("moving", "M.", registry=registry)
    child = Counter("moving_labeled", "M.", ["k"], registry=registry).labels("a")
    plain.inc(5)
    child.inc(5)
    os.remove(shared_path)
    # Rendering notices the file is gone and moves the registry to a new one.
    text = metricore.generate_latest(registry).decode()
    assert os.path.exists(shared_path)
    assert "moving_total 0.0\n" in text, text
    plain.inc()
    child.inc(2)
    text = metricore.generate_latest(registry).decode()
    assert "moving_total 1.0\n" in text, text
    assert 'moving_labeled_total{k="a"} 2.0\n' in text, text
    assert "metricore_lost_recordings_total 0.0\n" in text, text


def test_self_metrics_are_opt_in():
    plain = metricore.CollectorRegistry()
    Counter("jobs", "J.", registry=plain).inc(2)
    assert metricore.generate_latest(plain) == b"# HELP jobs_total J.\n# TYPE jobs_total counter\njobs_total 2.0\n"
    asked = metricore.CollectorRegistry(self_metrics=True)
    Counter("jobs", "J.", registry=asked).inc(2)
    text = metricore.generate_latest(asked).decode()
    assert "jobs_total 2.0\n" in text
    assert "metricore_series 1.0\n" in text
    assert asked.get_sample_value("metricore_errors_total") == 0


def test_values_are_written_as_prometheus_client_writes_them(registry):
    Gauge("big", "B.", registry=registry).set(1234567)
    Histogram("h", "H.", registry=registry, buckets=[1e6]).observe(2)
    text = metricore.generate_latest(registry).decode()
    assert "big 1.234567e+06\n" in text
    assert 'h_bucket{le="1e+06"} 1.0\n' in text
    assert registry.get_sample_value("h_bucket", {"le": "1e+06"}) == 1


def test_time_with_labels_picks_the_child_inside_the_block(registry):
    h = Histogram("page_seconds", "P.", ["page"], registry=registry)
    with h.time() as t:
        assert t.duration is None
        t.labels("/home")
    assert value(registry, "page_seconds_count", {"page": "/home"}) == 1
    assert value(registry, "page_seconds_sum", {"page": "/home"}) == t.duration > 0
    with pytest.raises(ValueError, match="labels"):
        with h.time():
            pass
    with pytest.raises(ValueError, match="once"):
        with h.time() as t:
            t.labels("/a")
            t.labels("/b")


def test_remove_by_labels(registry):
    c = Counter("hits", "H.", ["tenant", "path"], registry=registry)
    c.labels("acme", "/").inc()
    c.labels("acme", "/x").inc()
    c.labels("globex", "/").inc()
    c.remove_by_labels({})
    assert value(registry, "hits_total", {"tenant": "acme", "path": "/"}) == 1
    c.remove_by_labels({"tenant": "acme"})
    assert value(registry, "hits_total", {"tenant": "acme", "path": "/"}) is None
    assert value(registry, "hits_total", {"tenant": "acme", "path": "/x"}) is None
    assert value(registry, "hits_total", {"tenant": "globex", "path": "/"}) == 1
    with pytest.raises(ValueError, match="no label 'nope'|no label \"nope\""):
        c.remove_by_labels({"nope": "x"})
    c.labels("acme", "/").inc(5)
    assert value(registry, "hits_total", {"tenant": "acme", "path": "/"}) == 5


def test_refusals_from_python_are_counted_by_the_core():
    registry = metricore.CollectorRegistry(self_metrics=True)
    c = Counter("c", "C.", registry=registry)
    for bad in (-1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match='"c".*non-negative'):
            c.inc(bad)
    assert value(registry, "c_total") == 0
    assert value(registry, "metricore_errors_total") == 3
    # A wrong number of label values, by position or by name, is the core's refusal.
    labelled = Counter("l", "L.", ["a", "b"], registry=registry)
    with pytest.raises(ValueError, match='"l".*2'):
        labelled.labels("x")
    with pytest.raises(ValueError):
        labelled.labels(a="x")
    assert value(registry, "metricore_errors_total") == 5


def test_process_metrics_come_and_go_with_their_collector():
    from metricore.process_collector import PROCESS_COLLECTOR, ProcessCollector

    assert "process_cpu_seconds_total " in generate_latest().decode()
    metricore.REGISTRY.unregister(PROCESS_COLLECTOR)
    try:
        assert "process_" not in generate_latest().decode()
    finally:
        ProcessCollector()
    text = generate_latest().decode()
    assert "process_cpu_seconds_total " in text
    # Values are written as prometheus_client writes them.
    line = next(li for li in text.splitlines() if li.startswith("process_max_fds "))
    assert line.endswith(".0") or "e+" in line, line


def test_collect_gives_what_the_openmetrics_text_reads_back_as(registry):
    """collect() builds its families from the core's data, not from text: the same
    families, samples, values, labels and exemplars as the OpenMetrics exposition gives
    when parsed, with self-metrics, process metrics and a restricted view."""
    from metricore import _metricore
    from metricore.openmetrics.exposition import generate_latest as om_latest

    c = Counter("jobs", 'Jobs "done"\\.', ["q"], registry=registry)
    c.labels('a"b\\c\nd').inc(3)
    c.labels("x").inc(0.25, exemplar={"trace_id": "t1"})
    h = Histogram("lat", "Latency.", buckets=[0.5, 1.0, 2e6], registry=registry)
    h.observe(0.2)
    h.observe(3.0, exemplar={"trace_id": "t2"})
    Gauge("temp", "Temp.", registry=registry).set(-1.5)
    Gauge("fn", "From a function.", registry=registry).set_function(lambda: 7)
    Summary("size", "Sizes.", registry=registry).observe(7)
    Info("build", "Build.", registry=registry).info({"v": "1.2"})
    Enum("mode", "Mode.", states=["on", "off"], registry=registry).state("off")
    registry.self_metrics = True
    registry._add_process_metrics()

    def as_tuples(families):
        # Process readings change between two collections: their names are compared.
        return [
            (f.name, f.documentation, f.type, f.unit, [s.name for s in f.samples] if f.name.startswith("process_") else f.samples)
            for f in families
        ]

    got = list(registry.collect())
    want = _metricore._parse(om_latest(registry).decode(), True)
    assert as_tuples(got) == as_tuples(want)
    assert {"jobs", "lat", "fn", "metricore_series", "process_cpu_seconds"} <= {f.name for f in got}
    jobs = next(f for f in got if f.name == "jobs").samples
    assert jobs[0].labels == {"q": 'a"b\\c\nd'} and jobs[0].value == 3.0
    assert jobs[1].value == 0.25 and jobs[1].exemplar.labels == {"trace_id": "t1"}
    assert registry.get_sample_value("lat_bucket", {"le": "2e+06"}) == 2.0
    assert registry.get_sample_value("fn") == 7.0

    view = registry.restricted_registry(["lat_sum", "jobs_total"])
    assert [(s.name, s.value) for f in view.collect() for s in f.samples] == [
        ("jobs_total", 3.0),
        ("jobs_total", 0.25),
        ("lat_sum", 3.2),
    ]
