"""TLS, basic auth and client certificates from a web configuration file, checked by a
real Prometheus scraping `metricore serve`, and bad configurations refused at start."""

import base64
import json
import os
import ssl
import subprocess
import urllib.error
import urllib.parse
import urllib.request

import pytest

from conftest import METRICORE, PASSWORD, USER, serve
from harness import free_port, http_get, wait_until


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return str(path)


def web_config(tmp_path, pki, password_hash, client_auth="NoClientCert"):
    ca = f"  client_ca_file: {pki.ca}\n" if client_auth != "NoClientCert" else ""
    return write(
        tmp_path / "web.yml",
        "tls_server_config:\n"
        f"  cert_file: {pki.server_cert}\n"
        f"  key_file: {pki.server_key}\n"
        f"  client_auth_type: {client_auth}\n"
        f"{ca}"
        "  min_version: TLS12\n"
        f"basic_auth_users:\n  {USER}: '{password_hash}'\n"
        "http_server_config:\n  headers:\n    X-Content-Type-Options: nosniff\n",
    )


def https_get(url, pki, user=USER, password=PASSWORD, cert=None):
    """(status, headers, body) of a GET over TLS that verifies the server with the CA."""
    ctx = ssl.create_default_context(cafile=pki.ca)
    if cert:
        ctx.load_cert_chain(*cert)
    req = urllib.request.Request(url)
    if user is not None:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


class TlsPrometheus:
    """A Prometheus scraping one target over https with several scrape configs (jobs),
    each with its own credentials."""

    def __init__(self, processes, tmp_path, target, jobs):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        lines = ["global:", "  scrape_interval: 1s", "  scrape_timeout: 1s", "scrape_configs:"]
        for job, extra in jobs.items():
            lines += [f"  - job_name: {job}", "    scheme: https", "    static_configs:",
                      f"      - targets: ['{target}']"]
            lines += ["    " + line for line in extra.splitlines()]
        config = write(tmp_path / "prometheus.yml", "\n".join(lines) + "\n")
        self.proc = processes("prometheus", [
            "prometheus", f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'prometheus-data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
        ])
        wait_until("prometheus ready", lambda: http_get(f"{self.url}/-/ready", timeout=2)[0] == 200,
                   timeout=30, procs=[self.proc])

    def targets(self):
        """{job: (health, lastError)} of the active targets that have been scraped."""
        body = http_get(f"{self.url}/api/v1/targets")[2]
        active = json.loads(body)["data"]["activeTargets"]
        return {t["labels"]["job"]: (t["health"], t["lastError"]) for t in active if t["health"] != "unknown"}

    def query(self, promql):
        body = http_get(f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": promql}))[2]
        return [(r["metric"], float(r["value"][1])) for r in json.loads(body)["data"]["result"]]


def tls_block(pki, cert=True):
    block = f"tls_config:\n  ca_file: {pki.ca}\n  server_name: localhost\n"
    if cert:
        block += f"  cert_file: {pki.client_cert}\n  key_file: {pki.client_key}\n"
    return block


def auth_block(password=PASSWORD):
    return f"basic_auth:\n  username: {USER}\n  password: '{password}'\n"


def wait_for_targets(prom, jobs, timeout=30):
    return wait_until(
        "every job scraped",
        lambda: (lambda t: t if set(t) == set(jobs) else None)(prom.targets()),
        timeout, procs=[prom.proc],
    )


def test_prometheus_scrapes_over_tls_with_basic_auth(registry_file, processes, tmp_path, pki, password_hash):
    url, _ = serve(processes, registry_file, "--web.config.file", web_config(tmp_path, pki, password_hash))
    assert url.startswith("https://")
    target = urllib.parse.urlparse(url).netloc
    jobs = {
        "good": tls_block(pki, cert=False) + auth_block(),
        "wrong-password": tls_block(pki, cert=False) + auth_block("guess"),
        "no-auth": tls_block(pki, cert=False),
    }
    prom = TlsPrometheus(processes, tmp_path, target, jobs)
    targets = wait_for_targets(prom, jobs)
    assert targets["good"] == ("up", ""), targets
    for job in ("wrong-password", "no-auth"):
        health, error = targets[job]
        assert health == "down" and "401" in error, targets
    got = wait_until("paced_constant over TLS", lambda: prom.query('paced_constant{job="good"}'), 20)
    assert got[0][1] == 7.0

    status, headers, body = https_get(url, pki)
    assert status == 200 and b"paced_requests_total" in body
    assert headers["X-Content-Type-Options"] == "nosniff"
    status, headers, body = https_get(url, pki, password="guess")
    assert status == 401 and headers["WWW-Authenticate"] == "Basic", (status, headers)
    assert b"paced" not in body
    assert https_get(url, pki, user="nobody")[0] == 401
    assert https_get(url, pki, user=None)[0] == 401
    # Plain HTTP to the TLS port gets no metrics.
    with pytest.raises(Exception):
        urllib.request.urlopen(url.replace("https://", "http://"), timeout=5).read()


def test_mutual_tls(registry_file, processes, tmp_path, pki, password_hash):
    config = web_config(tmp_path, pki, password_hash, client_auth="RequireAndVerifyClientCert")
    url, _ = serve(processes, registry_file, "--web.config.file", config)
    target = urllib.parse.urlparse(url).netloc
    jobs = {
        "client-cert": tls_block(pki) + auth_block(),
        "no-client-cert": tls_block(pki, cert=False) + auth_block(),
    }
    prom = TlsPrometheus(processes, tmp_path, target, jobs)
    targets = wait_for_targets(prom, jobs)
    assert targets["client-cert"] == ("up", ""), targets
    health, error = targets["no-client-cert"]
    assert health == "down" and "certificate" in error, targets

    cert = (pki.client_cert, pki.client_key)
    assert https_get(url, pki, cert=cert)[0] == 200
    for bad in (None, (pki.stranger_cert, pki.stranger_key)):
        with pytest.raises((ssl.SSLError, urllib.error.URLError, ConnectionError)):
            https_get(url, pki, cert=bad)


def test_client_certificate_optional_modes(registry_file, processes, tmp_path, pki, password_hash):
    config = web_config(tmp_path, pki, password_hash, client_auth="VerifyClientCertIfGiven")
    url, _ = serve(processes, registry_file, "--web.config.file", config)
    assert https_get(url, pki)[0] == 200
    assert https_get(url, pki, cert=(pki.client_cert, pki.client_key))[0] == 200
    with pytest.raises((ssl.SSLError, urllib.error.URLError, ConnectionError)):
        https_get(url, pki, cert=(pki.stranger_cert, pki.stranger_key))


BAD_CONFIGS = [
    ("tls_server_config:\n  cert_file: {cert}\n  key_file: {key}\n  cert_fle: x\n", "tls_server_config", "cert_fle"),
    ("basic_auth_user:\n  a: b\n", "", "basic_auth_user"),
    ("tls_server_config:\n  cert_file: {cert}\n  key_file: {key}\n  min_version: TLS14\n",
     "tls_server_config.min_version", "TLS14"),
    ("tls_server_config:\n  cert_file: {cert}\n  key_file: {key}\n  min_version: TLS10\n",
     "tls_server_config.min_version", "TLS12 or TLS13"),
    ("tls_server_config:\n  cert_file: {cert}\n  key_file: {key}\n  client_auth_type: Sometimes\n",
     "tls_server_config.client_auth_type", "Sometimes"),
    ("tls_server_config:\n  cert_file: {cert}\n  key_file: {key}\n  client_auth_type: RequireAndVerifyClientCert\n",
     "tls_server_config.client_ca_file", "missing"),
    ("tls_server_config:\n  cert_file: /nonexistent/server.crt\n  key_file: {key}\n",
     "tls_server_config.cert_file", "/nonexistent/server.crt"),
    ("tls_server_config:\n  cert_file: {cert}\n  key_file: {ca}\n", "tls_server_config.key_file", "private key"),
    ("tls_server_config:\n  cert_file: {cert}\n  key_file: {stranger_key}\n",
     "tls_server_config.key_file", "cannot be used with"),
    ("basic_auth_users:\n  prometheus: plaintext\n", "basic_auth_users.prometheus", "not a bcrypt hash"),
    ("http_server_config:\n  headers:\n    Server: metricore\n", "http_server_config.headers.Server", "cannot be set"),
    ("tls_server_config: [\n", "", ""),
]


def test_bad_config_files_are_refused_at_start(registry_file, tmp_path, pki):
    for i, (text, key, says) in enumerate(BAD_CONFIGS):
        path = write(tmp_path / f"bad{i}.yml", text.format(
            cert=pki.server_cert, key=pki.server_key, ca=pki.ca, stranger_key=pki.stranger_key))
        r = subprocess.run(
            [METRICORE, "serve", "--registry", registry_file, "--listen", "127.0.0.1:0",
             "--web.config.file", path],
            capture_output=True, text=True, timeout=20,
        )
        assert r.returncode == 2, (text, r)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1, r.stderr
        assert path in lines[0] and key in lines[0] and says in lines[0], (text, lines[0])
    missing = str(tmp_path / "missing.yml")
    r = subprocess.run([METRICORE, "serve", "--registry", registry_file, "--listen", "127.0.0.1:0",
                        "--web.config.file", missing], capture_output=True, text=True, timeout=20)
    assert r.returncode == 2 and missing in r.stderr and "No such file" in r.stderr, r
    assert os.path.exists(registry_file)
