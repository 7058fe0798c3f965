"""The scale-out path of deploy/agent/: recorders write, a Prometheus agent scrapes
`metricore serve` (TLS, client certificate, basic auth, as deploy/agent/web-config.yml
has it) and remote-writes to VictoriaMetrics and to a Prometheus with the
remote-write receiver; PromQL on both returns the recorded totals exactly."""

import json
import os
import re
import shutil
import subprocess
import urllib.parse

import pytest

from conftest import METRICORE, PACED, ROOT, serve
from harness import free_port, http_get, wait_until

DEPLOY = os.path.join(ROOT, "deploy", "agent")
# The password whose hash deploy/agent/web-config.yml holds.
DEPLOY_PASSWORD = "change me"


def from_deploy(name, tmp_path, replacements):
    with open(os.path.join(DEPLOY, name)) as f:
        text = f.read()
    for old, new in replacements.items():
        assert old in text, (name, old)
        text = text.replace(old, new)
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def query(base, promql):
    status, _, body = http_get(f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": promql}))
    data = json.loads(body)
    assert status == 200 and data["status"] == "success", (promql, status, data)
    return {tuple(sorted(r["metric"].items())): float(r["value"][1]) for r in data["data"]["result"]}


def recorded_totals(registry):
    """The counters of the registry file, by series, from `metricore dump`."""
    text = subprocess.run([METRICORE, "dump", registry], capture_output=True, text=True, check=True).stdout
    totals = {}
    for m in re.finditer(r'^paced_requests_total\{model="([^"]+)",namespace="([^"]+)"\} (\S+)$', text, re.M):
        totals[(m[1], m[2])] = float(m[3])
    count = float(re.search(r"^paced_latency_seconds_count (\S+)$", text, re.M)[1])
    return totals, count


def test_agent_remote_writes_exact_totals(built, processes, tmp_path, pki):
    if shutil.which("victoria-metrics") is None:
        pytest.skip("victoria-metrics not installed (scripts/install-deps.sh installs it)")
    registry = str(tmp_path / "recorded.metricore")
    writers = [processes(f"paced-writer-{i}", [PACED, registry], stdin=True) for i in range(2)]
    for w in writers:
        w.wait_for_line(r"ready", 30)

    password_file = tmp_path / "scrape-password"
    password_file.write_text(DEPLOY_PASSWORD + "\n")
    web = from_deploy("web-config.yml", tmp_path, {
        "/etc/metricore/server.crt": pki.server_cert,
        "/etc/metricore/server.key": pki.server_key,
        "/etc/metricore/ca.crt": pki.ca,
    })
    url, _ = serve(processes, registry, "--web.config.file", web)
    exporter = urllib.parse.urlparse(url).netloc

    vm_port, lts_port = free_port(), free_port()
    vm = processes("victoria-metrics", [
        "victoria-metrics", f"-httpListenAddr=127.0.0.1:{vm_port}",
        f"-storageDataPath={tmp_path / 'vm-data'}", "-search.latencyOffset=0s",
    ])
    lts_config = tmp_path / "lts.yml"
    lts_config.write_text("global:\n  scrape_interval: 15s\n")
    lts = processes("prometheus-lts", [
        "prometheus", f"--config.file={lts_config}", f"--storage.tsdb.path={tmp_path / 'lts-data'}",
        f"--web.listen-address=127.0.0.1:{lts_port}", "--web.enable-remote-write-receiver",
    ])
    vm_url, lts_url = f"http://127.0.0.1:{vm_port}", f"http://127.0.0.1:{lts_port}"
    wait_until("victoria-metrics ready", lambda: http_get(f"{vm_url}/health", timeout=2)[0] == 200, 30, procs=[vm])
    wait_until("receiver ready", lambda: http_get(f"{lts_url}/-/ready", timeout=2)[0] == 200, 30, procs=[lts])

    agent_config = from_deploy("prometheus-agent.yml", tmp_path, {
        "scrape_interval: 15s": "scrape_interval: 1s",
        "scrape_timeout: 10s": "scrape_timeout: 1s",
        "/etc/metricore/ca.crt": pki.ca,
        "/etc/metricore/agent.crt": pki.client_cert,
        "/etc/metricore/agent.key": pki.client_key,
        "/etc/metricore/scrape-password": str(password_file),
        "127.0.0.1:9464": exporter,
        "victoria-metrics.internal:8428": f"127.0.0.1:{vm_port}",
        "prometheus-lts.internal:9090": f"127.0.0.1:{lts_port}",
    })
    # The server name the exporter's certificate holds.
    with open(agent_config) as f:
        text = f.read().replace("    tls_config:\n", "    tls_config:\n      server_name: localhost\n")
    with open(agent_config, "w") as f:
        f.write(text)
    check = subprocess.run(["promtool", "check", "config", "--agent", agent_config],
                           capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stdout + check.stderr
    agent_port = free_port()
    agent = processes("prometheus-agent", [
        "prometheus", "--enable-feature=agent", f"--config.file={agent_config}",
        f"--storage.agent.path={tmp_path / 'agent-wal'}", f"--web.listen-address=127.0.0.1:{agent_port}",
    ])

    # Record for a while, then stop the recorders: the totals are final.
    wait_until("first samples in VictoriaMetrics", lambda: query(vm_url, "paced_constant"), 40, procs=[agent, vm])
    for w in writers:
        w.stop()
    totals, count = recorded_totals(registry)
    assert sum(totals.values()) > 0 and count > 0

    def exact(base):
        got = query(base, 'sum by (model, namespace) (paced_requests_total{job="metricore"})')
        by_series = {(dict(k)["model"], dict(k)["namespace"]): v for k, v in got.items()}
        hist = query(base, 'sum(paced_latency_seconds_count{job="metricore"})')
        return by_series == totals and list(hist.values()) == [count]

    for name, base, proc in (("VictoriaMetrics", vm_url, vm), ("Prometheus receiver", lts_url, lts)):
        wait_until(f"{name} has the recorded totals {totals}, count {count}", lambda: exact(base), 60,
                   interval=0.5, procs=[agent, proc])
        labels = query(base, 'paced_constant{job="metricore"}')
        (key, value), = labels.items()
        assert value == 7.0 and dict(key)["cluster"] == "gateway-eu-1" and dict(key)["service"] == "llm-gateway"
