"""The other languages' bench scripts (C, Python, Lua, HTTP): running them, and one
table each from the records they print."""

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import records, targets
from .markdown import Table, mark
from .steps import FAILED, MISSING, Outcome, Runner, missing

SCRIPT_TIMEOUT = 600
# The Lua bench's entry point: the first of these in benches/lua/ that exists.
LUA_ENTRIES = ["run.sh", "bench.sh", "run", "bench"]

# The C bench's works, and the criterion group of the same work in Rust.
C_ROWS = {
    "counter inc, 1 thread": "counter_inc/1_thread",
    "counter inc, 2 threads": "counter_inc/2_threads",
    "histogram observe, 1 thread": "histogram_observe/1_thread",
    "histogram observe, 2 threads": "histogram_observe/2_threads",
    "3-label lookup + inc, 1 thread": "lookup_inc/3_labels",
}
C_SUBJECT = "libmetricore.so"
PYTHON_SUBJECT = "metricore (in-process)"
PYTHON_RATIOS = (("pc / mc", "prometheus_client", PYTHON_SUBJECT),
                 ("pc-mp / mc-shared", "prometheus_client (multiproc dir)", "metricore (shared file)"))
LUA_PEER = "nginx-lua-prometheus"
HTTP_SUBJECT = "metricore serve"
HTTP_WORK = ["`metricore serve` under wrk on /metrics"]


@dataclass
class Script:
    """A bench script's outcome, and the command that ran it."""

    outcome: Outcome
    command: str


def _run(runner: Runner, name: str, path: Path, args: list[str]) -> Script:
    rel = path.relative_to(runner.root)
    command = " ".join([str(rel), *args])
    if not path.exists():
        return Script(missing(name, f"{rel} does not exist"), command)
    launcher = [str(path)] if os.access(path, os.X_OK) else ["bash", str(path)]
    return Script(runner.run(name, [*launcher, *args], SCRIPT_TIMEOUT), command)


def run_c(runner: Runner) -> Script:
    return _run(runner, "C API bench", runner.root / "ffi-c" / "bench.sh", [])


def run_python(runner: Runner) -> tuple[Script, Outcome | None]:
    """Builds the extension into .venv, then runs the Python bench in its quick mode."""
    bench = runner.root / "benches" / "python_bench.py"
    command = "benches/python_bench.py --quick"
    if not bench.exists():
        return Script(missing("Python bench", "benches/python_bench.py does not exist"), command), None
    build = runner.run("Python extension build", [str(runner.root / "bindings-python" / "build.sh")], SCRIPT_TIMEOUT)
    if not build.ok:
        why = Outcome("Python bench", FAILED, f"bindings-python/build.sh failed: {build.reason}")
        return Script(why, command), build
    python = str(runner.root / ".venv" / "bin" / "python")
    return Script(runner.run("Python bench", [python, str(bench), "--quick"], SCRIPT_TIMEOUT), command), build


def run_lua(runner: Runner) -> Script:
    here = runner.root / "benches" / "lua"
    if not here.is_dir():
        return Script(missing("Lua bench", "benches/lua/ does not exist"), "benches/lua/")
    entry = next((here / e for e in LUA_ENTRIES if (here / e).is_file()), here / LUA_ENTRIES[0])
    return _run(runner, "Lua bench", entry, [])


def run_http(runner: Runner) -> Script:
    return _run(runner, "HTTP load", runner.root / "benches" / "serve_load.sh", [])


Extra = tuple[str, Callable[[str], str]]


def table(title: str, s: Script, subject: str, goals: list[targets.Target], expected: list[str],
          ratios: tuple[tuple[str, str, str], ...] = (), extra: tuple[Extra, ...] = ()) -> Table:
    """The script's records: a row per work and a column per subject, in the order printed;
    then each of `ratios` (header, subject over subject), the `extra` columns, and the row's
    target, checked against the figures of `subject`. Every target gets a row: one the
    script did not print says so. A script that is missing or failed gets its expected
    rows, marked with why."""
    printed = records.read(s.outcome.output) if s.outcome.ok else []
    if not printed:
        return _absent(title, s, goals, expected)
    works = list(dict.fromkeys(r.work for r in printed))
    subjects = list(dict.fromkeys(r.subject for r in printed))
    cells = {(r.work, r.subject): r for r in printed}
    figures = targets.Figures(records.values(printed), subject)
    goals_by_row = {g.row: g for g in goals}
    t = Table(title, ["work", *subjects, *(name for name, _, _ in ratios), *(name for name, _ in extra),
                      "target", "measured against the target", "met"])
    for work in works:
        row = [work] + [_cell(cells.get((work, c))) for c in subjects]
        for _, over, under in ratios:
            x, v = figures.get(work, over), figures.get(work, under)
            row.append(f"{x / v:.1f}x" if x and v else "—")
        row += [f(work) for _, f in extra]
        if goal := goals_by_row.get(work):
            verdict = goal.check(figures, work)
            row += [goal.text, verdict.measured, mark(verdict.met)]
        else:
            row += ["—" if goals else "none", "—", "—"]
        t.rows.append(row)
    blank = len(subjects) + len(ratios) + len(extra)
    for g in goals:
        if g.row not in works:
            t.rows.append([g.row, *(["not printed"] * blank), g.text, "no figure in the output", mark(None)])
    t.notes.append(f"From `{s.command}`.")
    # Where figures not measured in this run come from.
    t.notes += [f"{who}: {note}" for who, note in dict.fromkeys(
        (r.subject, r.note) for r in printed if r.note and r.value is not None)]
    return t


def _cell(r: records.Record | None) -> str:
    if r is None:
        return "—"
    return r.note if r.value is None else records.fmt(r.value, r.unit)


def _absent(title: str, s: Script, goals: list[targets.Target], expected: list[str]) -> Table:
    status = s.outcome.status if not s.outcome.ok else FAILED
    reason = s.outcome.reason or "no records in its output"
    t = Table(title, ["work", "metricore", "target", "met"])
    for g in goals:
        t.rows.append([g.row, status, g.text, mark(None)])
    for work in expected:
        t.rows.append([work, status, "none", mark(None)])
    verb = "is missing" if status == MISSING else "failed"
    t.notes.append(f"`{s.command}` {verb}: {reason}.")
    return t


def c_table(s: Script, rust: targets.Figures) -> Table:
    """The C API's figures beside metricore's Rust figures for the same work."""
    c = records.values(records.read(s.outcome.output))

    def same_in_rust(work: str) -> str:
        v = rust.get(C_ROWS.get(work))
        return records.fmt_ns(v) if v is not None else "—"

    def c_over_rust(work: str) -> str:
        c_ns, v = c.get((work, C_SUBJECT)), rust.get(C_ROWS.get(work))
        return f"{c_ns / v:.2f}x" if c_ns is not None and v else "—"

    t = table("C", s, C_SUBJECT, [], list(C_ROWS),
              extra=(("Rust, this run", same_in_rust), ("C / Rust", c_over_rust)))
    t.notes.append(f"The Rust column is metricore's criterion median for the same work, and C / Rust "
                   f"compares {C_SUBJECT} with it; the C bench observes values spread over all "
                   "buckets, and looks up its series in a family of one.")
    return t


def python_table(s: Script) -> Table:
    return table("Python", s, PYTHON_SUBJECT, targets.PYTHON, [], ratios=PYTHON_RATIOS)


def lua_table(s: Script) -> Table:
    return table("Lua", s, "metricore", targets.LUA, [], ratios=((f"{LUA_PEER} / metricore", LUA_PEER, "metricore"),))


def http_table(s: Script) -> Table:
    """`metricore serve` under wrk, with two recorders beside it, and how much the load
    slowed the recorders down."""
    t = table("HTTP", s, HTTP_SUBJECT, [], HTTP_WORK)
    figures = records.values(records.read(s.outcome.output))
    rows = []
    for row in t.rows:
        rows.append(row)
        if row[0].endswith(", under wrk"):
            what = row[0].removesuffix(", under wrk")
            alone, loaded = figures.get((f"{what}, alone", HTTP_SUBJECT)), figures.get((row[0], HTTP_SUBJECT))
            if alone and loaded is not None:
                d = 100 * (1 - loaded / alone)
                change = f"{d:.0f}% slower" if d >= 0 else f"{-d:.0f}% faster"
                rows.append([f"{what}, change", change, *row[2:]])
    t.rows = rows
    return t
