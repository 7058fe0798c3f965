"""Processes for the end-to-end tests, shared by tests/prometheus and tests/e2e (and the
scenario the demo starts): a started process with its log, a set of processes stopped
together, waits with timeouts, and a real Prometheus server queried over its HTTP API.

Every process is started on loopback, logs to a file, and is stopped when its owner
ends, pass or fail. A process that exits early, or a wait that runs out, fails with the
process's name and log.
"""

import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

try:
    from pytest import fail

    Failed = fail.Exception  # what fail() raises (a BaseException, as pytest has it)
except ImportError:  # the demo may run without pytest

    class Failed(Exception):
        pass

    def fail(msg):
        raise Failed(msg)


ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
RELEASE = os.path.join(ROOT, "target", "release")
METRICORE = os.path.join(RELEASE, "metricore")
# The paced writer (core/examples/paced.rs).
PACED = os.path.join(RELEASE, "examples", "paced")

# Prometheus scrapes every second; the rate tests' tolerances follow from it.
SCRAPE_INTERVAL = 1.0


class Proc:
    """A started process with its log; `stop()` ends it (SIGTERM, then SIGKILL).

    With `group`, the process leads a new process group, and `stop()` signals the
    whole group, so that the workers of a server (nginx, uvicorn) end with it even when
    the server itself is gone. Such a process also gets SIGTERM if the thread that
    started it dies (a test runner killed by a time limit): out of the runner's process
    group, it would not get the runner's signals."""

    def __init__(self, name, args, log_dir, stdin=False, env=None, cwd=None, group=False):
        self.name = name
        self.args = args
        self.group = group
        self.log_path = os.path.join(str(log_dir), f"{name}.log")
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            args,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            cwd=str(cwd or log_dir),
            env=env,
            start_new_session=group,
            preexec_fn=_terminate_with_parent if group else None,
        )
        self.pid = self.proc.pid

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def excerpt(self, head=4000, tail=6000):
        """The log, or its beginning and end when it is long (a server that restarts a
        failing worker again and again)."""
        text = self.log()
        if len(text) <= head + tail:
            return text
        return f"{text[:head]}\n[... {len(text) - head - tail} characters ...]\n{text[-tail:]}"

    def running(self):
        return self.proc.poll() is None

    def check_running(self):
        code = self.proc.poll()
        if code is not None:
            fail(f"{self.name} exited with status {code}; its log:\n{self.excerpt()}")

    def wait_for_line(self, pattern, timeout):
        """The first match of `pattern` in the log, waiting up to `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            m = re.search(pattern, self.log())
            if m:
                return m
            self.check_running()
            if time.monotonic() > deadline:
                fail(f"{self.name}: no {pattern!r} within {timeout} s; its log:\n{self.excerpt()}")
            time.sleep(0.05)

    def wait(self, timeout):
        """Waits for the process to exit by itself; its status."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            fail(f"{self.name} still running after {timeout} s; its log:\n{self.excerpt()}")

    def _signal(self, sig):
        try:
            if self.group:
                os.killpg(self.proc.pid, sig)
            else:
                self.proc.send_signal(sig)
        except ProcessLookupError:
            pass

    def stop(self, sig=signal.SIGTERM, timeout=10):
        """Stops the process (and with `group` its group) and returns its exit status."""
        if self.proc.poll() is None:
            if self.proc.stdin:
                self.proc.stdin.close()
            self._signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self.proc.wait(timeout)
        if self.group:
            # Workers may outlive their leader (a SIGKILLed server); end them too.
            self._signal(signal.SIGKILL)
        if not self._log.closed:
            self._log.close()
        return self.proc.returncode


def _terminate_with_parent():
    """In a child before exec: SIGTERM when the parent (thread) dies (Linux prctl)."""
    import ctypes

    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


class Processes:
    """Starts processes that log into `log_dir`; `stop_all()` stops them, newest first."""

    def __init__(self, log_dir):
        self.log_dir = log_dir
        self.started = []

    def __call__(self, name, args, stdin=False, **kwargs):
        p = Proc(name, args, self.log_dir, stdin, **kwargs)
        self.started.append(p)
        return p

    def stop_all(self):
        for p in reversed(self.started):
            p.stop()


def free_port():
    """A loopback port that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(what, check, timeout, interval=0.2, procs=()):
    """Calls `check()` until it returns a true value, which is returned; fails after
    `timeout` seconds, or as soon as one of `procs` has exited."""
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
            logs = "".join(f"\n--- {p.name} log:\n{p.excerpt()}" for p in procs)
            fail(f"{what}: not within {timeout} s (last error: {last}){logs}")
        time.sleep(interval)


def http_get(url, headers=None, timeout=10):
    """(status, headers, body bytes) of a GET."""
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


class Prometheus:
    """A Prometheus server scraping one target, queried over its HTTP API, with the
    feature flags `features` (`native-histograms`) on."""

    def __init__(self, processes, tmp_path, target, name="prometheus", port=None, features=()):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        tmp_path = os.fspath(tmp_path)
        config = os.path.join(tmp_path, f"{name}.yml")
        with open(config, "w") as f:
            f.write(
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
            name,
            [
                "prometheus",
                f"--config.file={config}",
                f"--storage.tsdb.path={os.path.join(tmp_path, name + '-data')}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                *(f"--enable-feature={f}" for f in features),
            ],
        )
        wait_until(
            f"{name} ready",
            lambda: http_get(f"{self.url}/-/ready", timeout=2)[0] == 200,
            timeout=30,
            procs=[self.proc],
        )

    def query(self, promql, at=None):
        """The result vector of an instant query (at Unix time `at`, or now), as
        [(labels, value)]."""
        params = {"query": promql}
        if at is not None:
            params["time"] = f"{at:.3f}"
        status, _, body = http_get(f"{self.url}/api/v1/query?" + urllib.parse.urlencode(params))
        data = json.loads(body)
        assert status == 200 and data["status"] == "success", f"{promql}: {status} {data}"
        return [(r["metric"], float(r["value"][1])) for r in data["data"]["result"]]

    def wait_for(self, what, promql, timeout=40):
        """Waits until `promql` returns a non-empty vector, and returns it."""
        return wait_until(what, lambda: self.query(promql), timeout, procs=[self.proc])


def build_cli(timeout=900):
    """Builds the `metricore` command and the paced writer (release); returns the
    command's path, or raises `Failed` naming what went wrong."""
    cmd = [
        "cargo", "build", "--release", "-q", "-p", "metricore", "--features", "cli",
        "--bin", "metricore", "--example", "paced",
    ]
    try:
        subprocess.run(cmd, cwd=ROOT, check=True, timeout=timeout)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
        fail(f"building the binaries failed: {e}")
    return METRICORE


def link_soname():
    """Links `libmetricore.so.MAJOR` (the library's SONAME, the name programs linked
    with it load) to `libmetricore.so` in the release directory."""
    dynamic = subprocess.run(["readelf", "-d", os.path.join(RELEASE, "libmetricore.so")],
                             capture_output=True, text=True, check=True).stdout
    soname = os.path.join(RELEASE, re.search(r"Library soname: \[(.*)\]", dynamic).group(1))
    if not os.path.lexists(soname):
        os.symlink("libmetricore.so", soname)


def run_step(cmd, what, cwd=ROOT, timeout=1200):
    """Runs a build or setup command; fails naming `what`, with its output, when it
    fails or takes longer than `timeout` seconds."""
    try:
        r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        fail(f"{what}: not done within {timeout} s: {' '.join(cmd)}")
    if r.returncode != 0:
        fail(f"{what} failed (status {r.returncode}): {' '.join(cmd)}\n{r.stdout}{r.stderr}")
    return r


def children(pid):
    """The pids of the direct children of `pid`."""
    out = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                out += [int(p) for p in f.read().split()]
    except FileNotFoundError:
        pass
    return out


def cmdline(pid):
    """The command line of `pid`, arguments joined by spaces; "" once it has exited."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode("utf-8", "replace")
    except FileNotFoundError:
        return ""


NGINX_MODULES = "/usr/lib/nginx/modules"

# The start of an nginx configuration with the Lua module, to be formatted with `user`
# (`nginx_user()`), `workers`, `dir` (nginx's prefix, for its pid and temporary files),
# `modules` (`NGINX_MODULES`) and `connections`; it ends inside the `http` block.
NGINX_HEAD = """\
{user}worker_processes {workers};
daemon off;
master_process on;
pid {dir}/nginx.pid;
error_log stderr notice;
load_module {modules}/ndk_http_module.so;
load_module {modules}/ngx_http_lua_module.so;

events {{
    worker_connections {connections};
}}

http {{
    access_log off;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
"""


def nginx_user():
    """`user root;` when running as root: nginx would otherwise run its workers as
    nobody, who cannot open a registry file of mode 0600."""
    return "user root;\n" if os.geteuid() == 0 else ""
