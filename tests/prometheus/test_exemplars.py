"""Exemplars from every language to a real Prometheus: Rust (core/examples/exemplar_writer.rs),
C (a program linked with libmetricore), Python (the metricore package) and Lua (in a
real nginx) each record a counter increment and a histogram observation with an
exemplar into one registry file; `metricore serve` exports it, and a Prometheus 2.42
with `--enable-feature=exemplar-storage` scraping it (OpenMetrics) must return every
trace id from `/api/v1/query_exemplars`. `promtool check metrics` accepts the
Prometheus text output, which has no exemplars.
"""

import json
import os
import subprocess
import time
import urllib.parse

import pytest

from conftest import ROOT, Prometheus, free_port, http_get, serve, wait_until

LANGS = ("rust", "c", "python", "lua")
RELEASE = os.path.join(ROOT, "target", "release")
PYTHON = os.path.join(ROOT, ".venv", "bin", "python")

C_WRITER = r"""
#include <stdio.h>
#include <string.h>
#include "metricore.h"

static metricore_str str(const char *s) { metricore_str r = {s, strlen(s)}; return r; }

int main(int argc, char **argv) {
    if (argc != 3) return 2;
    char counter_id[128], histogram_id[128];
    snprintf(counter_id, sizeof counter_id, "%s-counter", argv[2]);
    snprintf(histogram_id, sizeof histogram_id, "%s-histogram", argv[2]);
    metricore_registry *r = NULL;
    metricore_str lang_name[] = {str("lang")}, lang[] = {str("c")};
    metricore_str names[] = {str("trace_id")}, counter_value[] = {str(counter_id)},
                  histogram_value[] = {str(histogram_id)};
    const double bounds[] = {0.1, 1};
    metricore_counter_family *cf = NULL;
    metricore_histogram_family *hf = NULL;
    metricore_counter c = NULL;
    metricore_histogram h = NULL;
    if (metricore_registry_open_shared(str(argv[1]), NULL, &r) != 0
        || metricore_counter_family_new(r, str("exemplar_requests"), str("Requests."), lang_name, 1,
                                        NULL, &cf) != 0
        || metricore_histogram_family_new(r, str("exemplar_latency_seconds"), str("Latency."),
                                          lang_name, 1, bounds, 2, NULL, &hf) != 0
        || metricore_counter_family_labels(cf, lang, 1, &c) != 0
        || metricore_histogram_family_labels(hf, lang, 1, &h) != 0
        || metricore_counter_inc_exemplar(c, 1, names, counter_value, 1) != 0
        || metricore_histogram_observe_exemplar(h, 0.5, names, histogram_value, 1) != 0) {
        fprintf(stderr, "%s\n", metricore_last_error());
        return 1;
    }
    return metricore_registry_free(r) == 0 ? 0 : 1;
}
"""

PY_WRITER = """
import sys
import metricore
r = metricore.CollectorRegistry()
metricore.use_shared(sys.argv[1], registry=r)
c = metricore.Counter("exemplar_requests", "Requests.", ["lang"], registry=r)
h = metricore.Histogram("exemplar_latency_seconds", "Latency.", ["lang"], buckets=[0.1, 1], registry=r)
c.labels("python").inc(exemplar={"trace_id": sys.argv[2] + "-counter"})
h.labels("python").observe(0.5, exemplar={"trace_id": sys.argv[2] + "-histogram"})
"""

NGINX_CONF = """{user}load_module /usr/lib/nginx/modules/ndk_http_module.so;
load_module /usr/lib/nginx/modules/ngx_http_lua_module.so;
worker_processes 2;
daemon off;
pid logs/nginx.pid;
error_log logs/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path temp/body;
    proxy_temp_path temp/proxy;
    fastcgi_temp_path temp/fastcgi;
    uwsgi_temp_path temp/uwsgi;
    scgi_temp_path temp/scgi;
    lua_package_cpath "{lib}/?.so;;";
    lua_package_path "{lua}/?.lua;;";
    init_worker_by_lua_block {{
        prometheus = require("metricore.prometheus").init("{path}")
        requests = prometheus:counter("exemplar_requests", "Requests.", {{"lang"}})
        latency = prometheus:histogram("exemplar_latency_seconds", "Latency.", {{"lang"}}, {{0.1, 1}})
    }}
    server {{
        listen 127.0.0.1:{port};
        location /write {{
            content_by_lua_block {{
                local id = ngx.var.arg_id
                requests:inc(1, {{"lua"}}, {{trace_id = id .. "-counter"}})
                latency:observe(0.5, {{"lua"}}, {{trace_id = id .. "-histogram"}})
                ngx.say("ok")
            }}
        }}
    }}
}}
"""


def build(*args):
    subprocess.run(["cargo", "build", "--release", "-q", *args], cwd=ROOT, check=True, timeout=900)


@pytest.fixture(scope="module")
def writers_built(built):
    """The Rust example, the C library and the Lua module (release), and the Python
    package in the project's virtualenv."""
    build("-p", "metricore", "--example", "exemplar_writer")
    build("-p", "metricore-c")
    build("-p", "metricore-lua")
    if subprocess.run([PYTHON, "-c", "import metricore"], capture_output=True).returncode != 0:
        subprocess.run([os.path.join(ROOT, "bindings-python", "build.sh")], check=True, timeout=900)


def write_c(tmp_path, path, trace):
    exe = tmp_path / "c_writer"
    src = tmp_path / "c_writer.c"
    src.write_text(C_WRITER)
    subprocess.run(
        ["gcc", "-std=c11", "-I", os.path.join(ROOT, "ffi-c", "include"), str(src),
         os.path.join(RELEASE, "libmetricore.a"), "-lpthread", "-lm", "-ldl", "-o", str(exe)],
        check=True,
    )
    subprocess.run([str(exe), path, trace], check=True, timeout=30)


def write_lua(processes, tmp_path, path, trace):
    lib = tmp_path / "lua-lib"
    subprocess.run(
        [os.path.join(ROOT, "bindings-lua", "install.sh"),
         os.path.join(RELEASE, "libmetricore_lua.so"), str(lib)],
        check=True,
    )
    prefix = tmp_path / "nginx"
    for sub in ("conf", "logs", "temp"):
        (prefix / sub).mkdir(parents=True, exist_ok=True)
    port = free_port()
    conf = prefix / "conf" / "nginx.conf"
    conf.write_text(NGINX_CONF.format(
        user="user root root;\n" if os.geteuid() == 0 else "",
        lib=lib, lua=os.path.join(ROOT, "bindings-lua", "lua"), path=path, port=port,
    ))
    processes("nginx", ["nginx", "-p", str(prefix), "-e", "logs/error.log", "-c", str(conf)])
    url = f"http://127.0.0.1:{port}/write?id={trace}"
    status = wait_until("nginx answering /write", lambda: _get_status(url), 20)
    assert status == 200, (prefix / "logs" / "error.log").read_text()


def _get_status(url):
    try:
        return http_get(url, timeout=2)[0]
    except OSError:
        return None


def query_exemplars(prom, promql):
    now = time.time()
    params = {"query": promql, "start": f"{now - 3600:.3f}", "end": f"{now + 60:.3f}"}
    status, _, body = http_get(f"{prom.url}/api/v1/query_exemplars?" + urllib.parse.urlencode(params))
    data = json.loads(body)
    assert status == 200 and data["status"] == "success", data
    return {e["labels"]["trace_id"] for s in data["data"] for e in s["exemplars"]}


def test_prometheus_stores_the_exemplars_every_language_wrote(writers_built, processes, tmp_path):
    path = str(tmp_path / "exemplars.metricore")
    trace = {lang: f"{lang}-{os.getpid()}" for lang in LANGS}
    subprocess.run([os.path.join(RELEASE, "examples", "exemplar_writer"), path, trace["rust"]],
                   check=True, timeout=30)
    write_c(tmp_path, path, trace["c"])
    subprocess.run([PYTHON, "-c", PY_WRITER, path, trace["python"]], check=True, timeout=60)
    write_lua(processes, tmp_path, path, trace["lua"])

    url, _ = serve(processes, path)
    target = urllib.parse.urlparse(url).netloc
    prom = Prometheus(processes, tmp_path, target, features=("exemplar-storage", "native-histograms"))
    want = {f"{trace[lang]}-{kind}" for lang in LANGS for kind in ("counter", "histogram")}
    got = set()
    deadline = time.monotonic() + 40
    while got != want and time.monotonic() < deadline:
        time.sleep(0.5)
        got = query_exemplars(prom, "exemplar_requests_total")
        got |= query_exemplars(prom, "exemplar_latency_seconds_bucket")
    assert got == want, f"missing {sorted(want - got)}, extra {sorted(got - want)}"

    # The exposition the scrape read carries them; the text formats check out.
    _, _, om = http_get(url, headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    om = om.decode()
    for lang in LANGS:
        assert f'exemplar_requests_total{{lang="{lang}"}} 1 # {{trace_id="{trace[lang]}-counter"}} 1.0 ' in om, om
    _, _, text = http_get(url)
    assert "trace_id" not in text.decode()
    check = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True)
    assert check.returncode == 0, check.stdout + check.stderr
