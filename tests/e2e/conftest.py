"""The end-to-end run: one registry file; nginx (4 workers, Lua), the token service
(uvicorn, 2 workers), a C and a Rust program record into it; `metricore serve` exports
it and a real Prometheus scrapes it every second. A load generator sends a known mix of
requests through the gateway while the run kills an nginx worker, a uvicorn worker and
`metricore serve` (restarted on its port). The tests then check what everything recorded.

The whole run happens once per session (the `run` fixture); every process is stopped at
the end, pass or fail. Each wait has a timeout, and a component that does not start
fails the run with its name and its log.
"""

import os
import shutil
import signal
import statistics
import sys
import threading
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "common"))

import scenario  # noqa: E402
from harness import Processes, http_get, wait_until  # noqa: E402
from loadgen import LoadGenerator  # noqa: E402

# The run's shape: 150 requests/s for 30 s through the gateway, faults at these seconds
# after its start, and the C and Rust programs recording 4 threads x 25,000 events
# over 8 s from second 2 (so that they overlap the nginx worker's kill).
RATE = 150
LOAD_SECONDS = 30
MAX_REQUESTS = 10_000
KILL_NGINX_WORKER_AT = 7
KILL_UVICORN_WORKER_AT = 13
RESTART_SERVE_AT = 19
RECORDERS_AT = 2
RECORDER_THREADS = 4
RECORDER_COUNT = 25_000
RECORDER_SECONDS = 8
# Rate windows of the PromQL checks, and the dashboard's $__rate_interval.
WINDOW = 20
RATE_INTERVAL = "10s"

SUMMARY = []
STARTED = time.monotonic()

# Gauges of requests in flight, which the load leaves at 0.
IN_FLIGHT = ("gateway_in_flight_requests", "model_in_flight_requests", "http_concurrent_requests", "recorder_threads_running")


def pytest_terminal_summary(terminalreporter):
    if SUMMARY:
        terminalreporter.section("metricore end-to-end run")
        for line in SUMMARY:
            terminalreporter.write_line(line)
        terminalreporter.write_line(f"suite: {time.monotonic() - STARTED:.0f} s, builds and startup included")


def samples(text):
    """{(name, sorted label items): value} of a Prometheus text exposition."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def families(text):
    return {f.name: f for f in text_string_to_metric_families(text)}


@pytest.fixture(scope="session")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("e2e")


@pytest.fixture(scope="session")
def built(workdir):
    """The binaries, built; fails naming what is missing."""
    missing = [tool for tool in ("gcc", "prometheus", "promtool", "nginx") if shutil.which(tool) is None]
    if not scenario.nginx_lua_present():
        missing.append("nginx's Lua module (libnginx-mod-http-lua)")
    if missing:
        pytest.fail(f"missing: {', '.join(missing)} (scripts/install-deps.sh installs them)")
    if not scenario.lua_binding_present():
        pytest.fail(f"the Lua binding is missing: no {scenario.LUA_DIR}/metricore/prometheus.lua")
    if not scenario.python_binding_present():
        pytest.fail("the metricore Python package does not import in this interpreter: run ./bindings-python/build.sh")
    return scenario.build(str(workdir))


@pytest.fixture(scope="session")
def processes(workdir):
    procs = Processes(workdir)
    yield procs
    procs.stop_all()


@pytest.fixture(scope="session")
def stack(built, workdir, processes):
    """Every long-running process of the scenario, started and ready."""
    s = scenario.Scenario(workdir, processes, recorder_c=built)
    s.create_registry()
    s.start_token_service()
    s.start_gateway()
    s.start_serve()
    s.start_prometheus()
    # Prometheus applies its targets a few seconds after it is ready: the load waits
    # for its first scrape.
    s.prometheus.wait_for("Prometheus: a first scrape of metricore serve", 'up{job="metricore"} == 1', timeout=30)
    return s


PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)


class Sampler:
    """Scrapes `metricore serve` twice a second during the load, as Prometheus does
    (same Accept header), and keeps how long each scrape of the whole registry took;
    every other scrape is in the text format and is kept for later checks."""

    def __init__(self, stack):
        self.stack = stack
        self.durations = []  # seconds per OpenMetrics scrape
        self.sizes = []
        self.snapshots = []  # (Unix time, text)
        self.failures = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._main, name="sampler", daemon=True)

    def start(self):
        self._thread.start()

    def stop(self):
        self._stop.set()
        self._thread.join(10)

    def _main(self):
        n = 0
        while not self._stop.wait(0.25):
            url = self.stack.serve_url
            try:
                if n % 2 == 0:
                    t = time.perf_counter()
                    status, _, body = http_get(url, headers={"Accept": PROMETHEUS_ACCEPT}, timeout=5)
                    if status == 200:
                        self.durations.append(time.perf_counter() - t)
                        self.sizes.append(len(body))
                else:
                    at = time.time()
                    status, _, body = http_get(url, timeout=5)
                    if status == 200:
                        self.snapshots.append((at, body.decode()))
            except OSError:
                self.failures += 1  # the exporter is being restarted
            n += 1


class Run:
    """What happened during the run, for the tests to check."""


def _kill_busiest(what, pids, port, procs):
    """SIGKILLs the one of `pids` with the most requests in flight (connections on
    `port`); its pid and how many it had."""
    if not pids:
        pytest.fail(f"no {what} to kill; logs:\n" + "".join(f"--- {p.name}\n{p.log()}" for p in procs))
    busy = {pid: scenario.connections(pid, port) for pid in pids}
    pid = max(pids, key=lambda p: busy[p])
    os.kill(pid, signal.SIGKILL)
    return pid, busy[pid]


@pytest.fixture(scope="session")
def run(stack):
    s = stack
    r = Run()
    r.stack = s
    r.threads, r.count = RECORDER_THREADS, RECORDER_COUNT
    r.faults = []
    load = r.load = LoadGenerator("127.0.0.1", s.gateway_port, rate=RATE, seconds=LOAD_SECONDS, max_requests=MAX_REQUESTS)
    sampler = r.sampler = Sampler(s)
    load.start()
    sampler.start()
    t0 = time.monotonic()

    def at(second):
        remaining = t0 + second - time.monotonic()
        if remaining > 0:
            time.sleep(remaining)

    try:
        at(RECORDERS_AT)
        recorders = s.start_recorders(RECORDER_THREADS, RECORDER_COUNT, RECORDER_SECONDS)

        at(KILL_NGINX_WORKER_AT)
        pid, busy = _kill_busiest("nginx worker", s.gateway_workers(), s.gateway_port, [s.gateway])
        r.nginx_killed, r.nginx_killed_at = pid, time.time()
        r.faults.append(f"SIGKILL nginx worker {pid} at {KILL_NGINX_WORKER_AT} s, with {busy} client connections open")
        wait_until(
            "nginx: a new worker replaces the killed one",
            lambda: pid not in s.gateway_workers() and len(s.gateway_workers()) == scenario.NGINX_WORKERS,
            20,
            procs=[s.gateway],
        )

        at(KILL_UVICORN_WORKER_AT)
        started = s.token_service.log().count("Application startup complete")
        pid, busy = _kill_busiest("uvicorn worker", s.token_workers(), s.token_port, [s.token_service])
        r.uvicorn_killed, r.uvicorn_killed_at = pid, time.time()
        r.faults.append(f"SIGKILL uvicorn worker {pid} at {KILL_UVICORN_WORKER_AT} s, with {busy} requests in flight")
        wait_until(
            "uvicorn: a new worker replaces the killed one",
            lambda: s.token_service.log().count("Application startup complete") > started
            and len(s.token_workers()) == scenario.UVICORN_WORKERS,
            30,
            procs=[s.token_service],
        )

        at(RESTART_SERVE_AT)
        old, _ = s.kill_and_restart_serve()
        r.serve_killed, r.serve_restarted_at = old, time.time()
        r.faults.append(f"SIGKILL metricore serve {old} at {RESTART_SERVE_AT} s, restarted on the same port")

        load.join(LOAD_SECONDS + 60)
        r.load_started, r.load_stopped = load.started, load.stopped
        r.load_ended = max((x.ended for x in load.results), default=load.stopped)
        for p in recorders:
            status = p.wait(60)
            if status != 0 or "done" not in p.log():
                pytest.fail(f"{p.name} failed (status {status}); its log:\n{p.log()}")
        r.recorders = recorders
    finally:
        load.stop()
        sampler.stop()

    # Nothing records any more once the last answers' workers have finished with them
    # (nginx's log phase and the middleware end after the answer went out): the final
    # state, as the exporter, nginx (Lua) and a token service worker (Python) render it.
    deadline = time.monotonic() + 10
    while True:
        status, _, body = http_get(s.serve_url)
        assert status == 200, f"metricore serve answered {status}"
        r.final_text = body.decode()
        r.final = samples(r.final_text)
        busy = {k: v for k, v in r.final.items() if k[0] in IN_FLIGHT and v != 0}
        if not busy or time.monotonic() > deadline:
            break  # test_gauges_are_back_to_zero reports what is still in flight
        time.sleep(0.2)
    r.final_at = time.time()
    r.gateway_text = http_get(f"http://127.0.0.1:{s.gateway_port}/metrics")[2].decode()
    r.token_text = http_get(f"http://127.0.0.1:{s.token_port}/metrics/")[2].decode()

    # Prometheus, once it has scraped the final state.
    total = sum(v for (n, _), v in r.final.items() if n == "gateway_requests_total")
    wait_until(
        "Prometheus: a scrape of the final state",
        lambda: s.prometheus.query("sum(gateway_requests_total)") == [({}, total)]
        and s.prometheus.query(f"timestamp(up) > {r.final_at:.3f}"),
        20,
        procs=[s.prometheus.proc],
    )
    r.prometheus_final_at = time.time()

    answered = sum(1 for x in load.results if x.answered)
    d = sorted(sampler.durations)
    SUMMARY.append(
        f"requests: {len(load.results)} sent in {load.stopped - load.started:.1f} s, {answered} answered, "
        f"{len(load.results) - answered} unanswered"
    )
    for f in r.faults:
        SUMMARY.append(f"fault: {f}")
    if d:
        SUMMARY.append(
            f"scrape of the whole registry during the load ({len(d)} scrapes, OpenMetrics, "
            f"{statistics.median(sampler.sizes) / 1024:.1f} KiB, {int(r.final.get(('metricore_series', ()), 0))} series): "
            f"median {statistics.median(d) * 1e3:.2f} ms, p95 {d[int(0.95 * (len(d) - 1))] * 1e3:.2f} ms, "
            f"max {d[-1] * 1e3:.2f} ms"
        )
    return r
