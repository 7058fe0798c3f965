"""After the faults (an nginx worker and a uvicorn worker SIGKILLed, `metricore serve`
SIGKILLed and restarted in the middle of the load), the registry file is healthy: no
series duplicated or corrupt, `metricore inspect` reports it without errors and knows
which of its processes died."""

import re
import subprocess

from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics_families

from .conftest import SUMMARY, families
from harness import METRICORE


def inspect(run):
    r = subprocess.run([METRICORE, "inspect", run.stack.registry], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def dump(run, *args):
    r = subprocess.run([METRICORE, "dump", run.stack.registry, *args], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_inspect_reports_a_healthy_file(run):
    out = inspect(run)
    assert re.search(r"^check: healthy, \d+ series records verified$", out, re.M), out
    rows = dict(re.findall(r"^(\w+)\s+(.*)$", out.split("\n\n")[0], re.M))
    assert rows["errors"].startswith("0 "), out
    # The only overflows are the Rust program's, on purpose (a family limited to 8 series).
    assert rows["overflows"].startswith("2 "), out
    series = int(rows["series"].split()[0])
    assert series == run.final[("metricore_series", ())], out

    # Each family's series, as inspect counts them, are those of the exposition.
    table = re.findall(r"^(\w+)\s+(counter|gauge|histogram|summary|info|stateset)\s+(\d+)\s+(\d+)$", out, re.M)
    assert table, out
    rendered = families(dump(run))
    for name, kind, n, overflowed in table:
        family = rendered.get(name)
        shown = set()
        if family is not None:
            for s in family.samples:
                labels = {k: v for k, v in s.labels.items() if k != "le"}
                if labels.get("otel_metric_overflow") != "true":
                    shown.add(tuple(sorted(labels.items())))
        if kind == "gauge":
            # A livesum gauge keeps a series per live process and label set; the
            # exposition shows their sum.
            assert int(n) >= len(shown), (name, n, shown)
        else:
            assert int(n) == len(shown), (name, n, shown)
        assert int(overflowed) == (2 if name == "recorder_users" else 0), (name, overflowed)
    assert sum(int(n) for _, _, n, _ in table) == series

    # The killed processes are not taken for running ones (their slots in the process
    # table are dead, or taken over by processes attached since); the live ones are.
    states = dict(re.findall(r"^\s*(\d+)\s+(\S.*)$", out.split("PID  STATE")[1], re.M))
    for pid in (run.nginx_killed, run.uvicorn_killed, run.serve_killed):
        assert states.get(str(pid)) in (None, "exited without detaching"), (pid, out)
    # `metricore serve` only reads the file: it never takes a slot.
    assert str(run.stack.serve.pid) not in states, out
    live = set(run.stack.gateway_workers()) | set(run.stack.token_workers())
    for pid in live:
        assert states.get(str(pid)) == "running", (pid, out)
    running = {int(p) for p, s in states.items() if s == "running"}
    assert running <= live, (running, live)
    SUMMARY.append(
        f"inspect: {series} series, 0 errors, 2 overflow lookups (on purpose), "
        f"{sum(1 for s in states.values() if s.startswith('exited'))} processes exited without detaching"
    )


def test_no_series_is_duplicated_or_corrupt(run):
    for text in (dump(run), run.final_text):
        seen = set()
        for line in text.splitlines():
            if not line or line.startswith("#"):
                continue
            series, _, value = line.rpartition(" ")
            assert series not in seen, f"duplicated: {line}"
            seen.add(series)
            assert re.fullmatch(r"-?(\d+(\.\d+)?(e[+-]?\d+)?|\+Inf|NaN)", value), line
    # The OpenMetrics parser refuses duplicated families and samples out of order.
    fams = list(openmetrics_families(dump(run, "--format", "openmetrics")))
    assert len(fams) > 10


def test_promtool_accepts_the_exposition(run):
    text = dump(run)
    r = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
