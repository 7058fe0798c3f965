"""The Pushgateway client over https with basic auth, against a real
`prometheus-pushgateway` behind TLS (its own --web.config.file)."""

import subprocess

import pytest

from conftest import METRICORE, PASSWORD, USER
from harness import free_port, wait_until
from test_web_config import https_get, write


@pytest.fixture
def gateway(processes, tmp_path, pki, password_hash):
    """A Pushgateway on https with basic auth: its https URL."""
    port = free_port()
    config = write(
        tmp_path / "pushgateway-web.yml",
        f"tls_server_config:\n  cert_file: {pki.server_cert}\n  key_file: {pki.server_key}\n"
        f"basic_auth_users:\n  {USER}: '{password_hash}'\n",
    )
    proc = processes("pushgateway", [
        "prometheus-pushgateway", f"--web.listen-address=127.0.0.1:{port}",
        f"--web.config.file={config}",
    ])
    url = f"https://localhost:{port}"
    wait_until("pushgateway ready", lambda: https_get(f"{url}/-/ready", pki)[0] == 200, 30, procs=[proc])
    return url


def push(*args):
    return subprocess.run([METRICORE, "push", *args], capture_output=True, text=True, timeout=30)


def test_push_over_https_with_basic_auth(gateway, registry_file, tmp_path, pki):
    password_file = write(tmp_path / "password", PASSWORD + "\n")
    auth = ["--basic-auth-user", USER, "--basic-auth-password-file", password_file]
    common = ["--gateway", gateway, "--job", "nightly", "--grouping", "shard=eu/1", "--ca-file", pki.ca]
    r = push("--registry", registry_file, *common, *auth)
    assert r.returncode == 0, r
    status, _, body = https_get(f"{gateway}/metrics", pki)
    assert status == 200
    text = body.decode()
    assert 'paced_constant{instance="",job="nightly",shard="eu/1"} 7' in text, text[-2000:]

    wrong = write(tmp_path / "wrong", "guess")
    r = push("--registry", registry_file, *common, "--basic-auth-user", USER, "--basic-auth-password-file", wrong)
    assert r.returncode == 1 and "401" in r.stderr, r
    # Without the CA the gateway's certificate is not trusted.
    r = push("--registry", registry_file, "--gateway", gateway, "--job", "nightly", *auth)
    assert r.returncode == 1 and "TLS handshake" in r.stderr and "certificate" in r.stderr, r
    # Scheme-less is plain HTTP, which a TLS gateway does not speak.
    r = push("--registry", registry_file, "--gateway", gateway.replace("https://", ""), "--job", "j", *auth)
    assert r.returncode == 1, r

    r = push("--method", "delete", *common, *auth)
    assert r.returncode == 0, r
    assert "paced_constant" not in https_get(f"{gateway}/metrics", pki)[2].decode()
