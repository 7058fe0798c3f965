"""The other languages' bench scripts (C, Python, Lua, HTTP): running them, and one
table each from the figures they print."""

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import parse, targets
from .markdown import Table, mark
from .steps import FAILED, MISSING, Outcome, Runner, missing

SCRIPT_TIMEOUT = 600
# The Lua bench's entry point: the first of these in benches/lua/ that exists.
LUA_ENTRIES = ["run.sh", "bench.sh", "run", "bench"]

# C API rows, and the criterion group of the same work in Rust.
C_ROWS = [
    (r"^counter inc, 1 thread", "counter_inc/1_thread"),
    (r"^counter inc, 2 threads", "counter_inc/2_threads"),
    (r"^histogram observe, 1 thread", "histogram_observe/1_thread"),
    (r"^histogram observe, 2 threads", "histogram_observe/2_threads"),
    (r"^3-label lookup \+ inc", "lookup_inc/3_labels"),
]
C_WORK = ["counter inc, 1 thread", "counter inc, 2 threads", "histogram observe, 1 thread",
          "histogram observe, 2 threads", "3-label lookup + inc, 1 thread"]
HTTP_WORK = ["`metricore serve` under wrk on /metrics"]


@dataclass
class Script:
    """A bench script's outcome, the command that ran it, and the column its bare
    `label: figure` lines go in."""

    outcome: Outcome
    command: str
    column: str


def _run(runner: Runner, name: str, path: Path, args: list[str], column: str) -> Script:
    rel = path.relative_to(runner.root)
    command = " ".join([str(rel), *args])
    if not path.exists():
        return Script(missing(name, f"{rel} does not exist"), command, column)
    launcher = [str(path)] if os.access(path, os.X_OK) else ["bash", str(path)]
    return Script(runner.run(name, [*launcher, *args], SCRIPT_TIMEOUT), command, column)


def run_c(runner: Runner) -> Script:
    return _run(runner, "C API bench", runner.root / "ffi-c" / "bench.sh", [], "C API")


def run_python(runner: Runner) -> tuple[Script, Outcome | None]:
    """Builds the extension into .venv, then runs the Python bench in its quick mode."""
    bench = runner.root / "benches" / "python_bench.py"
    command = "benches/python_bench.py --quick"
    if not bench.exists():
        return Script(missing("Python bench", "benches/python_bench.py does not exist"), command, "metricore"), None
    build = runner.run("Python extension build", [str(runner.root / "bindings-python" / "build.sh")], SCRIPT_TIMEOUT)
    if not build.ok:
        why = Outcome("Python bench", FAILED, f"bindings-python/build.sh failed: {build.reason}")
        return Script(why, command, "metricore"), build
    python = str(runner.root / ".venv" / "bin" / "python")
    return Script(runner.run("Python bench", [python, str(bench), "--quick"], SCRIPT_TIMEOUT), command, "metricore"), build


def run_lua(runner: Runner) -> Script:
    here = runner.root / "benches" / "lua"
    if not here.is_dir():
        return Script(missing("Lua bench", "benches/lua/ does not exist"), "benches/lua/", "metricore")
    entry = next((here / e for e in LUA_ENTRIES if (here / e).is_file()), here / LUA_ENTRIES[0])
    return _run(runner, "Lua bench", entry, [], "metricore")


def run_http(runner: Runner) -> Script:
    return _run(runner, "HTTP load", runner.root / "benches" / "serve_load.sh", [], "metricore serve")


Extra = tuple[str, Callable[[str], str]]


def table(title: str, s: Script, goals: list[targets.Target], expected: list[str],
          unit: str | None = "ns", extra: tuple[Extra, ...] = (), read=parse.printed) -> Table:
    """The script's rows, each with its DESIGN.md section 6 target where it has one.
    Every target gets a row: one the script did not print says so. A script that is
    missing or failed gets its expected rows, marked with why. `read` reads the output."""
    p = read(s.outcome.output, s.column) if s.outcome.ok else parse.Printed([], [])
    if not p.rows:
        return _absent(title, s, goals, expected)
    subject = next((c for c in p.columns if "metricore" in c), p.columns[0])
    values = {}
    for label, cells in p.rows:
        for column, raw in cells.items():
            if (ns := parse.nanoseconds(raw, unit)) is not None:
                values[(label, column)] = ns
    figures = targets.Figures(values, subject)
    # Ratios of each peer to metricore, unless the script prints its own.
    peers = [] if any("/" in c for c in p.columns) else [
        c for c in p.columns if "metricore" not in c and any((label, c) in values for label, _ in p.rows)]
    t = Table(title, ["work", *p.columns, *(name for name, _ in extra), *(f"{c} / {subject}" for c in peers),
                      "target (DESIGN.md §6)", "measured against the target", "met"])
    used = set()
    for label, cells in p.rows:
        row = [label]
        row += [parse.fmt_ns(values[(label, c)]) if (label, c) in values else cells.get(c, "—") for c in p.columns]
        row += [f(label) for _, f in extra]
        for c in peers:
            v, x = figures.get(label), figures.get(label, c)
            row.append(f"{x / v:.1f}x" if v and x else "—")
        goal = next((g for g in goals if g.row not in used and re.search(g.row, label)), None)
        if goal:
            used.add(goal.row)
            verdict = goal.check(figures, label)
            row += [goal.text, verdict.measured, mark(verdict.met)]
        else:
            row += ["none in §6" if not goals else "—", "—", "—"]
        t.rows.append(row)
    blank = len(p.columns) + len(extra) + len(peers)
    for g in goals:
        if g.row not in used:
            t.rows.append([g.work, *(["not printed"] * blank), g.text, "no figure in the output", mark(None)])
    t.notes.append(f"From `{s.command}`.")
    # The script's own footnotes, such as where a peer's figures come from.
    t.notes += [line.strip() for line in s.outcome.output.splitlines() if line.strip().startswith("(*)")]
    return t


def _absent(title: str, s: Script, goals: list[targets.Target], expected: list[str]) -> Table:
    status = s.outcome.status if not s.outcome.ok else FAILED
    reason = s.outcome.reason or "no figures in its output"
    t = Table(title, ["work", "metricore", "target (DESIGN.md §6)", "met"])
    for g in goals:
        t.rows.append([g.work, status, g.text, mark(None)])
    for work in expected:
        t.rows.append([work, status, "none in §6", mark(None)])
    verb = "is missing" if status == MISSING else "failed"
    t.notes.append(f"`{s.command}` {verb}: {reason}.")
    return t


def c_table(s: Script, rust: targets.Figures) -> Table:
    """The C API's figures beside metricore's Rust figures for the same work."""

    def group(label: str) -> str | None:
        return next((g for pattern, g in C_ROWS if re.search(pattern, label)), None)

    def same_in_rust(label: str) -> str:
        v = rust.get(group(label))
        return parse.fmt_ns(v) if v is not None else "—"

    def c_over_rust(label: str) -> str:
        c_ns = parse.nanoseconds(_first_figure(s, label))
        v = rust.get(group(label))
        return f"{c_ns / v:.2f}x" if c_ns is not None and v else "—"

    t = table("C", s, [], C_WORK, extra=(("Rust, this run", same_in_rust), ("C / Rust", c_over_rust)))
    t.notes.append("The Rust column is metricore's criterion median for the same work, and C / Rust "
                   "compares the first column with it; the C bench observes values spread over all "
                   "buckets, and looks up its series in a family of one.")
    return t


def _first_figure(s: Script, label: str) -> str:
    p = parse.printed(s.outcome.output, s.column)
    cells = dict(p.rows).get(label, {})
    return cells.get(p.columns[0], "") if p.columns else ""


def http_table(s: Script) -> Table:
    """`metricore serve` under wrk, with two recorders beside it."""
    return table("HTTP", s, [], HTTP_WORK, unit=None, read=parse.serve_load)
