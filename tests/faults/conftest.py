"""Processes of every language around one registry file, for the tests that truncate,
remove and replace that file under them: a C recorder, a Python recorder, `metricore
serve` and nginx with 4 workers (Lua). Built once per session; each test gets its own
file and processes, all stopped at its end, pass or fail."""

import os
import re
import shutil
import subprocess
import sys
import threading
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "common"))

from harness import (  # noqa: E402
    METRICORE,
    RELEASE,
    ROOT,
    Processes,
    fail,
    free_port,
    http_get,
    link_soname,
    wait_until,
)

NGINX_MODULES = "/usr/lib/nginx/modules"
LUA_SO = os.path.join(RELEASE, "libmetricore_lua.so")
LUA_DIR = os.path.join(ROOT, "bindings-lua", "lua")
NGINX_WORKERS = 4

NGINX_CONF = """\
{user}worker_processes {workers};
daemon off;
master_process on;
pid {dir}/nginx.pid;
error_log stderr notice;
load_module {modules}/ndk_http_module.so;
load_module {modules}/ngx_http_lua_module.so;

events {{
    worker_connections 256;
}}

http {{
    access_log off;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    lua_package_path "{here}/?.lua;{lua_dir}/?.lua;;";
    lua_package_cpath "{so_dir}/?.so;;";
    init_worker_by_lua_block {{
        require("app").init("{registry}")
    }}
    server {{
        listen 127.0.0.1:{port};
        location = /hit {{
            content_by_lua_block {{ require("app").hit() }}
        }}
        location = /metrics {{
            content_by_lua_block {{ require("app").collect() }}
        }}
    }}
}}
"""


def _run(cmd, what):
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=1200)
    if r.returncode != 0:
        fail(f"{what} failed (status {r.returncode}): {' '.join(cmd)}\n{r.stdout}{r.stderr}")


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """The C recorder, built against libmetricore, and the Lua module's directory."""
    if shutil.which("nginx") is None or not os.path.exists(os.path.join(NGINX_MODULES, "ngx_http_lua_module.so")):
        fail("nginx and libnginx-mod-http-lua are needed (scripts/install-deps.sh)")
    _run(["cargo", "build", "--release", "-q", "-p", "metricore", "--features", "cli", "--bin", "metricore"], "building metricore")
    _run(["cargo", "build", "--release", "-q", "-p", "metricore-c", "-p", "metricore-lua"], "building libmetricore and the Lua module")
    link_soname()
    out = tmp_path_factory.mktemp("build")
    recorder = str(out / "recorder")
    _run(
        [
            "gcc", "-O2", "-Wall", "-Wextra", "-Werror",
            "-I", os.path.join(ROOT, "ffi-c", "include"),
            os.path.join(HERE, "recorder.c"),
            "-L", RELEASE, "-lmetricore", f"-Wl,-rpath,{RELEASE}",
            "-o", recorder,
        ],
        "compiling tests/faults/recorder.c",
    )
    so_dir = str(out / "lua")
    _run([os.path.join(ROOT, "bindings-lua", "install.sh"), LUA_SO, so_dir], "installing the Lua module")
    return {"recorder": recorder, "so_dir": so_dir}


def children(pid):
    out = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as f:
            out += [int(p) for p in f.read().split()]
    return out


class Stack:
    """The processes around `self.registry`."""

    def __init__(self, built, tmp_path, processes):
        self.registry = str(tmp_path / "faults.metricore")
        self.processes = processes
        self.c = processes("recorder-c", [built["recorder"], self.registry])
        self.c.wait_for_line(r"ready", 20)
        self.py = processes("recorder-py", [sys.executable, os.path.join(HERE, "recorder.py"), self.registry])
        self.py.wait_for_line(r"ready", 30)
        self.serve = processes("metricore-serve", [METRICORE, "serve", "--registry", self.registry, "--listen", "127.0.0.1:0"])
        self.serve_url = self.serve.wait_for_line(r"at (http://\S+/metrics)", 20).group(1)
        nginx_dir = tmp_path / "nginx"
        nginx_dir.mkdir()
        self.nginx_url = f"http://127.0.0.1:{free_port()}"
        conf = nginx_dir / "nginx.conf"
        conf.write_text(
            NGINX_CONF.format(
                # As root, nginx would run its workers as nobody, who cannot open the
                # registry file (mode 0600).
                user="user root;\n" if os.geteuid() == 0 else "",
                workers=NGINX_WORKERS,
                dir=nginx_dir,
                modules=NGINX_MODULES,
                here=HERE,
                lua_dir=LUA_DIR,
                so_dir=built["so_dir"],
                registry=self.registry,
                port=self.nginx_url.rsplit(":", 1)[1],
            )
        )
        self.nginx = processes("nginx", ["nginx", "-p", str(nginx_dir), "-c", str(conf), "-e", "stderr"], group=True)
        wait_until("nginx answers", lambda: http_get(self.nginx_url + "/hit", timeout=2)[0] == 200, 30, procs=[self.nginx])
        wait_until(f"nginx: {NGINX_WORKERS} workers", lambda: len(self.workers()) == NGINX_WORKERS, 30, procs=[self.nginx])
        self._stop = threading.Event()
        self.hits = 0
        self._hitter = threading.Thread(target=self._hit, daemon=True)
        self._hitter.start()

    def _hit(self):
        """Requests /hit every few ms (spread over the workers by the kernel) until
        stopped; errors are left to the checks."""
        while not self._stop.is_set():
            try:
                if http_get(self.nginx_url + "/hit", timeout=2)[0] == 200:
                    self.hits += 1
            except OSError:
                pass
            time.sleep(0.003)

    def workers(self):
        return sorted(c for c in children(self.nginx.pid) if "worker process" in _cmdline(c))

    def pids(self):
        """Every process that has the registry mapped."""
        return [self.c.pid, self.py.pid, self.serve.pid, *self.workers()]

    def name(self, pid):
        """What process `pid` is, for messages."""
        return _cmdline(pid)

    def all_running(self):
        for p in (self.c, self.py, self.serve, self.nginx):
            p.check_running()

    def metrics(self, url=None):
        status, _, body = http_get(url or self.serve_url, timeout=5)
        assert status == 200, (status, body[:2000])
        return body.decode()

    def close(self):
        self._stop.set()
        self._hitter.join(5)


def _cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode("utf-8", "replace")
    except FileNotFoundError:
        return ""


def value(text, series):
    """The value of `series` (name and labels as rendered) in exposition `text`."""
    m = re.search(r"^" + re.escape(series) + r" (\S+)$", text, re.M)
    return float(m.group(1)) if m else None


@pytest.fixture
def stack(built, tmp_path):
    processes = Processes(tmp_path)
    s = None
    try:
        s = Stack(built, tmp_path, processes)
        yield s
    finally:
        if s is not None:
            s.close()
        statuses = {p.name: p.stop() for p in processes.started}
    # The recorders end on SIGTERM by themselves: status 0, nothing died on the way.
    assert statuses.get("recorder-c") == 0, processes.started[0].excerpt()
    assert statuses.get("recorder-py") == 0, processes.started[1].excerpt()
