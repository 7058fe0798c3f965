"""PROMETHEUS_MULTIPROC_DIR as prometheus_client users set it up: a Starlette app
instrumented by starlette-exporter (which imports prometheus_client itself, and serves
a fresh CollectorRegistry with a MultiProcessCollector at each scrape) under uvicorn
with 2 workers. Either worker serves the exact totals of both; a SIGKILLed worker loses
nothing it recorded, leaves the live gauges, and mark_process_dead changes nothing."""

import os
import signal
import subprocess
import sys
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families
from test_uvicorn import APPS, free_port, fresh_get


def samples(text):
    out = {}
    for f in text_string_to_metric_families(text):
        for s in f.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def requests_total(s, kind):
    key = ("starlette_requests_total",
           (("app_name", "svc"), ("method", "POST"), ("path", "/work/{kind}"), ("status_code", "200")))
    return s.get(key, 0), s.get(("work_done_total", (("kind", kind),)), 0)


def started_pids(s):
    return {dict(k[1])["pid"] for k in s if k[0] == "worker_started"}


@pytest.fixture
def server(tmp_path):
    port = free_port()
    env = dict(os.environ, PROMETHEUS_MULTIPROC_DIR=str(tmp_path))
    env.pop("METRICORE_REGISTRY", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "exporter_service:app", "--app-dir", APPS, "--host", "127.0.0.1",
         "--port", str(port), "--workers", "2", "--log-level", "warning"],
        env=env, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: scrape(base, proc).get(("worker_up", ())) == 2, "both workers up")
        yield base, proc, tmp_path
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        proc.stdout.close()


def scrape(base, proc):
    assert proc.poll() is None, proc.stdout.read().decode()
    try:
        r = fresh_get(base + "/metrics", method="GET")
    except Exception:
        return {}
    assert r.status_code == 200, r.text
    return samples(r.text)


def wait_for(check, what, seconds=60):
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"not within {seconds} s: {what}"
        time.sleep(0.1)


def send(base, n, served):
    for _ in range(n):
        r = fresh_get(f"{base}/work/a", method="POST")
        assert r.status_code == 200
        pid = r.json()["pid"]
        served[pid] = served.get(pid, 0) + 1


def test_totals_of_both_workers_survive_a_killed_worker(server):
    base, proc, directory = server
    assert os.listdir(directory) == ["metricore.registry"]
    served = {}
    deadline = time.monotonic() + 60
    while len(served) < 2 or sum(served.values()) < 40:
        assert time.monotonic() < deadline, f"requests reached only workers {served}"
        send(base, 10, served)
    sent = sum(served.values())
    for _ in range(6):
        s = scrape(base, proc)
        assert requests_total(s, "a") == (sent, sent)
        assert s[("worker_up", ())] == 2
        assert {str(p) for p in served} <= started_pids(s)

    # SIGKILL one worker: uvicorn starts another; what it recorded stays counted, and
    # its own per-process gauge series go with it (every gauge mode drops exited
    # processes' series and gives their space back).
    victim = next(iter(served))
    os.kill(victim, signal.SIGKILL)

    def replaced():
        s = scrape(base, proc)
        pids = started_pids(s)
        return len(pids) == 2 and str(victim) not in pids and s.get(("worker_up", ())) == 2

    wait_for(replaced, "a new worker in place of the killed one")
    s = scrape(base, proc)
    assert requests_total(s, "a") == (sent, sent)
    assert ("worker_started", (("pid", str(victim)),)) not in s

    import metricore.multiprocess

    metricore.multiprocess.mark_process_dead(victim, str(directory))
    send(base, 20, served)
    s = scrape(base, proc)
    assert requests_total(s, "a") == (sent + 20, sent + 20)
    assert s[("worker_up", ())] == 2
