"""The exporter in production: TLS, basic auth and client certificates from a web
configuration file, a Pushgateway behind TLS, slow clients, and the scale-out path
(a Prometheus agent remote-writing to VictoriaMetrics and to a Prometheus receiver).

Processes come from tests/common/harness.py: each logs to the test's temporary
directory and is stopped when its fixture ends, pass or fail.
"""

import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "common"))
from harness import METRICORE, PACED, ROOT, Processes, build_cli  # noqa: E402
from pki import Pki, bcrypt_hash  # noqa: E402

USER = "prometheus"
PASSWORD = "correct horse battery staple"


@pytest.fixture
def processes(tmp_path):
    procs = Processes(tmp_path)
    yield procs
    procs.stop_all()


@pytest.fixture(scope="session")
def built():
    """Builds the `metricore` command and the paced writer (release)."""
    return build_cli()


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    return Pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="session")
def password_hash():
    return bcrypt_hash(PASSWORD)


@pytest.fixture
def registry_file(built, processes, tmp_path):
    """A registry file that a paced writer is recording into."""
    path = str(tmp_path / "exporter.metricore")
    processes("paced-writer", [PACED, path], stdin=True).wait_for_line(r"ready", 30)
    return path


def serve(processes, registry, *extra, name="metricore-serve"):
    """Starts `metricore serve` on a free loopback port; (URL of /metrics, process)."""
    args = [METRICORE, "serve", "--listen", "127.0.0.1:0", "--registry", registry, *extra]
    proc = processes(name, args)
    return proc.wait_for_line(r"at (https?://\S+/metrics)", 20).group(1), proc
