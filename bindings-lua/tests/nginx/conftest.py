"""A real nginx (Debian's, with its Lua module) for the tests: each test writes the
`http` block it needs, the fixture starts nginx with 4 workers on a free loopback port
in a temporary prefix directory, and stops it at the end of the test, pass or fail.

The module and the Lua files come from the environment that run.sh sets:
METRICORE_LUA_SO (an installed metricore.so) and METRICORE_LUA_DIR (bindings-lua/lua).
"""

import http.client
import os
import signal
import socket
import subprocess
import time

import pytest

NGINX = "nginx"
MODULES = "/usr/lib/nginx/modules"
START_TIMEOUT = 15
STOP_TIMEOUT = 15
HTTP_TIMEOUT = 10


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(what, check, timeout):
    """Polls `check` until it returns a true value, which it returns; fails the test
    with `what` when `timeout` seconds pass first."""
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def lua_paths():
    """The lua_package_cpath and lua_package_path directives for the built module."""
    so = os.environ.get("METRICORE_LUA_SO")
    lua = os.environ.get("METRICORE_LUA_DIR")
    if not so or not lua:
        pytest.fail("METRICORE_LUA_SO and METRICORE_LUA_DIR are not set: run bindings-lua/tests/run.sh")
    return (
        f'lua_package_cpath "{os.path.dirname(so)}/?.so;;";\n'
        f'lua_package_path "{lua}/?.lua;;";\n'
    )


def main_conf(http_block, workers=4):
    """A whole nginx.conf around `http_block` (which is inside `http { }`)."""
    user = "user root root;\n" if os.geteuid() == 0 else ""
    return f"""{user}load_module {MODULES}/ndk_http_module.so;
load_module {MODULES}/ngx_http_lua_module.so;
worker_processes {workers};
daemon off;
pid logs/nginx.pid;
error_log logs/error.log info;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path temp/body;
    proxy_temp_path temp/proxy;
    fastcgi_temp_path temp/fastcgi;
    uwsgi_temp_path temp/uwsgi;
    scgi_temp_path temp/scgi;
{http_block}
}}
"""


class Nginx:
    """One nginx: its prefix directory, port, process, and an HTTP client for it."""

    def __init__(self, prefix, port):
        self.prefix = prefix
        self.port = port
        self.proc = None
        self.output = None

    @property
    def error_log_path(self):
        return os.path.join(self.prefix, "logs", "error.log")

    def error_log(self):
        """The error log so far."""
        try:
            with open(self.error_log_path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def logs(self):
        """What nginx printed and logged, for failure messages."""
        out = ""
        if self.output and os.path.exists(self.output):
            with open(self.output, encoding="utf-8", errors="replace") as f:
                out = f.read()
        return f"--- nginx output:\n{out}\n--- nginx error.log:\n{self.error_log()}"

    def write(self, conf):
        for sub in ("conf", "logs", "temp"):
            os.makedirs(os.path.join(self.prefix, sub), exist_ok=True)
        path = os.path.join(self.prefix, "conf", "nginx.conf")
        with open(path, "w", encoding="utf-8") as f:
            f.write(conf)
        return path

    def start(self, conf):
        """Starts nginx with `conf` and waits until it answers on its port."""
        path = self.write(conf)
        self.output = os.path.join(self.prefix, "logs", "output.log")
        with open(self.output, "w") as out:
            self.proc = subprocess.Popen(
                [NGINX, "-p", self.prefix, "-e", "logs/error.log", "-c", path],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.proc.poll() is not None:
                pytest.fail(f"nginx exited at start with status {self.proc.returncode}\n{self.logs()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"nginx did not listen on port {self.port} within {START_TIMEOUT} s\n{self.logs()}")
            time.sleep(0.05)
        wait_until("4 nginx workers", lambda: len(self.workers()) >= self.expected_workers, START_TIMEOUT)
        return self

    expected_workers = 4

    def start_failing(self, conf):
        """Starts nginx with `conf`, which must make it exit with a failure status
        within START_TIMEOUT; returns what it printed and logged."""
        path = self.write(conf)
        self.output = os.path.join(self.prefix, "logs", "output.log")
        with open(self.output, "w") as out:
            self.proc = subprocess.Popen(
                [NGINX, "-p", self.prefix, "-e", "logs/error.log", "-c", path],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
        try:
            status = self.proc.wait(timeout=START_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.stop()
            pytest.fail(f"nginx started, though it should have failed\n{self.logs()}")
        assert status != 0, self.logs()
        return self.logs()

    def workers(self):
        """The pids of the worker processes (children of the master)."""
        if self.proc is None:
            return []
        try:
            with open(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children") as f:
                return [int(p) for p in f.read().split()]
        except OSError:
            return []

    def stop(self):
        """Stops nginx (quick shutdown, then SIGKILL if it does not exit in time)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        workers = self.workers()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=STOP_TIMEOUT)
        for pid in workers:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def request(self, path, method="GET", headers=None, body=None):
        """One request on a new connection: (status, headers dict, body text)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=HTTP_TIMEOUT)
        try:
            conn.request(method, path, body=body, headers=dict(headers or {}, Connection="close"))
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read().decode()
        finally:
            conn.close()


@pytest.fixture
def nginx(tmp_path):
    """Starts nginx: `nginx(http_block)` or `nginx(conf=whole_conf)`, and stops it at
    the end; with `fails=True`, checks that it exits at start and returns its logs."""
    started = []

    def start(http_block=None, conf=None, port=None, fails=False):
        port = port or free_port()
        server = Nginx(str(tmp_path / f"nginx-{len(started)}"), port)
        started.append(server)
        text = conf if conf is not None else main_conf(http_block.replace("PORT", str(port)))
        return server.start_failing(text) if fails else server.start(text)

    yield start
    for server in started:
        server.stop()
