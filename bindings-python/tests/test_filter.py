"""`name[]` filters (restricted_registry, the WSGI and ASGI apps, the HTTP server) and
which registries report `process_*`."""

import asyncio
import os
import subprocess
import sys
import urllib.request

import httpx

import metricore
from metricore import Counter, Gauge, Histogram


def type_names(text):
    """The names on the `# TYPE` lines of exposition text, in order."""
    return [line.split(" ")[2] for line in text.splitlines() if line.startswith("# TYPE ")]


def fill(registry):
    Counter("requests", "R.", ["code"], registry=registry).labels("200").inc(3)
    Gauge("queue", "Q.", registry=registry).set(2)
    Histogram("latency_seconds", "L.", buckets=[0.1], registry=registry).observe(0.05)


def test_restricted_registry_renders_the_families_named(registry):
    fill(registry)
    only = registry.restricted_registry(["requests_total", "latency_seconds_count"])
    text = metricore.generate_latest(only).decode()
    assert type_names(text) == ["latency_seconds", "requests_total"], text
    assert 'requests_total{code="200"} 3.0\n' in text or 'requests_total{code="200"} 3\n' in text
    assert 'latency_seconds_bucket{le="0.1"} 1' in text, text
    # collect() gives only the samples named, as prometheus_client's does.
    assert only.get_sample_value("latency_seconds_count") == 1
    assert only.get_sample_value("latency_seconds_bucket", {"le": "0.1"}) is None
    assert [f.name for f in only.collect()] == ["latency_seconds", "requests"]
    assert only.get_sample_value("queue") is None
    assert registry.get_sample_value("queue") == 2
    assert metricore.generate_latest(registry.restricted_registry([])) == b""


def test_wsgi_app_honours_name_brackets(registry):
    fill(registry)
    app = metricore.make_wsgi_app(registry)
    seen = {}

    def start_response(status, headers):
        seen["status"] = status

    def get(query):
        return b"".join(app({"PATH_INFO": "/metrics", "QUERY_STRING": query}, start_response)).decode()

    assert type_names(get("name%5B%5D=queue&name[]=requests")) == ["queue", "requests_total"]
    assert seen["status"] == "200 OK"
    assert get("name[]=absent") == ""
    everything = type_names(get(""))
    assert {"queue", "requests_total", "latency_seconds"} <= set(everything)
    assert type_names(get("x=1")) == everything


def test_asgi_app_honours_name_brackets(registry):
    fill(registry)
    app = metricore.make_asgi_app(registry)

    async def go():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            plain = await client.get("/metrics?name[]=latency_seconds_bucket")
            om = await client.get(
                "/metrics",
                params=[("name[]", "requests"), ("name[]", "queue")],
                headers={"Accept": "application/openmetrics-text; version=1.0.0"},
            )
            return plain.text, om.text

    plain, om = asyncio.run(go())
    assert type_names(plain) == ["latency_seconds"], plain
    assert 'latency_seconds_bucket{le="+Inf"} 1.0\n' in plain
    assert type_names(om) == ["queue", "requests"], om
    assert om.endswith("# EOF\n")


def test_http_server_honours_name_brackets(registry):
    fill(registry)
    metricore.ProcessCollector(registry=registry)
    server, _ = metricore.start_http_server(0, addr="127.0.0.1", registry=registry)
    try:
        url = f"http://127.0.0.1:{server.server_port}/metrics?name[]=queue&name[]=process_open_fds"
        with urllib.request.urlopen(url, timeout=10) as r:
            text = r.read().decode()
    finally:
        server.shutdown()
    assert type_names(text) == ["queue", "process_open_fds"], text


def run_python(code, **env):
    full = dict(os.environ)
    full.pop("METRICORE_REGISTRY", None)
    full.update(env)
    out = subprocess.run([sys.executable, "-c", code], env=full, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_process_metrics_only_in_process_or_when_asked(shared_path):
    # In this process's memory, the default registry reports the process, as
    # prometheus_client's does.
    code = "import metricore; print(metricore.generate_latest().decode())"
    assert "process_cpu_seconds_total " in run_python(code)
    # In a shared file it stands for the service: no worker's process_* in it.
    shared = run_python(code, METRICORE_REGISTRY=shared_path)
    assert "python_info{" in shared
    assert "process_" not in shared, shared
    code = "import metricore; metricore.use_shared(%r); print(metricore.generate_latest().decode())" % shared_path
    assert "process_" not in run_python(code)
    # Asked for, they are there again.
    code = (
        "import metricore; metricore.ProcessCollector(); "
        "print(metricore.generate_latest().decode())"
    )
    assert "process_cpu_seconds_total " in run_python(code, METRICORE_REGISTRY=shared_path)


def test_process_collector_of_another_pid_under_another_proc(registry, tmp_path):
    (tmp_path / "stat").write_text("cpu  1 2 3\nbtime 1000\n")
    (tmp_path / "42").mkdir()
    fields = {14: 150, 15: 50, 22: 500, 23: 4096000, 24: 3}
    stat = "42 (x) R" + "".join(f" {fields.get(n, 0)}" for n in range(4, 53))
    (tmp_path / "42" / "stat").write_text(stat)
    pid = ["42\n"]
    collector = metricore.ProcessCollector(namespace="app", pid=lambda: pid[0], proc=str(tmp_path), registry=registry)
    collector._ticks, collector._pagesize = 100, 1000
    assert registry.get_sample_value("app_process_cpu_seconds_total") == 2.0
    assert registry.get_sample_value("app_process_resident_memory_bytes") == 3000.0
    assert registry.get_sample_value("app_process_start_time_seconds") == 1005.0
    assert registry.get_sample_value("app_process_open_fds") is None  # no fd directory
    assert "app_process_virtual_memory_bytes 4.096e+06\n" in metricore.generate_latest(registry).decode()
    pid[0] = 43  # not there: no samples
    assert registry.get_sample_value("app_process_cpu_seconds_total") is None
    registry.unregister(collector)
    assert metricore.ProcessCollector(pid=lambda: 42, proc=str(tmp_path), registry=None)._registry is None
    assert "process_" not in metricore.generate_latest(registry).decode()
