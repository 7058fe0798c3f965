"""start_http_server over TLS (with and without required client certificates) and the
Pushgateway handlers (basic auth, client certificate) against a real
`prometheus-pushgateway`. The certificates are made at test time (tests/common/pki.py)."""

import functools
import os
import shutil
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

import metricore
from metricore.exposition import basic_auth_handler, default_handler, push_to_gateway, tls_auth_handler

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "common"))
from pki import Pki, bcrypt_hash  # noqa: E402



@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed")
    return Pki(tmp_path_factory.mktemp("pki"))


def get(url, pki, cert=None):
    ctx = ssl.create_default_context(cafile=pki.ca)
    if cert:
        ctx.load_cert_chain(*cert)
    with urllib.request.urlopen(url, context=ctx, timeout=10) as r:
        return r.read().decode()


def test_start_http_server_over_tls(registry, pki):
    metricore.Counter("tls_jobs", "Jobs.", registry=registry).inc(3)
    server, _ = metricore.start_http_server(
        0, addr="127.0.0.1", registry=registry, certfile=pki.server_cert, keyfile=pki.server_key
    )
    try:
        assert "tls_jobs_total 3.0\n" in get(f"https://localhost:{server.server_port}/metrics", pki)
    finally:
        server.shutdown()


def test_start_http_server_requires_client_certificates(registry, pki, tmp_path):
    capath = tmp_path / "cas"
    capath.mkdir()
    shutil.copy(pki.ca, capath / "ca.pem")
    server, _ = metricore.start_http_server(
        0, addr="127.0.0.1", registry=registry, certfile=pki.server_cert, keyfile=pki.server_key,
        client_capath=str(capath), client_auth_required=True,
    )
    url = f"https://localhost:{server.server_port}/metrics"
    try:
        metricore.Counter("mtls", "M.", registry=registry).inc()
        assert "mtls_total 1.0\n" in get(url, pki, cert=(pki.client_cert, pki.client_key))
        with pytest.raises((ssl.SSLError, urllib.error.URLError, ConnectionError)):
            get(url, pki)
    finally:
        server.shutdown()


def test_start_http_server_offers_the_tls_versions_asked(registry, pki):
    server, _ = metricore.start_http_server(
        0, addr="127.0.0.1", registry=registry, certfile=pki.server_cert, keyfile=pki.server_key,
        tls_min_version=ssl.TLSVersion.TLSv1_3,
    )

    def get_with(version):
        ctx = ssl.create_default_context(cafile=pki.ca)
        ctx.minimum_version = ctx.maximum_version = version
        url = f"https://localhost:{server.server_port}/metrics"
        with urllib.request.urlopen(url, context=ctx, timeout=10) as r:
            return r.status

    try:
        assert get_with(ssl.TLSVersion.TLSv1_3) == 200
        with pytest.raises(urllib.error.URLError):
            get_with(ssl.TLSVersion.TLSv1_2)
    finally:
        server.shutdown()
    with pytest.raises(ValueError, match="TLS10 is not offered"):
        metricore.start_http_server(0, addr="127.0.0.1", registry=registry, certfile=pki.server_cert,
                                    keyfile=pki.server_key, tls_min_version=ssl.TLSVersion.TLSv1)
    with pytest.raises(ValueError, match="below min_version"):
        metricore.start_http_server(0, addr="127.0.0.1", registry=registry, certfile=pki.server_cert,
                                    keyfile=pki.server_key, tls_min_version=ssl.TLSVersion.TLSv1_3,
                                    tls_max_version=ssl.TLSVersion.TLSv1_2)
    with pytest.raises(ValueError, match="TLS versions need TLS"):
        metricore.start_http_server(0, addr="127.0.0.1", registry=registry, tls_max_version=ssl.TLSVersion.TLSv1_2)


def test_start_http_server_refuses_half_configurations(registry, pki):
    with pytest.raises(ValueError, match="keyfile"):
        metricore.start_http_server(0, addr="127.0.0.1", registry=registry, certfile=pki.server_cert)
    with pytest.raises(ValueError, match="client_auth_required"):
        metricore.start_http_server(0, addr="127.0.0.1", registry=registry, certfile=pki.server_cert,
                                    keyfile=pki.server_key, client_auth_required=True)
    with pytest.raises(ValueError, match="cert_file.*/nonexistent"):
        metricore.start_http_server(0, addr="127.0.0.1", registry=registry, certfile="/nonexistent",
                                    keyfile=pki.server_key)
    with pytest.raises(ValueError, match="protocol"):
        metricore.start_http_server(0, addr="127.0.0.1", registry=registry, protocol=ssl.PROTOCOL_TLS_CLIENT)


def start_gateway(tmp_path, config_text):
    if shutil.which("prometheus-pushgateway") is None:
        pytest.skip("prometheus-pushgateway not installed")
    config = tmp_path / "web.yml"
    config.write_text(config_text)
    with __import__("socket").socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = open(tmp_path / "pushgateway.log", "wb")
    proc = subprocess.Popen(
        ["prometheus-pushgateway", f"--web.listen-address=127.0.0.1:{port}", f"--web.config.file={config}"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 20
    while True:
        try:
            with __import__("socket").create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail((tmp_path / "pushgateway.log").read_text())
            time.sleep(0.05)
    return proc, port


def test_push_with_basic_auth_to_a_scheme_less_gateway(registry, tmp_path):
    if shutil.which("htpasswd") is None:
        pytest.skip("htpasswd not installed")
    proc, port = start_gateway(tmp_path, f"basic_auth_users:\n  pusher: '{bcrypt_hash('pw', cost=4)}'\n")
    try:
        metricore.Gauge("py_pushed", "Pushed.", registry=registry).set(42)
        handler = functools.partial(basic_auth_handler, username="pusher", password="pw")
        push_to_gateway(f"127.0.0.1:{port}", job="batch", registry=registry, handler=handler)
        req = urllib.request.Request(f"http://127.0.0.1:{port}/metrics")
        req.add_header("Authorization", "Basic cHVzaGVyOnB3")
        with urllib.request.urlopen(req, timeout=10) as r:
            assert 'py_pushed{instance="",job="batch"} 42' in r.read().decode()
        with pytest.raises(urllib.error.HTTPError) as e:
            push_to_gateway(f"127.0.0.1:{port}", job="batch", registry=registry, handler=default_handler)
        assert e.value.code == 401
    finally:
        proc.kill()
        proc.wait()


def test_push_with_a_client_certificate(registry, tmp_path, pki):
    proc, port = start_gateway(
        tmp_path,
        f"tls_server_config:\n  cert_file: {pki.server_cert}\n  key_file: {pki.server_key}\n"
        f"  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {pki.ca}\n",
    )
    try:
        metricore.Counter("py_tls_pushed", "Pushed.", registry=registry).inc()
        handler = functools.partial(tls_auth_handler, certfile=pki.client_cert, keyfile=pki.client_key,
                                    cafile=pki.ca)
        push_to_gateway(f"https://localhost:{port}", job="tls", registry=registry, handler=handler)
        text = get(f"https://localhost:{port}/metrics", pki, cert=(pki.client_cert, pki.client_key))
        assert 'py_tls_pushed_total{instance="",job="tls"} 1' in text
    finally:
        proc.kill()
        proc.wait()
