"""The type stubs: mypy accepts a program using the API and refuses a wrong one."""

import os
import shutil
import subprocess
import sys

import pytest

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "typing")


def mypy(path, tmp_path):
    if shutil.which("mypy") is None and not os.path.exists(os.path.join(os.path.dirname(sys.executable), "mypy")):
        pytest.skip("mypy is not installed")
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental", "--cache-dir", str(tmp_path), "--python-version", "3.11", path],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_stubs_accept_the_api(tmp_path):
    out = mypy(os.path.join(HERE, "usage.py"), tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr


def test_stubs_refuse_wrong_types(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import metricore\nc = metricore.Counter('x', 'X.')\nc.inc('one')\nc.observe(1)\n")
    out = mypy(str(bad), tmp_path / "cache")
    assert out.returncode != 0
    assert 'incompatible type "str"' in out.stdout and '"Counter" has no attribute "observe"' in out.stdout
