"""Processes for the end-to-end tests: paced writers recording into a shared registry
file, `metricore serve` exporting it, and a real Prometheus server scraping it.

Every process is started on loopback, logs to a file in the test's temporary
directory, and is stopped when its fixture ends, pass or fail. A process that exits
early, or a wait that runs out, fails the test with the process's name and log
(tests/common/harness.py, shared with tests/e2e).
"""

import os
import sys
import urllib.parse

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from harness import (  # noqa: E402  (the shared process helpers, re-exported to the tests)
    METRICORE,
    PACED,
    ROOT,
    SCRAPE_INTERVAL,
    Proc,
    Processes,
    Prometheus,
    build_cli,
    free_port,
    http_get,
    wait_until,
)



@pytest.fixture
def processes(tmp_path):
    """Starts processes for one test and stops them all at its end."""
    procs = Processes(tmp_path)
    yield procs
    procs.stop_all()


@pytest.fixture(scope="module")
def module_dir(tmp_path_factory):
    """A temporary directory shared by the tests of one module."""
    return tmp_path_factory.mktemp("module")


@pytest.fixture(scope="module")
def module_processes(module_dir):
    """Starts processes shared by the tests of one module and stops them at its end."""
    procs = Processes(module_dir)
    yield procs
    procs.stop_all()


@pytest.fixture(scope="session")
def built():
    """Builds the `metricore` command and the paced writer (release)."""
    return build_cli()


def start_writers(processes, path):
    """Two paced writer processes recording into the registry file at `path`."""
    for i in range(2):
        processes(f"paced-writer-{i}", [PACED, path], stdin=True).wait_for_line(r"ready", 30)
    return path


@pytest.fixture(scope="module")
def writers(built, module_processes, module_dir):
    """Two paced writers recording into one new registry file; its path."""
    return start_writers(module_processes, str(module_dir / "paced.metricore"))


def serve(processes, *paths, name="metricore-serve"):
    """Starts `metricore serve` on a free loopback port; its /metrics URL."""
    args = [METRICORE, "serve", "--listen", "127.0.0.1:0"]
    for p in paths:
        args += ["--registry", p]
    proc = processes(name, args)
    return proc.wait_for_line(r"at (http://\S+/metrics)", 20).group(1), proc


@pytest.fixture(scope="module")
def exporter(writers, module_processes):
    """`metricore serve` of the writers' file: (url, process)."""
    return serve(module_processes, writers)


@pytest.fixture(scope="module")
def prometheus(exporter, module_processes, module_dir):
    """A Prometheus server scraping the exporter every second."""
    url, _ = exporter
    return Prometheus(module_processes, module_dir, urllib.parse.urlparse(url).netloc)
