"""Processes for the end-to-end tests: paced writers recording into a shared registry
file, `metricore serve` exporting it, and a real Prometheus server scraping it.

Every process is started on loopback, logs to a file in the test's temporary
directory, and is stopped when its fixture ends, pass or fail. A process that exits
early, or a wait that runs out, fails the test with the process's name and log.
"""

import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.parse
import urllib.request

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
RELEASE = os.path.join(ROOT, "target", "release")
METRICORE = os.path.join(RELEASE, "metricore")
PACED = os.path.join(RELEASE, "examples", "paced")

# Prometheus scrapes every second; the rate tests' tolerances follow from it.
SCRAPE_INTERVAL = 1.0
BUILD_TIMEOUT = 900


class Proc:
    """A started process with its log; `stop()` ends it (SIGTERM, then SIGKILL)."""

    def __init__(self, name, args, log_dir, stdin=False):
        self.name = name
        self.log_path = os.path.join(str(log_dir), f"{name}.log")
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            args,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            cwd=str(log_dir),
        )

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def check_running(self):
        code = self.proc.poll()
        if code is not None:
            pytest.fail(f"{self.name} exited with status {code}; its log:\n{self.log()}")

    def wait_for_line(self, pattern, timeout):
        """The first match of `pattern` in the log, waiting up to `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            m = re.search(pattern, self.log())
            if m:
                return m
            self.check_running()
            if time.monotonic() > deadline:
                pytest.fail(f"{self.name}: no {pattern!r} within {timeout} s; its log:\n{self.log()}")
            time.sleep(0.05)

    def stop(self, sig=signal.SIGTERM, timeout=10):
        """Stops the process and returns its exit status."""
        if self.proc.poll() is None:
            if self.proc.stdin:
                self.proc.stdin.close()
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        self._log.close()
        return self.proc.returncode


class Processes:
    """Starts processes that log into `log_dir`; `stop_all()` stops them, newest first."""

    def __init__(self, log_dir):
        self.log_dir = log_dir
        self.started = []

    def __call__(self, name, args, stdin=False):
        p = Proc(name, args, self.log_dir, stdin)
        self.started.append(p)
        return p

    def stop_all(self):
        for p in reversed(self.started):
            p.stop()


@pytest.fixture
def processes(tmp_path):
    """Starts processes for one test and stops them all at its end."""
    procs = Processes(tmp_path)
    yield procs
    procs.stop_all()


@pytest.fixture(scope="module")
def module_dir(tmp_path_factory):
    """A temporary directory shared by the tests of one module."""
    return tmp_path_factory.mktemp("module")


@pytest.fixture(scope="module")
def module_processes(module_dir):
    """Starts processes shared by the tests of one module and stops them at its end."""
    procs = Processes(module_dir)
    yield procs
    procs.stop_all()


@pytest.fixture(scope="session")
def built():
    """Builds the `metricore` command and the paced writer (release)."""
    cmd = [
        "cargo", "build", "--release", "-q", "-p", "metricore", "--features", "cli",
        "--bin", "metricore", "--example", "paced",
    ]
    try:
        subprocess.run(cmd, cwd=ROOT, check=True, timeout=BUILD_TIMEOUT)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
        pytest.fail(f"building the binaries failed: {e}")
    return METRICORE


def free_port():
    """A loopback port that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(what, check, timeout, interval=0.2, procs=()):
    """Calls `check()` until it returns a true value, which is returned; fails the test
    after `timeout` seconds, or as soon as one of `procs` has exited."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            value = check()
            if value:
                return value
        except Exception as e:  # a server still starting refuses connections
            last = e
        for p in procs:
            p.check_running()
        if time.monotonic() > deadline:
            logs = "".join(f"\n--- {p.name} log:\n{p.log()}" for p in procs)
            pytest.fail(f"{what}: not within {timeout} s (last error: {last}){logs}")
        time.sleep(interval)


def http_get(url, headers=None, timeout=10):
    """(status, headers, body bytes) of a GET."""
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def start_writers(processes, path):
    """Two paced writer processes recording into the registry file at `path`."""
    for i in range(2):
        processes(f"paced-writer-{i}", [PACED, path], stdin=True).wait_for_line(r"ready", 30)
    return path


@pytest.fixture(scope="module")
def writers(built, module_processes, module_dir):
    """Two paced writers recording into one new registry file; its path."""
    return start_writers(module_processes, str(module_dir / "paced.metricore"))


def serve(processes, *paths, name="metricore-serve"):
    """Starts `metricore serve` on a free loopback port; its /metrics URL."""
    args = [METRICORE, "serve", "--listen", "127.0.0.1:0"]
    for p in paths:
        args += ["--registry", p]
    proc = processes(name, args)
    return proc.wait_for_line(r"at (http://\S+/metrics)", 20).group(1), proc


@pytest.fixture(scope="module")
def exporter(writers, module_processes):
    """`metricore serve` of the writers' file: (url, process)."""
    return serve(module_processes, writers)


class Prometheus:
    """A Prometheus server scraping one target, queried over its HTTP API."""

    def __init__(self, processes, tmp_path, target):
        self.port = free_port()
        config = tmp_path / "prometheus.yml"
        config.write_text(
            "global:\n"
            f"  scrape_interval: {SCRAPE_INTERVAL:g}s\n"
            f"  scrape_timeout: {SCRAPE_INTERVAL:g}s\n"
            f"  evaluation_interval: {SCRAPE_INTERVAL:g}s\n"
            "scrape_configs:\n"
            "  - job_name: metricore\n"
            "    static_configs:\n"
            f"      - targets: ['{target}']\n"
        )
        self.proc = processes(
            "prometheus",
            [
                "prometheus",
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'prometheus-data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
        )
        wait_until(
            "prometheus ready",
            lambda: http_get(f"http://127.0.0.1:{self.port}/-/ready", timeout=2)[0] == 200,
            timeout=30,
            procs=[self.proc],
        )

    def query(self, promql):
        """The result vector of an instant query, as [(labels, value)]."""
        url = f"http://127.0.0.1:{self.port}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
        status, _, body = http_get(url)
        data = json.loads(body)
        assert status == 200 and data["status"] == "success", f"{promql}: {status} {data}"
        return [(r["metric"], float(r["value"][1])) for r in data["data"]["result"]]

    def wait_for(self, what, promql, timeout=40):
        """Waits until `promql` returns a non-empty vector, and returns it."""
        return wait_until(what, lambda: self.query(promql), timeout, procs=[self.proc])


@pytest.fixture(scope="module")
def prometheus(exporter, module_processes, module_dir):
    """A Prometheus server scraping the exporter every second."""
    url, _ = exporter
    return Prometheus(module_processes, module_dir, urllib.parse.urlparse(url).netloc)
