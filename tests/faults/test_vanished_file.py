"""A registry file truncated, or removed and recreated, under a C recorder, a Python
recorder, `metricore serve` and 4 nginx workers: no process dies, /metrics keeps
answering, and every process moves to the file that is at the path afterwards."""

import os
import subprocess
import time

from conftest import value
from harness import wait_until

LANGS = ("c", "py", "lua")


def looked(text):
    return {lang: value(text, f'faults_looked_total{{lang="{lang}"}}') or 0 for lang in LANGS}


def recording(stack, what, timeout):
    """Waits until every language's lookups add to the file `metricore serve` shows."""

    def grows():
        before = looked(stack.metrics())
        time.sleep(0.3)
        after = looked(stack.metrics())
        return all(after[lang] > before[lang] for lang in LANGS) and after

    return wait_until(what, grows, timeout, interval=0.05, procs=[stack.c, stack.py, stack.serve, stack.nginx])


def maps_inode(pid, path, ino):
    """Whether process `pid` has the file with inode `ino` in the directory of `path`
    mapped (under its temporary name, for the process that made it)."""
    directory = os.path.dirname(path) + "/"
    try:
        with open(f"/proc/{pid}/maps") as f:
            for line in f:
                fields = line.split(None, 5)
                if len(fields) == 6 and int(fields[4]) == ino and fields[5].startswith(directory):
                    return True
    except FileNotFoundError:
        pass
    return False


def test_a_truncated_file_kills_no_process(stack):
    recording(stack, "recording before the truncation", 20)
    workers = stack.workers()
    r = subprocess.run(["truncate", "-s", "4096", stack.registry], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    # Broken: every process goes on, and /metrics answers (from memory of its own).
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        stack.all_running()
        stack.metrics()
        stack.metrics(stack.nginx_url + "/metrics")
        time.sleep(0.2)
    text = stack.metrics()
    assert value(text, "metricore_region_broken") == 1, text
    assert stack.workers() == workers

    # A valid file comes back at the path (made by the first process to look):
    # everything records there again.
    os.remove(stack.registry)
    recording(stack, "recording into the new file", 10)
    stack.all_running()
    assert stack.workers() == workers
    text = stack.metrics()
    assert value(text, "metricore_region_broken") is None, text
    # Each process that touched the truncated file moved, and said so in the new one:
    # the recorders and `metricore serve` at least (nginx workers without a request in
    # the meantime never touched it).
    faults = value(text, "metricore_region_faults_total")
    assert 3 <= faults <= 3 + len(workers), text


def test_a_removed_and_recreated_file_takes_every_process_along(stack):
    recording(stack, "recording before the removal", 20)
    pids = stack.pids()
    os.remove(stack.registry)
    removed = time.monotonic()
    # Whichever process looks first makes the new file; the others open it.
    wait_until("a new file", lambda: os.path.exists(stack.registry), 2, interval=0.01)
    ino = os.stat(stack.registry).st_ino
    while time.monotonic() - removed < 2:
        behind = [pid for pid in pids if not maps_inode(pid, stack.registry, ino)]
        if not behind:
            break
        time.sleep(0.02)
    took = time.monotonic() - removed
    assert not behind, f"not moved after {took:.2f} s: {[(pid, stack.name(pid)) for pid in behind]}"
    recording(stack, "recording into the new file", 5)
    assert stack.pids() == pids

    # The C recorder's handle resolved at its start still records into the old file:
    # that is counted as lost, and the new file has nothing of it.
    def lost():
        text = stack.metrics()
        return (value(text, "metricore_lost_recordings_total") or 0) > 1000 and text

    text = wait_until("lost recordings counted", lost, 5)
    assert not value(text, 'faults_held_total{lang="c"}'), text
    # The Python objects made before the move follow it.
    assert value(text, 'faults_held_total{lang="py"}') > 0, text
