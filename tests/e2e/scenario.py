"""The processes of the end-to-end scenario, started around ONE registry file:

- nginx (4 workers) running tests/e2e/gateway/gateway.lua on metricore.prometheus,
  proxying /v1/chat/completions to
- the token service (tests/e2e/token_service.py) under uvicorn with 2 workers,
- the C program tests/e2e/recorder.c and the Rust program core/examples/e2e_recorder.rs,
- `metricore serve` exporting the file, and a real Prometheus scraping it every second.

Everything listens on loopback, on free ports. Used by the suite (tests/e2e/conftest.py)
and by the demo (`python tests/e2e/scenario.py`, which `make demo` runs): the demo starts
the pieces whose system packages are present, prints where to look, and stops everything
on Ctrl-C.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "common"))
from harness import (  # noqa: E402
    METRICORE,
    NGINX_HEAD,
    NGINX_MODULES,
    RELEASE,
    ROOT,
    Failed,
    Processes,
    Prometheus,
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

RUST_RECORDER = os.path.join(RELEASE, "examples", "e2e_recorder")
LUA_SO = os.path.join(RELEASE, "libmetricore_lua.so")
LUA_DIR = os.path.join(ROOT, "bindings-lua", "lua")
LUA_INSTALL = os.path.join(ROOT, "bindings-lua", "install.sh")

NGINX_WORKERS = 4
UVICORN_WORKERS = 2


def nginx_lua_present():
    """Whether nginx and its Lua module are installed."""
    return shutil.which("nginx") is not None and os.path.exists(
        os.path.join(NGINX_MODULES, "ngx_http_lua_module.so")
    )


def lua_binding_present():
    """Whether the Lua binding's files are in the tree."""
    return os.path.exists(os.path.join(LUA_DIR, "metricore", "prometheus.lua"))


def python_binding_present():
    """Whether the `metricore` Python package imports in this interpreter."""
    r = subprocess.run([sys.executable, "-c", "import metricore, starlette, uvicorn"], capture_output=True)
    return r.returncode == 0


def build(out_dir, lua=True):
    """Builds the scenario's binaries (release): `metricore`, the Rust recorder,
    libmetricore, the Lua module when `lua`, and the C recorder into `out_dir`.
    Returns the path of the C recorder."""
    packages = ["-p", "metricore", "--features", "cli", "--bin", "metricore", "--example", "e2e_recorder"]
    run_step(["cargo", "build", "--release", "-q", *packages], "building metricore and the Rust recorder")
    run_step(["cargo", "build", "--release", "-q", "-p", "metricore-c"], "building libmetricore")
    link_soname()
    if lua:
        run_step(["cargo", "build", "--release", "-q", "-p", "metricore-lua"], "building the Lua module")
    recorder = os.path.join(out_dir, "recorder")
    run_step(
        [
            "gcc", "-O2", "-Wall", "-Wextra", "-Werror", "-pthread",
            "-I", os.path.join(ROOT, "ffi-c", "include"),
            os.path.join(HERE, "recorder.c"),
            "-L", RELEASE, "-lmetricore", f"-Wl,-rpath,{RELEASE}",
            "-o", recorder,
        ],
        "compiling tests/e2e/recorder.c",
    )
    return recorder


def connections(pid, port):
    """The established TCP connections of process `pid` on local port `port` (loopback,
    IPv4): for a server answering one request per connection, its requests in flight."""
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
        with open(f"/proc/{pid}/net/tcp") as f:
            rows = f.read().splitlines()[1:]
    except (FileNotFoundError, ProcessLookupError):
        return 0
    n = 0
    for row in rows:
        fields = row.split()
        local, state, inode = fields[1], fields[3], fields[9]
        if state == "01" and int(local.split(":")[1], 16) == port and inode in inodes:
            n += 1
    return n


NGINX_CONF = NGINX_HEAD + """\

    lua_package_path "{gateway_dir}/?.lua;{lua_dir}/?.lua;;";
    lua_package_cpath "{so_dir}/?.so;;";
    lua_shared_dict gateway_cache 10m;
    init_worker_by_lua_block {{
        require("gateway").init("{registry}")
    }}

    upstream token_service {{
        server 127.0.0.1:{upstream_port};
    }}

    server {{
        listen 127.0.0.1:{port};
        keepalive_timeout 300s;
        keepalive_requests 100000;
        client_body_buffer_size 64k;

        location = /healthz {{
            return 200 "ok\\n";
        }}
        location = /metrics {{
            content_by_lua_block {{ require("gateway").collect() }}
        }}
        location = /v1/chat/completions {{
            access_by_lua_block {{ require("gateway").access() }}
            proxy_pass http://token_service;
            proxy_read_timeout 15s;
            header_filter_by_lua_block {{ require("gateway").header_filter() }}
            body_filter_by_lua_block {{ require("gateway").body_filter() }}
            log_by_lua_block {{ require("gateway").log() }}
        }}
    }}
}}
"""


class Scenario:
    """The scenario's processes around one registry file in `workdir`."""

    def __init__(self, workdir, processes: Processes, recorder_c=None):
        self.workdir = str(workdir)
        self.processes = processes
        self.registry = os.path.join(self.workdir, "e2e.metricore")
        self.recorder_c = recorder_c
        self.token_service = self.gateway = self.serve = self.prometheus = None
        self.serve_port = None
        self.serve_url = None
        self.serve_restarts = 0
        self.token_port = self.gateway_port = None

    # The registry file.

    def create_registry(self):
        if os.path.exists(self.registry):
            os.unlink(self.registry)
        p = self.processes("create-registry", [RUST_RECORDER, "create", self.registry])
        status = p.wait(30)
        if status != 0:
            fail(f"creating the registry failed (status {status}); log:\n{p.log()}")
        return self.registry

    # The token service.

    def start_token_service(self, workers=UVICORN_WORKERS):
        self.token_port = free_port()
        env = dict(os.environ, METRICORE_REGISTRY=self.registry, PYTHONUNBUFFERED="1")
        p = self.token_service = self.processes(
            "token-service",
            [
                sys.executable, "-m", "uvicorn", "token_service:app", "--app-dir", HERE,
                "--host", "127.0.0.1", "--port", str(self.token_port), "--workers", str(workers),
                "--no-access-log", "--log-level", "info",
            ],
            env=env,
            group=True,
        )
        def started():
            log = p.log()
            if "Traceback" in log:  # a worker failed to start: uvicorn would retry forever
                fail(f"token-service: a worker failed to start; its log:\n{p.excerpt()}")
            return log.count("Application startup complete") >= workers

        wait_until("token-service: all workers started", started, timeout=60, procs=[p])
        url = f"http://127.0.0.1:{self.token_port}/healthz"
        wait_until("token-service answers /healthz", lambda: http_get(url, timeout=2)[0] == 200, 30, procs=[p])
        return f"http://127.0.0.1:{self.token_port}"

    def token_workers(self):
        """The pids of the uvicorn worker processes."""
        return [c for c in children(self.token_service.pid) if "multiprocessing" in cmdline(c)
                and "resource_tracker" not in cmdline(c)]

    # The gateway.

    def start_gateway(self, workers=NGINX_WORKERS, port=None):
        so_dir = os.path.join(self.workdir, "lua")
        if not os.path.exists(os.path.join(so_dir, "metricore.so")):
            r = subprocess.run([LUA_INSTALL, LUA_SO, so_dir], capture_output=True, text=True, timeout=60)
            if r.returncode != 0:
                fail(f"installing the Lua module failed: {r.stdout}{r.stderr}")
        nginx_dir = os.path.join(self.workdir, "nginx")
        os.makedirs(nginx_dir, exist_ok=True)
        self.gateway_port = port or free_port()
        conf = os.path.join(nginx_dir, "nginx.conf")
        with open(conf, "w") as f:
            f.write(
                NGINX_CONF.format(
                    user=nginx_user(),
                    workers=workers,
                    connections=1024,
                    dir=nginx_dir,
                    modules=NGINX_MODULES,
                    gateway_dir=os.path.join(HERE, "gateway"),
                    lua_dir=LUA_DIR,
                    so_dir=so_dir,
                    registry=self.registry,
                    upstream_port=self.token_port,
                    port=self.gateway_port,
                )
            )
        p = self.gateway = self.processes(
            "nginx", ["nginx", "-p", nginx_dir, "-c", conf, "-e", "stderr"], group=True
        )
        url = f"http://127.0.0.1:{self.gateway_port}"
        wait_until("nginx answers /healthz", lambda: http_get(url + "/healthz", timeout=2)[0] == 200, 30, procs=[p])
        wait_until(f"nginx: {workers} workers", lambda: len(self.gateway_workers()) == workers, 30, procs=[p])
        # A worker whose init_worker_by_lua failed still answers /healthz: look at the
        # log, and at the metrics it must have made.
        def made():
            self.check_gateway_log()
            return b"gateway_requests_total" in http_get(url + "/metrics", timeout=5)[2]

        wait_until("nginx: the gateway's metrics exist", made, 15, procs=[p])
        self.check_gateway_log()
        return url

    def gateway_workers(self):
        return [c for c in children(self.gateway.pid) if "worker process" in cmdline(c)]

    def check_gateway_log(self, allowed=()):
        """Fails on an error in nginx's log, other than lines matching `allowed`."""
        bad = [
            line for line in self.gateway.log().splitlines()
            if re.search(r"\[(error|crit|alert|emerg)\]", line) and not any(re.search(a, line) for a in allowed)
        ]
        if bad:
            fail("nginx logged errors:\n" + "\n".join(bad[:20]) + f"\n--- nginx log:\n{self.gateway.excerpt()}")

    # The exporter and Prometheus.

    def start_serve(self, port=0):
        name = "metricore-serve" if self.serve_restarts == 0 else f"metricore-serve-{self.serve_restarts + 1}"
        p = self.processes(
            name, [METRICORE, "serve", "--registry", self.registry, "--listen", f"127.0.0.1:{port}"]
        )
        self.serve = p
        self.serve_url = p.wait_for_line(r"at (http://\S+/metrics)", 20).group(1)
        self.serve_port = int(re.search(r":(\d+)/metrics", self.serve_url).group(1))
        return self.serve_url

    def kill_and_restart_serve(self):
        """SIGKILLs `metricore serve` and starts it again on the same port."""
        old = self.serve
        old.stop(signal.SIGKILL)
        self.serve_restarts += 1
        deadline = time.monotonic() + 20
        while True:  # the port may take a moment to be free again
            try:
                return old.pid, self.start_serve(self.serve_port)
            except (Exception, Failed):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def start_prometheus(self, port=None):
        self.prometheus = Prometheus(self.processes, self.workdir, f"127.0.0.1:{self.serve_port}", port=port)
        return self.prometheus

    # The C and Rust programs.

    def start_recorders(self, threads, count, seconds):
        """Starts the C and the Rust recorder; each records `count` events per thread."""
        procs = []
        args = [self.registry, str(threads), str(count), str(seconds)]
        if self.recorder_c:
            procs.append(self.processes("recorder-c", [self.recorder_c, *args]))
        procs.append(self.processes("recorder-rust", [RUST_RECORDER, "record", *args]))
        return procs


def _port(preferred):
    """`preferred` if it is free on loopback, else a free port."""
    import socket

    with socket.socket() as sock:
        # As the servers do: a port with connections left in TIME_WAIT is free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", preferred))
            return preferred
        except OSError:
            return free_port()


def demo(argv=None):
    """`make demo`: the scenario in a short form (no faults), until Ctrl-C."""
    import argparse
    import tempfile

    from loadgen import LoadGenerator

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=20, help="requests per second (default 20)")
    args = parser.parse_args(argv)

    def interrupted(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    workdir = tempfile.mkdtemp(prefix="metricore-demo-")
    processes = Processes(workdir)
    load = None
    status = 0
    try:
        have_gcc = shutil.which("gcc") is not None
        python = python_binding_present()
        lua = nginx_lua_present() and lua_binding_present() and python
        print("building (cargo build --release) ...", flush=True)
        recorder = build(workdir, lua=lua) if have_gcc else None
        if not have_gcc:
            run_step(["cargo", "build", "--release", "-q", "-p", "metricore", "--features", "cli",
                  "--bin", "metricore", "--example", "e2e_recorder"], "building metricore")
        s = Scenario(workdir, processes, recorder_c=recorder)
        s.create_registry()
        lines, missing = [], []
        target = None
        if python:
            target = s.start_token_service()
            lines.append(f"token service  {target}  (uvicorn, {UVICORN_WORKERS} workers, tests/e2e/token_service.py)")
        else:
            missing.append("the token service: the metricore Python package (./bindings-python/build.sh)")
        if lua:
            target = s.start_gateway(port=_port(8080))
            lines.append(f"gateway        {target}/v1/chat/completions  (nginx, {NGINX_WORKERS} workers, "
                         "tests/e2e/gateway/gateway.lua)")
        else:
            missing.append("the gateway: nginx and libnginx-mod-http-lua (scripts/install-deps.sh), and the token service")
        url = s.start_serve(port=_port(9464))
        lines.append(f"/metrics       {url}  (metricore serve)")
        if shutil.which("prometheus"):
            prom = s.start_prometheus(port=_port(9090))
            lines.append(f"Prometheus     {prom.url}/graph?g0.expr=sum%20by%20(model)%20(rate(model_requests_total%5B1m%5D))")
        else:
            missing.append("Prometheus: the prometheus package (scripts/install-deps.sh)")
        s.start_recorders(threads=2, count=1_000_000, seconds=3600)
        lines.append("recorders      tests/e2e/recorder.c and core/examples/e2e_recorder.rs, 2 threads each"
                     if recorder else "recorders      core/examples/e2e_recorder.rs, 2 threads")
        if not recorder:
            missing.append("the C recorder: gcc")
        if target:
            host, port = "127.0.0.1", int(target.rsplit(":", 1)[1])
            load = LoadGenerator(host, port, rate=args.rate, seconds=10**9, max_requests=10**12, keep=False)
            load.start()
            lines.append(f"load           {args.rate:g} requests/s to {target}/v1/chat/completions")
        print("\nAll of these record into one registry file, " + s.registry + ":")
        for line in lines:
            print("  " + line)
        for what in missing:
            print("  not started: " + what)
        print(f"\nmetricore inspect {s.registry}   shows its families and processes.")
        print("Ctrl-C stops everything.", flush=True)
        servers = [p for p in (s.token_service, s.gateway, s.prometheus and s.prometheus.proc) if p]
        while True:
            time.sleep(1)
            for p in servers + [s.serve]:
                if not p.running():
                    raise RuntimeError(f"{p.name} exited; its log:\n{p.excerpt()}")
    except KeyboardInterrupt:
        pass
    except BaseException as e:  # a component that failed to start: its name and log
        print(f"\ndemo: {e}", file=sys.stderr)
        status = 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C does not cut the cleanup short
        if load is not None:
            load.stop()
            print(f"\n{load.answered} requests answered")
        processes.stop_all()
        shutil.rmtree(workdir, ignore_errors=True)
        print(f"stopped everything; removed {workdir}")
    return status


if __name__ == "__main__":
    sys.exit(demo())
