"""Native histograms from every language, read by a real Prometheus (2.42, with
`--enable-feature=native-histograms`, which scrapes the protobuf format).

One registry file; Rust (core/examples/native_recorder.rs), C (native/recorder.c),
Python (the binding's `native_schema=`) and Lua in nginx (`options.native`) each
observe their own known values into the one series of `llm_latency_seconds` (schema
3). `metricore serve` exports the file. The quantiles Prometheus computes from the
native buckets, `histogram_quantile(q, rate(...[1m]))`, must agree with the exact
quantiles of all the values within the schema's bucket ratio, 2^(1/8); and
`promtool check metrics` must accept the text formats' output of the same file.
"""

import os
import random
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import pytest

from conftest import ROOT, Prometheus, http_get, serve, wait_until

sys.path.insert(0, os.path.join(ROOT, "tests", "common"))
from harness import NGINX_HEAD, NGINX_MODULES, RELEASE, free_port, link_soname, nginx_user, run_step  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
NAME = "llm_latency_seconds"
SCHEMA = 3
PER_WRITER = 2000
VENV_PYTHON = os.path.join(ROOT, ".venv", "bin", "python")
LUA_SO = os.path.join(RELEASE, "libmetricore_lua.so")


def have_nginx_lua():
    return shutil.which("nginx") is not None and os.path.exists(
        os.path.join(NGINX_MODULES, "ngx_http_lua_module.so")
    )


def have_python_binding():
    return os.path.exists(VENV_PYTHON) and subprocess.run(
        [VENV_PYTHON, "-c", "import metricore"], capture_output=True
    ).returncode == 0


@pytest.fixture(scope="module")
def writers(module_dir):
    """Builds the writers; returns the C recorder's path."""
    run_step(
        ["cargo", "build", "--release", "-q", "-p", "metricore", "--features", "cli",
         "--bin", "metricore", "--example", "native_recorder"],
        "building metricore and the Rust native recorder",
    )
    run_step(["cargo", "build", "--release", "-q", "-p", "metricore-c", "-p", "metricore-lua"],
             "building libmetricore and the Lua module")
    link_soname()
    recorder = os.path.join(module_dir, "recorder")
    run_step(
        ["gcc", "-O2", "-Wall", "-Wextra", "-Werror", "-I", os.path.join(ROOT, "ffi-c", "include"),
         os.path.join(HERE, "native", "recorder.c"), "-L", RELEASE, "-lmetricore",
         f"-Wl,-rpath,{RELEASE}", "-o", recorder],
        "compiling tests/prometheus/native/recorder.c",
    )
    return recorder


def values_file(directory, lang, seed):
    """Writes PER_WRITER latencies (log-normal, 2 ms to a few seconds) for `lang`;
    returns the path and the values."""
    rng = random.Random(seed)
    values = [round(rng.lognormvariate(-2.5, 1.2), 6) for _ in range(PER_WRITER)]
    path = os.path.join(directory, f"{lang}.values")
    with open(path, "w") as f:
        f.write("".join(f"{v!r}\n" for v in values))
    return path, values


LUA_CONF = NGINX_HEAD + """\
    lua_package_path "{lua_dir}/?.lua;;";
    lua_package_cpath "{so_dir}/?.so;;";
    init_worker_by_lua_block {{
        local p = require("metricore.prometheus").init("{registry}")
        HISTOGRAM = p:histogram("{name}", "Latency.", nil, nil, {{ native = {{ schema = {schema} }} }})
    }}
    server {{
        listen 127.0.0.1:{port};
        location = /health {{
            return 200 "ok\\n";
        }}
        location = /observe {{
            content_by_lua_block {{
                local n = 0
                for line in io.lines("{values}") do
                    HISTOGRAM:observe(tonumber(line))
                    n = n + 1
                end
                ngx.say("done ", n)
            }}
        }}
    }}
}}
"""


def lua_observe(processes, workdir, registry, values):
    """Starts nginx (one worker) with the Lua binding and has it observe `values`."""
    so_dir = os.path.join(workdir, "lua")
    run_step([os.path.join(ROOT, "bindings-lua", "install.sh"), LUA_SO, so_dir], "installing the Lua module")
    nginx_dir = os.path.join(workdir, "nginx")
    os.makedirs(nginx_dir, exist_ok=True)
    port = free_port()
    conf = os.path.join(nginx_dir, "nginx.conf")
    with open(conf, "w") as f:
        f.write(LUA_CONF.format(
            user=nginx_user(), workers=1, connections=64, dir=nginx_dir, modules=NGINX_MODULES,
            lua_dir=os.path.join(ROOT, "bindings-lua", "lua"), so_dir=so_dir, registry=registry,
            name=NAME, schema=SCHEMA, port=port, values=values,
        ))
    proc = processes("nginx", ["nginx", "-p", nginx_dir, "-c", conf, "-e", "stderr"], group=True)
    health = f"http://127.0.0.1:{port}/health"

    def up():
        try:
            return http_get(health, timeout=2)[0] == 200
        except OSError:
            return False

    wait_until("nginx answers", up, 30, procs=[proc])
    status, _, body = http_get(f"http://127.0.0.1:{port}/observe", timeout=60)
    assert status == 200 and body.startswith(b"done"), body


def run(cmd, what, env=None):
    r = run_step(cmd, what) if env is None else subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0 and "done" in r.stdout, f"{what}: {r.stdout}{r.stderr}"


def exact_quantile(values, q):
    """The q-quantile of `values`: the smallest value with at least q of them at or
    below it."""
    s = sorted(values)
    return s[max(0, int(-(-q * len(s) // 1)) - 1)]


@pytest.mark.skipif(not have_nginx_lua(), reason="nginx with the Lua module is not installed")
@pytest.mark.skipif(not have_python_binding(), reason="the Python binding is not built (.venv)")
def test_prometheus_reads_native_histograms_from_every_language(built, writers, processes, tmp_path):
    registry = str(tmp_path / "native.metricore")
    rust = os.path.join(RELEASE, "examples", "native_recorder")
    empty = tmp_path / "empty.values"
    empty.write_text("")
    # The file and the series, with no observation yet: the first scrapes see 0.
    run([rust, registry, str(empty)], "making the registry file")
    url, _ = serve(processes, registry)
    prom = Prometheus(processes, tmp_path, urllib.parse.urlparse(url).netloc, features=["native-histograms", "exemplar-storage"])
    prom.wait_for("the empty native histogram", f"histogram_count({NAME}) == 0")

    every = []
    for seed, lang in enumerate(["rust", "c", "python", "lua"]):
        path, values = values_file(tmp_path, lang, seed)
        every += values
        if lang == "rust":
            run([rust, registry, path], "the Rust writer")
        elif lang == "c":
            run([writers, registry, path], "the C writer")
        elif lang == "python":
            script = (
                "import sys, metricore\n"
                "from metricore.registry import use_shared\n"
                "use_shared(sys.argv[1])\n"
                f"h = metricore.Histogram('{NAME}', 'Latency.', native_schema={SCHEMA})\n"
                "n = 0\n"
                "for line in open(sys.argv[2]):\n"
                "    h.observe(float(line)); n += 1\n"
                "print('done', n)\n"
            )
            run([VENV_PYTHON, "-c", script, registry, path], "the Python writer", env=dict(os.environ))
        else:
            lua_observe(processes, str(tmp_path), registry, path)

    total = len(every)
    prom.wait_for("every observation", f"histogram_count({NAME}) == {total}")
    # Past the scrape that saw them all: the rate's window holds the whole increase.
    time.sleep(2)
    ratio = 2 ** (2 ** -SCHEMA)
    for q in (0.5, 0.9, 0.99):
        got = prom.query(f"histogram_quantile({q}, rate({NAME}[1m]))")
        assert len(got) == 1, got
        est, want = got[0][1], exact_quantile(every, q)
        assert want / ratio <= est <= want * ratio, f"q={q}: Prometheus says {est}, exact {want}"

    # The protobuf body is what Prometheus read; the text formats pass promtool.
    for accept in ("text/plain", "application/openmetrics-text; version=1.0.0"):
        req = urllib.request.Request(url, headers={"Accept": accept})
        body = urllib.request.urlopen(req, timeout=10).read()
        assert f"{NAME}_count {total}".encode() in body, body[:2000]
        check = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True, timeout=30)
        if accept == "text/plain":
            assert check.returncode == 0, check.stdout + check.stderr
            continue
        # promtool reads the 0.0.4 format: OpenMetrics parses (status 1 would be a
        # parse error), but its linter looks for a counter's help under the sample
        # name, `_total` included, where OpenMetrics names the family without it.
        assert check.returncode in (0, 3), check.stdout + check.stderr
        for line in check.stderr.decode().splitlines():
            family = line.removesuffix("_total no help text")
            assert family != line and f"# HELP {family} ".encode() in body, line
