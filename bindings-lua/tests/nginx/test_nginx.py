"""metricore.prometheus in a real nginx with 4 workers sharing one registry file:
exact totals from any worker's /metrics, promtool, SIGKILL mid-load, bad input that
never fails a request, removals seen by every worker, and init failures."""

import os
import signal
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import lua_paths, main_conf, wait_until

PROMTOOL_TIMEOUT = 30


def http_block(registry, init_phase="init_worker_by_lua_block", extra_init="", locations=""):
    """The test server: /work/* records, /metrics collects, every response says which
    worker answered (X-Worker)."""
    return lua_paths() + f"""
{init_phase} {{
    prometheus = require("metricore.prometheus").init({{
        path = "{registry}", sync_interval = 0.2,
        series_capacity = 4096, cells_per_shard = 65536, arena_bytes = 4194304,
    }})
    requests = prometheus:counter("test_requests", "Requests.", {{"method", "path"}})
    per_worker = prometheus:counter("test_worker_requests", "Requests per worker.", {{"worker"}})
    values = prometheus:histogram("test_value", "Values.", {{"path"}}, {{0.1, 1, 10}})
    inflight = prometheus:gauge("test_inflight", "In flight.")
    {extra_init}
}}
server {{
    listen 127.0.0.1:PORT reuseport;
    header_filter_by_lua_block {{ ngx.header["X-Worker"] = ngx.worker.pid() }}
    location /work/ {{
        content_by_lua_block {{
            inflight:inc(1)
            requests:inc(1, {{ngx.req.get_method(), ngx.var.uri}})
            per_worker:inc(1, {{ngx.worker.id()}})
            values:observe(tonumber(ngx.var.arg_v) or 0, {{ngx.var.uri}})
            inflight:inc(-1)
            local pause = tonumber(ngx.var.arg_sleep)
            if pause then ngx.sleep(pause) end  -- counted, not answered yet
            ngx.say("ok")
        }}
    }}
    location = /metrics {{
        content_by_lua_block {{ prometheus:collect() }}
    }}
    {locations}
}}
"""


def samples(text):
    """{(sample name, sorted label items): value} of an exposition."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def promtool_check(text):
    """Fails the test unless `promtool check metrics` accepts `text`."""
    try:
        run = subprocess.run(["promtool", "check", "metrics"], input=text, text=True,
                             capture_output=True, timeout=PROMTOOL_TIMEOUT)
    except FileNotFoundError:
        pytest.fail("promtool is missing: run scripts/install-deps.sh")
    assert run.returncode == 0, f"promtool check metrics: {run.stdout}{run.stderr}\n{text}"


def drive(server, plan, threads=8):
    """Sends every (method, path) of `plan`, each on a new connection; returns the
    statuses and the set of workers that answered."""
    def one(item):
        method, path = item
        status, headers, _ = server.request(path, method=method)
        return status, headers.get("x-worker")

    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(one, plan))
    return [r[0] for r in results], {r[1] for r in results}


def metrics_from_workers(server, want, accept=None, tries=400):
    """/metrics answered by `want` distinct workers: {worker pid: (headers, text)}."""
    seen = {}
    for _ in range(tries):
        status, headers, text = server.request("/metrics", headers={"Accept": accept} if accept else None)
        assert status == 200, text
        seen.setdefault(headers["x-worker"], (headers, text))
        if len(seen) >= want:
            return seen
    pytest.fail(f"/metrics was answered by {len(seen)} workers in {tries} requests, wanted {want}")


def test_totals_are_exact_from_every_worker(nginx, tmp_path):
    server = nginx(http_block(tmp_path / "registry.metricore"))
    plan = [("GET", "/work/a?v=0.05")] * 1500 + [("POST", "/work/a?v=0.5")] * 1000 \
        + [("GET", "/work/b?v=5")] * 900 + [("GET", "/work/b?v=50")] * 600
    statuses, workers = drive(server, plan)
    assert statuses == [200] * len(plan)
    assert len(workers) >= 2, f"only workers {workers} answered"

    for worker, (headers, text) in metrics_from_workers(server, 3).items():
        assert headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
        s = samples(text)
        assert s[("test_requests_total", (("method", "GET"), ("path", "/work/a")))] == 1500, worker
        assert s[("test_requests_total", (("method", "POST"), ("path", "/work/a")))] == 1000, worker
        assert s[("test_requests_total", (("method", "GET"), ("path", "/work/b")))] == 1500, worker
        assert s[("test_value_bucket", (("le", "0.1"), ("path", "/work/a")))] == 1500
        assert s[("test_value_bucket", (("le", "1.0"), ("path", "/work/a")))] == 2500
        assert s[("test_value_bucket", (("le", "10.0"), ("path", "/work/b")))] == 900
        assert s[("test_value_count", (("path", "/work/b"),))] == 1500
        assert s[("test_value_sum", (("path", "/work/a"),))] == pytest.approx(1500 * 0.05 + 500)
        assert s[("test_inflight", ())] == 0
        assert s[("nginx_metric_errors_total", ())] == 0
        per_worker = {labels: v for (name, labels), v in s.items() if name == "test_worker_requests_total"}
        assert sum(per_worker.values()) == len(plan)
        assert len(per_worker) >= 2, f"only {per_worker} recorded"
        promtool_check(text)

    for _, (headers, text) in metrics_from_workers(server, 2, accept="application/openmetrics-text").items():
        assert headers["content-type"] == "application/openmetrics-text; version=1.0.0; charset=utf-8"
        assert text.endswith("# EOF\n")
        assert 'test_requests_total{method="GET",path="/work/a"} 1500\n' in text


def test_init_by_lua_shares_the_file_with_every_worker(nginx, tmp_path):
    block = http_block(tmp_path / "registry.metricore", init_phase="init_by_lua_block")
    block = block.replace("server {", "init_worker_by_lua_block { prometheus:init_worker() }\nserver {", 1)
    server = nginx(block)
    statuses, _ = drive(server, [("GET", "/work/x")] * 800)
    assert statuses == [200] * 800
    for _, (_, text) in metrics_from_workers(server, 3).items():
        assert samples(text)[("test_requests_total", (("method", "GET"), ("path", "/work/x")))] == 800


def test_sigkill_mid_load_loses_nothing_answered(nginx, tmp_path):
    server = nginx(http_block(tmp_path / "registry.metricore"))
    stop = threading.Event()
    lock = threading.Lock()
    counts = {"sent": 0, "answered": 0, "failed": 0}

    def load():
        while not stop.is_set():
            with lock:
                counts["sent"] += 1
            try:
                status, _, _ = server.request("/work/k?v=0.5&sleep=0.01")
                ok = status == 200
            except OSError:
                ok = False
            with lock:
                counts["answered" if ok else "failed"] += 1

    threads = [threading.Thread(target=load) for _ in range(16)]
    for t in threads:
        t.start()
    try:
        wait_until("500 answered requests", lambda: counts["answered"] >= 500, 60)
        victim = server.workers()[0]
        os.kill(victim, signal.SIGKILL)
        wait_until("the master to replace the killed worker",
                   lambda: victim not in server.workers() and len(server.workers()) == 4, 30)
        before = counts["answered"]
        wait_until("500 more answered requests", lambda: counts["answered"] >= before + 500, 60)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
    assert not any(t.is_alive() for t in threads), "a load thread did not finish"

    texts = [text for _, text in metrics_from_workers(server, 3).values()]
    totals = {samples(t)[("test_requests_total", (("method", "GET"), ("path", "/work/k")))] for t in texts}
    assert len(totals) == 1, f"workers disagree: {totals}"
    text = texts[0]
    s = samples(text)
    total = s[("test_requests_total", (("method", "GET"), ("path", "/work/k")))]
    # Counted before the response was sent: every answered request is in the total;
    # at most the requests the killed worker was in the middle of are counted and
    # not answered.
    assert counts["answered"] <= total <= counts["sent"], (counts, total)
    assert s[("test_value_count", (("path", "/work/k"),))] == total
    assert "exited on signal 9" in server.error_log()
    promtool_check(text)


def test_bad_input_is_logged_and_counted_and_never_fails_a_request(nginx, tmp_path):
    bad = """
    location = /bad {
        content_by_lua_block {
            requests:inc(-1, {"GET", "/bad"})
            requests:inc(1, {"only one"})
            requests:inc("one", {"GET", "/bad"})
            values:observe(0/0, {"/bad"})
            per_worker:inc(1, "not a table")
            ngx.say("still fine")
        }
    }
    """
    server = nginx(http_block(tmp_path / "registry.metricore", locations=bad))
    statuses, _ = drive(server, [("GET", "/bad")] * 40)
    assert statuses == [200] * 40
    _, _, text = server.request("/metrics")
    s = samples(text)
    assert s[("nginx_metric_errors_total", ())] == 5 * 40
    assert s[("test_requests_total", (("method", "GET"), ("path", "/bad")))] == 0
    assert s[("test_value_count", (("path", "/bad"),))] == 0
    log = server.error_log()
    assert "counter increment -1 refused" in log
    assert 'expects 2 label values, got 1' in log
    assert "increment must be a number, not a string" in log
    assert "NaN cannot be observed" in log
    assert "label values must be a table, not a string" in log


def test_removal_reaches_every_worker(nginx, tmp_path):
    removal = """
    location = /del {
        content_by_lua_block {
            requests:del({"GET", "/work/d"})
            ngx.say("removed")
        }
    }
    """
    server = nginx(http_block(tmp_path / "registry.metricore", locations=removal))
    statuses, workers = drive(server, [("GET", "/work/d")] * 400)
    assert statuses == [200] * 400 and len(workers) >= 2
    assert server.request("/del")[0] == 200
    time.sleep(1.0)  # five sync intervals: every worker has looked for removals
    statuses, _ = drive(server, [("GET", "/work/d")] * 300)
    assert statuses == [200] * 300
    for _, (_, text) in metrics_from_workers(server, 3).items():
        s = samples(text)
        assert s[("test_requests_total", (("method", "GET"), ("path", "/work/d")))] == 300
        assert s[("nginx_metric_series_removed_total", ())] == 1


def test_a_registry_that_cannot_be_opened_fails_init_naming_the_path(nginx, tmp_path):
    missing = tmp_path / "no" / "such" / "dir" / "registry.metricore"
    # In init_by_lua, nginx itself does not start.
    log = nginx(http_block(missing, init_phase="init_by_lua_block"), fails=True)
    assert f"cannot open the registry: {missing}" in log, log

    # In init_worker_by_lua, each worker logs it; nginx still serves.
    server = nginx(http_block(missing))
    wait_until("the workers' init errors in the error log",
               lambda: server.error_log().count(f"cannot open the registry: {missing}") >= 4, 15)
    assert server.request("/anything")[0] == 404
