"""Tests of the report's reading of records and of the tables made from them, on lines
as the benches print them. Run with `python -m pytest benches/reporting`, or directly."""

import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reporting import records, rust, scripts, targets  # noqa: E402
from reporting.steps import FAILED, OK, Outcome  # noqa: E402

# What criterion prints around the records of the harness.
CRITERION = """\
counter_inc_f64/2_threads/atomic (shared)
                        time:   [12.601 ns 12.7 ns 12.803 ns]
{"suite":"rust","work":"counter_inc_f64/2_threads","subject":"metrics","value":null,"unit":"ns","note":"not applicable (no f64 counter)"}
Found 1 outliers among 10 measurements (10.00%)
"""

ALLOC = """\
{"suite":"alloc","work":"f64 counter inc","subject":"metrics","value":null,"unit":"allocations/call","note":"not applicable (no f64 counter)"}
{"suite":"alloc","work":"3-label lookup + inc","subject":"metricore","value":0,"unit":"allocations/call","params":{"calls":10000}}
{"suite":"alloc","work":"3-label lookup + inc","subject":"prometheus-client","value":3,"unit":"allocations/call","params":{"calls":10000}}
{"suite":"alloc","work":"histogram observe","subject":"metricore","value":0,"unit":"allocations/call","params":{"calls":10000}}
{"suite":"alloc","work":"histogram observe","subject":"metrics","value":0.016,"unit":"allocations/call","params":{"calls":10000}}
"""

MEMORY = """\
{"suite":"memory","work":"heap","subject":"metricore","value":0,"unit":"bytes/series","params":{"series":10000,"labels":3}}
{"suite":"memory","work":"mapped","subject":"metricore","value":96,"unit":"bytes/series","params":{"series":10000,"labels":3}}
{"suite":"memory","work":"total","subject":"metricore","value":96,"unit":"bytes/series","params":{"series":10000,"labels":3}}
{"suite":"memory","work":"allocations","subject":"metricore","value":1,"unit":"allocations/series","params":{"series":10000,"labels":3}}
{"suite":"memory","work":"heap","subject":"prometheus","value":503.8123,"unit":"bytes/series","params":{"series":10000,"labels":3}}
{"suite":"memory","work":"mapped","subject":"prometheus","value":0,"unit":"bytes/series","params":{"series":10000,"labels":3}}
{"suite":"memory","work":"total","subject":"prometheus","value":503.8123,"unit":"bytes/series","params":{"series":10000,"labels":3}}
{"suite":"memory","work":"allocations","subject":"prometheus","value":23,"unit":"allocations/series","params":{"series":10000,"labels":3}}
{"suite":"memory","work":"cells","subject":"metricore","value":16,"unit":"bytes/series","params":{"series":10000,"labels":3,"lanes":2}}
{"suite":"memory","work":"series record and label key","subject":"metricore","value":80,"unit":"bytes/series","params":{"series":10000,"labels":3,"lanes":2}}
"""

C = """\
{"suite":"c","work":"counter inc, 1 thread","subject":"libmetricore.so","value":2.74,"unit":"ns","params":{"threads":1}}
{"suite":"c","work":"3-label lookup + inc, 1 thread","subject":"libmetricore.so","value":63.70,"unit":"ns","params":{"threads":1}}
{"suite":"c","work":"counter inc, 1 thread","subject":"libmetricore.a","value":2.19,"unit":"ns","params":{"threads":1}}
"""

PYTHON = "\n".join(json.dumps({"suite": "python", "work": work, "subject": subject, "value": value, "unit": "ns"})
                   for work, subject, value in [
                       ("builtin method call n.bit_length() (baseline)", "metricore (in-process)", 14.3),
                       ("builtin method call n.bit_length() (baseline)", "prometheus_client", 11.6),
                       ("c.inc()", "metricore (in-process)", 29.9),
                       ("c.inc()", "prometheus_client", 299.0),
                       ("h.observe(v)", "metricore (in-process)", 36.3),
                       ("h.observe(v)", "prometheus_client", 701.0)])

LUA = """\
LuaJIT 2.1.0-beta3 in nginx 1.22.1, worker pid 42
{"suite":"lua","work":"counter:inc(1)","subject":"metricore","value":2.36,"unit":"ns","params":{"calls":10000000}}
{"suite":"lua","work":"counter:inc(1)","subject":"nginx-lua-prometheus","value":9,"unit":"ns","note":"quoted"}
{"suite":"lua","work":"render 10k series","subject":"metricore","value":800123,"unit":"ns","params":{"series":10000}}
"""

HTTP = """\
{"suite":"http","work":"registry series","subject":"metricore serve","value":10000,"unit":"series"}
{"suite":"http","work":"wrk -c 64 -t 2 -d 10s: requests/s","subject":"metricore serve","value":974.12,"unit":"requests/s"}
{"suite":"http","work":"p99 latency","subject":"metricore serve","value":92700000,"unit":"ns"}
{"suite":"http","work":"2 recorders, recordings/s, alone","subject":"metricore serve","value":365114801,"unit":"recordings/s"}
{"suite":"http","work":"2 recorders, recordings/s, under wrk","subject":"metricore serve","value":151506958,"unit":"recordings/s"}
"""


def row(table, work):
    """The row of `work` as a dict from column to cell."""
    return next(dict(zip(table.columns, r)) for r in table.rows if r[0] == work)


def test_read_takes_the_json_lines_only():
    got = records.read(CRITERION + ALLOC)
    assert len(got) == 6
    assert got[0] == records.Record("rust", "counter_inc_f64/2_threads", "metrics", None, "ns",
                                    note="not applicable (no f64 counter)")
    assert got[5].subject == "metrics" and got[5].value == 0.016 and got[5].params == {"calls": 10000}
    assert records.values(got)[("3-label lookup + inc", "prometheus-client")] == 3
    assert records.notes(got) == {("counter_inc_f64/2_threads", "metrics"): "not applicable (no f64 counter)",
                                  ("f64 counter inc", "metrics"): "not applicable (no f64 counter)"}


def test_a_broken_record_is_an_error():
    for line in ['{"suite":"http","work":"x","subject":"y","value":1,"unit":"ns"}}',
                 '{"suite":"http","work":"x","subject":"y","value":1}']:
        try:
            records.read("people's line\n" + line)
        except ValueError as e:
            assert str(e).startswith("not a record (") and str(e).endswith(line)
        else:
            raise AssertionError(f"read {line}")


def test_criterion_estimates():
    with tempfile.TemporaryDirectory() as home:
        new = Path(home, "counter_inc_1_thread", "atomic", "new")
        new.mkdir(parents=True)
        (new / "benchmark.json").write_text(json.dumps({"group_id": "counter_inc/1_thread", "function_id": "atomic"}))
        (new / "estimates.json").write_text(json.dumps({"median": {"point_estimate": 2.125}}))
        assert records.criterion(Path(home)) == [records.Record("rust", "counter_inc/1_thread", "atomic", 2.125, "ns")]


def test_fmt():
    assert records.fmt(92_700_000, "ns") == "92.7 ms"
    assert records.fmt(1.914, "ns") == "1.91 ns"
    assert records.fmt(365114801, "recordings/s") == "365114801"
    assert records.fmt(974.12, "requests/s") == "974.12"


def _rust_run() -> rust.RustRun:
    figures = {("counter_inc/1_thread", "metricore"): 1.72, ("counter_inc/1_thread", rust.FLOOR): 2.12,
               ("counter_inc_f64/2_threads", "metricore"): 4.73, ("counter_inc_f64/2_threads", "prometheus"): 34.7,
               ("lookup_inc/3_labels", "metricore"): 39.1, ("lookup_inc/3_labels", "prometheus"): 16.5,
               ("lookup_inc/3_labels", "prometheus-client"): 69.2}
    for (op, lib), n in records.values(records.read(ALLOC)).items():
        figures[(f"allocations/{op}", lib)] = n
    out = [Outcome("criterion counter", OK, output=CRITERION), Outcome("alloc_check", OK, output=ALLOC),
           Outcome("memory", OK, output=MEMORY)]
    notes = {k: v for o in out for k, v in records.notes(records.read(o.output)).items()}
    benches = {bench: out[0] for bench in rust.BENCHES}
    return rust.RustRun(targets.Figures(figures, "metricore"), notes, benches, {"measured": "error: no"}, out[1], out[2])


def test_rust_tables():
    r = _rust_run()
    t = rust.table(r)
    one = row(t, "counter inc, 1 thread")
    assert one["metricore"] == "1.72 ns" and one[rust.FLOOR] == "2.12 ns" and one[rust.FLOOR_PER_THREAD] == "—"
    assert one["measured"] == "missing (does not build here)"
    assert one["measured against the target"] == "0.81x the raw atomic (2.12 ns)" and one["met"] == "✅"
    f64 = row(t, "f64 counter inc, 2 threads")
    assert f64["metrics"] == "not applicable (no f64 counter)" and f64["prometheus / metricore"] == "7.3x"
    lookup = row(t, "3-label lookup + inc (existing series among 1,000)")
    assert lookup["measured against the target"] == (
        "2.4x slower than prometheus, 1.8x faster than prometheus-client; 0 allocations per call")
    assert lookup["met"] == "❌"

    alloc = rust.alloc_table(r)
    assert [x[0] for x in alloc.rows] == ["3-label lookup + inc", "histogram observe"]
    assert row(alloc, "3-label lookup + inc")["prometheus-client"] == "3"
    assert row(alloc, "histogram observe")["metrics"] == "0.016"
    assert row(alloc, "histogram observe")["met"] == "✅"

    memory = rust.memory_table(r)
    assert memory.rows[0] == ["metricore", "0.0", "96.0", "96.0", "1.00"]
    assert memory.rows[1] == ["prometheus", "503.8", "0.0", "503.8", "23.00"]
    assert memory.rows[2] == ["prometheus-client", "no result", "", "", ""]
    assert memory.rows[4] == ["measured", "missing (does not build here)", "", "", ""]
    assert "With 2 lanes in use, metricore's cells take 16.0 bytes per series (limit 16)" in memory.notes[0]
    assert memory.notes[0].endswith("80.0 bytes of series record and label key plus an 8-byte slot in the "
                                    "preallocated directory: ✅.")


def test_script_tables():
    rust_figures = targets.Figures({("counter_inc/1_thread", "metricore"): 1.72}, "metricore")
    c = scripts.c_table(scripts.Script(Outcome("C", OK, output=C), "ffi-c/bench.sh"), rust_figures)
    assert c.columns[:5] == ["work", "libmetricore.so", "libmetricore.a", "Rust, this run", "C / Rust"]
    assert c.rows[0][:5] == ["counter inc, 1 thread", "2.74 ns", "2.19 ns", "1.72 ns", "1.59x"]
    assert row(c, "3-label lookup + inc, 1 thread")["libmetricore.a"] == "—"
    assert row(c, "3-label lookup + inc, 1 thread")["target"] == "none"

    py = scripts.python_table(scripts.Script(Outcome("Python", OK, output=PYTHON), "benches/python_bench.py --quick"))
    inc = row(py, "c.inc()")
    assert inc["pc / mc"] == "10.0x" and inc["pc-mp / mc-shared"] == "—"
    assert inc["measured against the target"] == "2.09x the builtin method call (14.3 ns)" and inc["met"] == "❌"
    assert row(py, "h.observe(v)")["met"] == "✅"
    missing = row(py, "render 10k series (generate_latest)")
    assert missing["measured against the target"] == "no figure in the output"

    lua = scripts.lua_table(scripts.Script(Outcome("Lua", OK, output=LUA), "benches/lua/run.sh"))
    first = row(lua, "counter:inc(1)")
    assert first["nginx-lua-prometheus"] == "9.00 ns" and first["nginx-lua-prometheus / metricore"] == "3.8x"
    assert row(lua, "render 10k series")["measured against the target"] == "800 µs"
    assert "nginx-lua-prometheus: quoted" in lua.notes

    http = scripts.http_table(scripts.Script(Outcome("HTTP", OK, output=HTTP), "benches/serve_load.sh"))
    assert [x[:2] for x in http.rows] == [
        ["registry series", "10000"], ["wrk -c 64 -t 2 -d 10s: requests/s", "974.12"], ["p99 latency", "92.7 ms"],
        ["2 recorders, recordings/s, alone", "365114801"], ["2 recorders, recordings/s, under wrk", "151506958"],
        ["2 recorders, recordings/s, change", "59% slower"]]

    failed = scripts.lua_table(scripts.Script(Outcome("Lua", FAILED, "exit 1: nginx", LUA), "benches/lua/run.sh"))
    assert failed.rows[0] == ["counter:inc(1)", "failed", "≤ 5 ns", "—"]
    assert failed.notes == ["`benches/lua/run.sh` failed: exit 1: nginx."]


MANY_CPU = """\
render of the 10,000-series mix (ms):
{"suite":"many_cpu","work":"render 10k mix","subject":"prometheus","value":21000000,"unit":"ns","params":{"series":10000}}
{"suite":"many_cpu","work":"render 10k mix","subject":"metricore","value":5000000,"unit":"ns","params":{"series":10000,"shards":8,"writers":8}}
{"suite":"many_cpu","work":"render 10k mix","subject":"metricore","value":8000000,"unit":"ns","params":{"series":10000,"shards":128,"writers":128}}
{"suite":"many_cpu","work":"file blocks after writing","subject":"metricore","value":9227468,"unit":"bytes","params":{"series":10000,"shards":128,"workers":8}}
{"suite":"many_cpu","work":"file blocks after a scrape","subject":"metricore","value":9227468,"unit":"bytes","params":{"series":10000,"shards":128,"workers":8}}
{"suite":"many_cpu","work":"scraper's resident file memory","subject":"metricore","value":20971520,"unit":"bytes","params":{"series":10000,"shards":128,"workers":8}}
"""


def test_many_cpu_tables():
    r = _rust_run()
    r.many_cpu = Outcome("many_cpu", OK, output=MANY_CPU)
    render, memory = rust.many_cpu_tables(r)
    assert render.rows[0] == ["8", "8", "5.00 ms", "21.0 ms", "4.2x", "≥ 3x faster than prometheus", "✅"]
    assert render.rows[1][4:] == ["2.6x", "≥ 3x faster than prometheus", "❌"]
    assert memory.rows[0] == ["file blocks after writing", "9227468", "8.8", "923", "≤ 16 MiB", "✅"]
    assert memory.rows[1][-2:] == ["unchanged by the scrape", "✅"]
    assert memory.rows[2][-1] == "❌"

    r.many_cpu = Outcome("many_cpu", FAILED, "exit 101: panicked", "")
    render, memory = rust.many_cpu_tables(r)
    assert render.rows == [["—", "—", "failed", "", "", "", "—"]]
    assert memory.rows[0][:2] == ["file blocks after writing", "failed"]
    assert memory.notes[-1] == "`many_cpu` failed: exit 101: panicked"


if __name__ == "__main__":
    for name, test in list(globals().items()):
        if name.startswith("test_"):
            test()
            print(f"{name}: ok")
