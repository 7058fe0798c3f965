"""Processes of every language around one registry file, for the tests that truncate,
remove and replace that file under them: a C recorder, a Python recorder, `metricore
serve` and nginx with 4 workers (Lua). Built once per session; each test gets its own
file and processes, all stopped at its end, pass or fail."""

import os
import re
import shutil
import sys
import threading
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "common"))

from harness import (  # noqa: E402
    METRICORE,
    NGINX_HEAD,
    NGINX_MODULES,
    RELEASE,
    ROOT,
    Processes,
    children,
    cmdline,
    fail,
    free_port,
    http_get,
    link_soname,
    nginx_user,
    run_step,
    wait_until,
)

LUA_SO = os.path.join(RELEASE, "libmetricore_lua.so")
LUA_DIR = os.path.join(ROOT, "bindings-lua", "lua")
NGINX_WORKERS = 4

NGINX_CONF = NGINX_HEAD + """\
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


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """The C recorder, built against libmetricore, and the Lua module's directory."""
    if shutil.which("nginx") is None or not os.path.exists(os.path.join(NGINX_MODULES, "ngx_http_lua_module.so")):
        fail("nginx and libnginx-mod-http-lua are needed (scripts/install-deps.sh)")
    run_step(["cargo", "build", "--release", "-q", "-p", "metricore", "--features", "cli", "--bin", "metricore"], "building metricore")
    run_step(["cargo", "build", "--release", "-q", "-p", "metricore-c", "-p", "metricore-lua"], "building libmetricore and the Lua module")
    link_soname()
    out = tmp_path_factory.mktemp("build")
    recorder = str(out / "recorder")
    run_step(
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
    run_step([os.path.join(ROOT, "bindings-lua", "install.sh"), LUA_SO, so_dir], "installing the Lua module")
    return {"recorder": recorder, "so_dir": so_dir}


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
                user=nginx_user(),
                workers=NGINX_WORKERS,
                connections=256,
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
        return sorted(c for c in children(self.nginx.pid) if "worker process" in cmdline(c))

    def pids(self):
        """Every process that has the registry mapped."""
        return [self.c.pid, self.py.pid, self.serve.pid, *self.workers()]

    def name(self, pid):
        """What process `pid` is, for messages."""
        return cmdline(pid)

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
