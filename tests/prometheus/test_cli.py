"""The `metricore` command: bad input, dump, inspect, --help and the demo."""

import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile

import pytest

from conftest import METRICORE, PACED, http_get, serve, wait_until


def run(*args, timeout=30):
    return subprocess.run([METRICORE, *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def registry_file(built, processes, tmp_path):
    """A registry file that a paced writer is recording into."""
    path = str(tmp_path / "cli.metricore")
    processes("paced-writer", [PACED, path], stdin=True).wait_for_line(r"ready", 30)
    return path


@pytest.fixture
def bad_files(registry_file, tmp_path):
    """Paths that are not usable registry files, with what the error must say."""
    missing = tmp_path / "missing.metricore"
    garbage = tmp_path / "garbage.metricore"
    garbage.write_bytes(os.urandom(8192))
    other_version = tmp_path / "v9.metricore"
    data = bytearray(open(registry_file, "rb").read(8192))
    data[8] = 9  # the layout version word
    other_version.write_bytes(bytes(data))
    return [
        (str(missing), "No such file"),
        (str(garbage), "not a metricore registry file"),
        (str(other_version), "layout version 9"),
    ]


@pytest.mark.parametrize("command", ["serve", "dump", "inspect"])
def test_bad_registry_files_are_one_line_and_status_2(command, bad_files):
    for path, says in bad_files:
        args = ["serve", "--registry", path, "--listen", "127.0.0.1:0"] if command == "serve" else [command, path]
        r = run(*args)
        assert r.returncode == 2, (args, r)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1, r.stderr
        assert path in lines[0] and says in lines[0], lines[0]
        assert r.stdout == ""


def test_a_port_in_use_is_one_line(registry_file):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        addr = "%s:%d" % s.getsockname()
        r = run("serve", "--registry", registry_file, "--listen", addr)
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and addr in lines[0] and "in use" in lines[0], r.stderr


def test_the_same_file_twice_is_refused(registry_file):
    r = run("serve", "--registry", registry_file, "--registry", registry_file, "--listen", "127.0.0.1:0")
    assert r.returncode == 2 and "same registry file" in r.stderr, r


def test_dump_in_both_formats(registry_file):
    text = run("dump", registry_file).stdout
    assert "# TYPE paced_requests_total counter\n" in text
    assert 'paced_odd_total{value="new\\nline"} 1\n' in text
    om = run("dump", registry_file, "--format", "openmetrics").stdout
    assert "# TYPE paced_requests counter\n" in om and om.endswith("# EOF\n")
    bad = run("dump", registry_file, "--format", "xml")
    assert bad.returncode == 2 and "xml" in bad.stderr


def test_inspect_is_a_readable_table(registry_file, processes):
    r = run("inspect", registry_file)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert re.search(r"^series\s+11 of \d+", out, re.M), out
    assert re.search(r"^region\s+\S+ \S+ of \S+ \S+ \(\d+\.\d%\) in use", out, re.M), out
    assert re.search(r"^overflows\s+0 ", out, re.M), out
    assert re.search(r"^paced_requests\s+counter\s+4\s+0$", out, re.M), out
    assert re.search(r"^paced_latency_seconds\s+histogram\s+1\s+0$", out, re.M), out
    writer = processes.started[0].proc.pid
    assert re.search(rf"^\s*{writer}\s+running$", out, re.M), out
    # It reads the file without attaching to it: the writer is the only process.
    assert len(re.findall(r"^\s*\d+\s+(running|exited)", out, re.M)) == 1, out


def _fingerprint(path):
    st = os.stat(path)
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest(), st.st_mtime_ns


def test_dump_inspect_and_serve_change_nothing(registry_file, processes):
    # A writer killed without detaching leaves its process slot claimed; a process
    # that attached would take the slot back.
    writer = processes.started[0].proc
    writer.kill()
    writer.wait(10)
    before = _fingerprint(registry_file)
    assert run("dump", registry_file).returncode == 0
    r = run("inspect", registry_file)
    assert r.returncode == 0 and "exited without detaching" in r.stdout, r
    url, exporter = serve(processes, registry_file)
    for _ in range(3):
        status, _, body = http_get(url)
        assert status == 200 and b"paced_requests_total{" in body
    assert exporter.stop() == 0
    assert _fingerprint(registry_file) == before


def _as_nobody(*args):
    cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30)


@pytest.mark.skipif(os.geteuid() != 0, reason="running commands as user nobody needs root")
def test_files_of_other_users_and_files_only_readable(registry_file, processes):
    processes.started[0].stop()
    d = tempfile.mkdtemp(prefix="metricore-cli-owner-")
    try:
        os.chmod(d, 0o755)
        exe = os.path.join(d, "metricore")
        shutil.copy(METRICORE, exe)
        path = os.path.join(d, "reg.metricore")
        shutil.copyfile(registry_file, path)
        os.chown(path, 65534, 65534)
        os.chmod(path, 0o400)
        before = _fingerprint(path)

        # Another user's file is refused, its owner named, unless that owner is trusted.
        for command in (["dump", path], ["inspect", path], ["serve", "--registry", path, "--listen", "127.0.0.1:0"]):
            r = run(*command)
            assert r.returncode == 2, (command, r)
            assert path in r.stderr and "owner uid 65534 (nobody)" in r.stderr and "mode 0400" in r.stderr, r.stderr
        r = run("dump", path, "--owner", "nobody")
        assert r.returncode == 0 and "paced_requests_total{" in r.stdout, r

        # Its owner may only read it, and reads it.
        r = _as_nobody(exe, "dump", path)
        assert r.returncode == 0 and "paced_requests_total{" in r.stdout, r
        r = _as_nobody(exe, "inspect", path)
        assert r.returncode == 0 and "check: healthy" in r.stdout, r
        assert _fingerprint(path) == before

        # A directory every user may replace files in is refused.
        os.chmod(d, 0o777)
        r = run("dump", path, "--owner", "nobody")
        assert r.returncode == 2 and "without the sticky bit (mode 0777)" in r.stderr, r
    finally:
        shutil.rmtree(d)


def test_help_everywhere(built):
    for args in ([], ["serve"], ["dump"], ["inspect"], ["demo"]):
        r = run(*args, "--help")
        assert r.returncode == 0 and "Usage: metricore" in r.stdout, (args, r)
    r = run()
    assert r.returncode == 2 and "Usage" in r.stderr


def test_demo_records_serves_and_stops_on_ctrl_c(built, processes):
    demo = processes("metricore-demo", [METRICORE, "demo", "--listen", "127.0.0.1:0"])
    url = demo.wait_for_line(r"serving it at (http://\S+/metrics)", 30).group(1)
    path = demo.wait_for_line(r"recording into (\S+\.metricore)", 5).group(1)
    demo.wait_for_line(r"model_requests_total\{", 10)

    def requests_total():
        status, _, body = http_get(url)
        assert status == 200
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in body.decode().splitlines()
            if line.startswith("model_requests_total{")
        )

    first = requests_total()
    wait_until("the demo's workers to keep recording", lambda: requests_total() > first, 10, procs=[demo])
    assert demo.stop(signal.SIGINT) == 0, demo.log()
    assert "stopped; removed" in demo.log()
    assert not os.path.exists(path)
    workers = [
        pid for pid in os.listdir("/proc") if pid.isdigit() and _cmdline(pid).count(path)
    ]
    assert workers == [], workers


def _cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""
