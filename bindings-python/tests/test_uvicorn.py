"""uvicorn with two worker processes: every worker records into the shared file, and
either worker's /metrics shows the sum of both."""

import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

APPS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "apps")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fresh_get(url, **kwargs):
    """One request on its own connection, so the kernel may hand it to either worker."""
    with httpx.Client(timeout=10) as client:
        return client.request(url=url, headers={"Connection": "close"}, **kwargs)


@pytest.fixture
def server(shared_path):
    port = free_port()
    env = dict(os.environ, METRICORE_REGISTRY=shared_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "service:app", "--app-dir", APPS, "--host", "127.0.0.1",
         "--port", str(port), "--workers", "2", "--log-level", "warning"],
        env=env,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stdout.read().decode()
            try:
                if fresh_get(base + "/metrics/", method="GET").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "uvicorn did not start in 60 s"
            time.sleep(0.1)
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        proc.stdout.close()


def samples(text):
    out = {}
    for f in text_string_to_metric_families(text):
        for s in f.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_metrics_show_the_sum_of_both_workers(server):
    served = {}
    sent = 0
    deadline = time.monotonic() + 60
    while (len(served) < 2 or sent < 40) and sent < 1000:
        assert time.monotonic() < deadline, f"requests reached only workers {served}"
        model = "gpt-4" if sent % 2 else "llama-3"
        r = fresh_get(f"{server}/v1/count/{model}", method="POST", content=b"one two three")
        assert r.status_code == 200
        pid = r.json()["pid"]
        served[pid] = served.get(pid, 0) + 1
        sent += 1
    assert len(served) == 2, "both workers served requests"

    for _ in range(6):
        s = samples(fresh_get(f"{server}/metrics/", method="GET").text)
        for pid, n in served.items():
            assert s[("worker_requests_total", (("pid", str(pid)),))] == n
        assert s[("tokens_svc_requests_total", (("api", "count"), ("method", "POST"), ("status", "200")))] == sent
        llama = s[("tokens_total", (("model", "llama-3"),))]
        gpt = s[("tokens_total", (("model", "gpt-4"),))]
        assert llama + gpt == 3 * sent
        assert s[("text_bytes_count", ())] == sent
        assert s[("tokens_svc_concurrent_requests", (("api", "count"),))] == 0
