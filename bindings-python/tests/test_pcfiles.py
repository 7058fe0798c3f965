"""``MultiProcessCollector.merge`` reads the per-process files that
``prometheus_client``'s multiprocess mode writes: files written by the real
``prometheus_client`` in two processes merge to what its own merge gives."""

import glob
import json
import os
import subprocess
import sys

import pytest

from metricore.multiprocess import MultiProcessCollector

WRITER = r"""
import time
from prometheus_client import Counter, Gauge, Histogram, Summary
n = int(__import__("sys").argv[1])
c = Counter("jobs", "Jobs done.", ["queue"])
c.labels("fast").inc(n)
c.labels("q\"uote é 模型 😀").inc(0.5)
Gauge("depth", "Depth.", multiprocess_mode="livesum").set(n)
Gauge("workers", "Workers.", multiprocess_mode="all").set(n * 10)
Gauge("peak", "Peak.", multiprocess_mode="max").set(n * 3)
Gauge("low", "Low.", multiprocess_mode="min").set(n * 3)
last = Gauge("last", "Last.", multiprocess_mode="mostrecent")
time.sleep(0.01 * n)
last.set(n)
h = Histogram("lat", "Latency.", ["route"], buckets=[0.1, 1, 10])
for v in (0.05 * n, 0.5 * n, 5 * n):
    h.labels("/a").observe(v)
Summary("size", "Size.").observe(7 * n)
"""

READER = r"""
import json, sys
from prometheus_client.multiprocess import MultiProcessCollector
out = []
for m in MultiProcessCollector.merge(sys.argv[2:], accumulate=sys.argv[1] == "1"):
    out.append([m.name, m.type, m.documentation, [[s.name, s.labels, s.value] for s in m.samples]])
print(json.dumps(out))
"""


def clean_env(directory):
    env = dict(os.environ, PROMETHEUS_MULTIPROC_DIR=str(directory))
    env.pop("METRICORE_REGISTRY", None)
    return env


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    directory = tmp_path_factory.mktemp("pcfiles")
    for n in (1, 2):
        subprocess.run([sys.executable, "-c", WRITER, str(n)], env=clean_env(directory), check=True)
    found = sorted(glob.glob(os.path.join(directory, "*.db")))
    assert len(found) == 2 * 8, found  # per process: counter, histogram, summary, 5 gauge modes
    return found


@pytest.mark.parametrize("accumulate", [True, False])
def test_merge_gives_what_prometheus_client_gives(files, accumulate):
    theirs = json.loads(
        subprocess.run(
            [sys.executable, "-c", READER, "1" if accumulate else "0", *files],
            env=clean_env(os.path.dirname(files[0])), check=True, capture_output=True, text=True,
        ).stdout
    )
    ours = [
        [m.name, m.type, m.documentation, [[s.name, s.labels, s.value] for s in m.samples]]
        for m in MultiProcessCollector.merge(files, accumulate=accumulate)
    ]
    assert ours == theirs
    jobs = next(m for m in ours if m[0] == "jobs")
    assert ["jobs_total", {"queue": "fast"}, 3.0] in jobs[3]
    assert ["jobs_total", {"queue": "q\"uote é 模型 😀"}, 1.0] in jobs[3]


def test_missing_files_of_live_gauges_are_skipped_and_others_raise(tmp_path):
    assert MultiProcessCollector.merge([str(tmp_path / "gauge_livesum_1.db")]) == []
    with pytest.raises(FileNotFoundError):
        MultiProcessCollector.merge([str(tmp_path / "counter_1.db")])


def test_a_corrupt_file_is_an_error_naming_it(files, tmp_path):
    bad = tmp_path / "counter_9.db"
    data = bytearray(open(next(f for f in files if "counter_" in f), "rb").read())
    data[8:12] = (1 << 30).to_bytes(4, "little")  # a key length past the end
    bad.write_bytes(bytes(data))
    with pytest.raises(OSError, match="counter_9.db.*runs past the bytes in use"):
        MultiProcessCollector.merge([str(bad)])
