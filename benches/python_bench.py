#!/usr/bin/env python3
"""Python benchmark: metricore beside prometheus_client, in one run.

Measures, in nanoseconds per call, ``c.inc()``, ``child.inc()``,
``c.labels(a, b, c).inc()`` (with ``str`` values, and with an ``int``), keyword
``labels(...)``, ``h.observe(v)`` (and into a native histogram, metricore only),
``h.observe(v, exemplar=...)``, ``with h.time()``, and the time to render 1k and 10k
series and to ``collect()`` them, for four setups:

- metricore, registry in this process
- metricore, registry in a shared file (``use_shared``)
- prometheus_client, single process
- prometheus_client with ``PROMETHEUS_MULTIPROC_DIR`` (its multi-process mode)

Each setup runs in its own interpreter (the multi-process mode of prometheus_client
is chosen at import). Per-call figures are the best of several repeats, with the cost
of the empty timing loop subtracted. Prints one JSON record a line per setup and
measurement, as the other benches do (benches/src/record.rs), e.g.

    {"suite": "python", "work": "c.inc()", "subject": "prometheus_client", "value": 298.1, "unit": "ns"}

and a table for people on standard error. Run with the project's virtualenv after
building the extension::

    .venv/bin/python benches/python_bench.py [--quick]
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import timeit

SETUPS = {
    "metricore": "metricore (in-process)",
    "metricore-shared": "metricore (shared file)",
    "prometheus_client": "prometheus_client",
    "prometheus_client-mp": "prometheus_client (multiproc dir)",
}
CALLS = [
    ("builtin", "builtin method call n.bit_length() (baseline)"),
    ("inc", "c.inc()"),
    ("child_inc", "child.inc()"),
    ("labels_inc", "c.labels(a, b, c).inc()"),
    ("labels_int_inc", "c.labels(a, b, 200).inc()"),
    ("labels_kw_inc", "c.labels(x=a, y=b, z=c).inc()"),
    ("observe", "h.observe(v)"),
    ("native_observe", "h.observe(v), native histogram (schema 3)"),
    ("observe_exemplar", "h.observe(v, exemplar={'trace_id': t})"),
    ("time", "with h.time(): pass"),
]
RENDERS = [("render_1k", 1000), ("render_10k", 10000)]
SERIES_PER_FAMILY = 1000


def per_call_ns(stmt, env, number, repeat):
    """Best ns per execution of ``stmt``, less the empty loop."""
    empty = min(timeit.Timer("pass", globals=env).repeat(repeat, number)) / number
    best = min(timeit.Timer(stmt, globals=env).repeat(repeat, number)) / number
    return max(best - empty, 0.0) * 1e9


def load(name, part):
    """The library for setup ``name`` and a fresh registry for measurement ``part``."""
    if name.startswith("metricore"):
        import metricore as lib

        registry = lib.CollectorRegistry()
        if name == "metricore-shared":
            lib.use_shared(os.path.join(os.environ["BENCH_DIR"], f"{part}.metricore"), registry=registry)
        return lib, registry, registry
    import prometheus_client as lib

    registry = lib.CollectorRegistry()
    if name == "prometheus_client-mp":
        from prometheus_client import multiprocess

        # Metrics go to the per-process files; the collector reads them all back.
        reader = lib.CollectorRegistry()
        multiprocess.MultiProcessCollector(reader)
        return lib, registry, reader
    return lib, registry, registry


def run_calls(name, quick):
    """Per-call costs for one setup."""
    number = 50_000 if quick else 200_000
    repeat = 3 if quick else 11
    lib, reg, _ = load(name, "calls")
    c = lib.Counter("bench_plain", "Plain counter.", registry=reg)
    lc = lib.Counter("bench_labelled", "Labelled counter.", ["x", "y", "z"], registry=reg)
    child = lc.labels("a", "b", "c")
    h = lib.Histogram("bench_latency_seconds", "Histogram.", registry=reg)
    a, b, cc = "model-a", "namespace-b", "status-c"
    lc.labels(a, b, cc).inc()
    env = {"c": c, "lc": lc, "child": child, "h": h, "a": a, "b": b, "cc": cc, "v": 0.042, "n": 12345,
           "t": "4bf92f3577b34da6a3ce929d0e0e4736"}
    if name.startswith("metricore"):
        env["hn"] = lib.Histogram("bench_native_seconds", "Native.", registry=reg, native_schema=3)
    stmts = {
        "builtin": "n.bit_length()",
        "inc": "c.inc()",
        "child_inc": "child.inc()",
        "labels_inc": "lc.labels(a, b, cc).inc()",
        "labels_int_inc": "lc.labels(a, b, 200).inc()",
        "labels_kw_inc": "lc.labels(x=a, y=b, z=cc).inc()",
        "observe": "h.observe(v)",
        "native_observe": "hn.observe(v)",
        "observe_exemplar": "h.observe(v, exemplar={'trace_id': t})",
        "time": "with h.time(): pass",
    }
    out = {}
    for key, stmt in stmts.items():
        if stmt.removeprefix("with ").split(".")[0] not in env:
            continue
        slow = key in ("labels_inc", "labels_int_inc", "labels_kw_inc", "observe_exemplar", "time") or name == "prometheus_client-mp"
        out[key] = per_call_ns(stmt, env, number // (4 if slow else 1), repeat)
    return out


def run_render(name, total, quick):
    """Time to render ``total`` counter series (families of 1000 series, 2 labels), and
    to collect them as objects (``list(registry.collect())``)."""
    lib, reg, reader = load(name, f"render{total}")
    if name.startswith("metricore"):
        from metricore import generate_latest
    else:
        from prometheus_client import generate_latest
    for f in range(total // SERIES_PER_FAMILY):
        fam = lib.Counter(f"render_family{f}", "Rendered.", ["model", "ns"], registry=reg)
        for i in range(SERIES_PER_FAMILY):
            fam.labels(f"model-{i}", "ns").inc()
    generate_latest(reader)  # warm up
    loops = 1 if total >= 10000 else 5
    times = timeit.Timer(lambda: generate_latest(reader)).repeat(3 if quick else 7, loops)
    collected = timeit.Timer(lambda: list(reader.collect())).repeat(3 if quick else 7, loops)
    return {
        f"render_{total // 1000}k": min(times) / loops * 1e9,
        f"collect_{total // 1000}k": min(collected) / loops * 1e9,
    }


def fmt_ns(ns):
    if ns is None:
        return "n/a"
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e4:
        return f"{ns / 1e3:.1f} us"
    return f"{ns:.1f} ns"


def main():
    quick = "--quick" in sys.argv
    if "--setup" in sys.argv:
        name, part = sys.argv[sys.argv.index("--setup") + 1 : sys.argv.index("--setup") + 3]
        out = run_calls(name, quick) if part == "calls" else run_render(name, int(part), quick)
        print(json.dumps(out))
        return
    results = {name: {} for name in SETUPS}
    work = tempfile.mkdtemp(prefix="metricore-bench-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    try:
        for name in SETUPS:
            for part in ["calls"] + [str(n) for _, n in RENDERS]:
                env = dict(os.environ)
                env.pop("METRICORE_REGISTRY", None)
                env.pop("PROMETHEUS_MULTIPROC_DIR", None)
                env["BENCH_DIR"] = work
                if name == "prometheus_client-mp":
                    mp = os.path.join(work, f"multiproc-{part}")
                    os.makedirs(mp)
                    env["PROMETHEUS_MULTIPROC_DIR"] = mp
                args = [sys.executable, os.path.abspath(__file__), "--setup", name, part]
                done = subprocess.run(args + (["--quick"] if quick else []), env=env,
                                      capture_output=True, text=True, timeout=900)
                if done.returncode != 0:
                    sys.stderr.write(done.stderr)
                    raise SystemExit(f"setup {name} ({part}) failed")
                results[name].update(json.loads(done.stdout))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    rows = CALLS + [(k, f"render {n // 1000}k series (generate_latest)") for k, n in RENDERS]
    rows += [(k.replace("render", "collect"), f"collect {n // 1000}k series (list(registry.collect()))") for k, n in RENDERS]
    for key, label in rows:
        for name, subject in SETUPS.items():
            record = {"suite": "python", "work": label, "subject": subject, "value": results[name].get(key), "unit": "ns"}
            print(json.dumps(record))

    header = ["what"] + list(SETUPS.values())
    table = [[label] + [fmt_ns(results[s].get(key)) for s in SETUPS] for key, label in rows]
    widths = [max(len(str(row[i])) for row in [header] + table) for i in range(len(header))]
    line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs; per call, empty-loop cost subtracted",
          line(header), rule, *map(line, table), sep="\n", file=sys.stderr)


if __name__ == "__main__":
    main()
