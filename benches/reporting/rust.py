"""The Rust side: the criterion benches in quick mode, `alloc_check` and `memory`, and
their tables."""

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from . import records, targets
from .markdown import Table, mark
from .steps import Outcome, Runner

PEERS = ["prometheus", "prometheus-client", "metrics", "measured"]
LIBRARIES = ["metricore", *PEERS]
FLOOR, FLOOR_PER_THREAD = "raw atomic", "raw atomic, per thread"
# The harness's names for its floor rows, and the column each goes in.
_FLOORS = {"atomic": FLOOR, "atomic (shared)": FLOOR, "atomic (per thread)": FLOOR_PER_THREAD}

# Bench target, criterion group, and the work as the tables name it.
GROUPS = [
    ("counter", "counter_inc/1_thread", "counter inc, 1 thread"),
    ("counter", "counter_inc/2_threads", "counter inc, 2 threads on one counter"),
    ("counter", "counter_inc_f64/2_threads", "f64 counter inc, 2 threads"),
    ("histogram", "histogram_observe/1_thread", "histogram observe, 1 thread"),
    ("histogram", "histogram_observe/2_threads", "histogram observe, 2 threads"),
    ("labels", "lookup_inc/3_labels", "3-label lookup + inc (existing series among 1,000)"),
    ("labels", "lookup_inc/3_labels_64_bytes", "3-label lookup + inc, 64-byte values"),
    ("labels", "lookup_inc/3_labels_100k_shuffled", "3-label lookup + inc, 100,000 series in shuffled order"),
    ("labels", "lookup_inc/3_labels_2_threads", "3-label lookup + inc, 2 threads on one series"),
    ("labels", "create_series/3_labels", "new 3-label series"),
    ("render", "render/1k_series", "render 1k series"),
    ("render", "render/10k_series", "render 10k series"),
    ("render", "render/100k_series", "render 100k series"),
]
BENCHES = list(dict.fromkeys(bench for bench, _, _ in GROUPS))
RENDER_SIZES = [(1_000, "render/1k_series"), (10_000, "render/10k_series"), (100_000, "render/100k_series")]

# Quick mode: criterion's own flags, which override the harness's defaults.
QUICK = ["--warm-up-time", "0.3", "--measurement-time", "1", "--sample-size", "10", "--noplot"]
CARGO = ["cargo", "bench", "-p", "metricore-benches"]
BUILD_TIMEOUT, BENCH_TIMEOUT, BIN_TIMEOUT = 900, 420, 300
# The works of `memory`, in the order of the table's columns, and the digits shown.
_MEMORY_COLUMNS = [("heap", 1), ("mapped", 1), ("total", 1), ("allocations", 2)]


@dataclass
class RustRun:
    """Everything the Rust steps measured, and how each step ended."""

    figures: targets.Figures  # criterion's medians, and allocations as `allocations/<operation>`
    notes: dict[tuple[str, str], str]  # (work, library) -> why there is no figure
    benches: dict[str, Outcome]
    broken: dict[str, str]
    alloc: Outcome
    memory: Outcome
    steps: list[Outcome] = field(default_factory=list)


def run(runner: Runner, criterion_home: Path) -> RustRun:
    """Builds the benches (leaving out peers that do not build) and runs them all."""
    steps: list[Outcome] = []
    features, broken = _features(runner, steps)
    shutil.rmtree(criterion_home, ignore_errors=True)
    benches = {}
    for bench in BENCHES:
        args = [*CARGO, "--bench", bench, *features, "--", *QUICK]
        benches[bench] = runner.run(f"criterion {bench}", args, BENCH_TIMEOUT, {"CRITERION_HOME": str(criterion_home)})
    steps.extend(benches.values())
    bin_args = ["cargo", "run", "-p", "metricore-benches", "--profile", "bench", *features, "--bin"]
    alloc = runner.run("alloc_check", [*bin_args, "alloc_check"], BIN_TIMEOUT)
    memory = runner.run("memory", [*bin_args, "memory"], BIN_TIMEOUT)
    steps += [alloc, memory]

    values = {(r.work, _FLOORS.get(r.subject, r.subject)): r.value for r in records.criterion(criterion_home)}
    for (op, library), n in records.values(records.read(alloc.output)).items():
        values[(f"allocations/{op}", library)] = n
    notes: dict[tuple[str, str], str] = {}
    for outcome in [*benches.values(), alloc, memory]:
        notes.update(records.notes(records.read(outcome.output)))
    return RustRun(targets.Figures(values, "metricore"), notes, benches, broken, alloc, memory, steps)


def _features(runner: Runner, steps: list[Outcome]) -> tuple[list[str], dict[str, str]]:
    """Cargo feature flags for the peers that build, and why each other peer does not."""
    everything = runner.run("build benches", [*CARGO, "--no-run"], BUILD_TIMEOUT)
    steps.append(everything)
    if everything.ok:
        return [], {}
    built, broken = [], {}
    for peer in PEERS:
        alone = runner.run(f"build benches with {peer} only",
                           [*CARGO, "--no-run", "--no-default-features", "--features", peer], BUILD_TIMEOUT)
        steps.append(alone)
        if alone.ok:
            built.append(peer)
        else:
            broken[peer] = alone.reason
    return ["--no-default-features", *(["--features", ",".join(built)] if built else [])], broken


def _why(r: RustRun, work: str, library: str, outcome: Outcome) -> str:
    """Why `library` has no figure for `work` in the output of `outcome`."""
    if note := r.notes.get((work, library)):
        return note
    if library in r.broken:
        return "missing (does not build here)"
    return outcome.status if not outcome.ok else "no result"


def _cell(r: RustRun, bench: str, group: str, column: str) -> str:
    v = r.figures.get(group, column)
    if v is not None:
        return records.fmt_ns(v)
    if column in (FLOOR, FLOOR_PER_THREAD) and r.benches[bench].ok:
        return "—"
    return _why(r, group, column, r.benches[bench])


def table(r: RustRun) -> Table:
    """One row per criterion group: every library's median, the ratio, the target."""
    columns = ["work", "metricore", FLOOR, FLOOR_PER_THREAD, *PEERS, "prometheus / metricore",
               "target", "measured against the target", "met"]
    t = Table("Rust", columns)
    for bench, group, work in GROUPS:
        row = [work] + [_cell(r, bench, group, c) for c in ["metricore", FLOOR, FLOOR_PER_THREAD, *PEERS]]
        v, p = r.figures.get(group), r.figures.get(group, "prometheus")
        row.append(f"{p / v:.1f}x" if v and p else "—")
        target = next((x for x in targets.RUST if x.row == group), None)
        if target:
            verdict = target.check(r.figures, group)
            row += [target.text, verdict.measured, mark(verdict.met)]
        else:
            row += ["—", "—", "—"]
        t.rows.append(row)
    t.notes += [
        "Medians of criterion's samples (quick mode: 0.3 s warm-up, 1 s measurement, 10 samples), "
        "read from its `estimates.json`.",
        "Two-thread rows: time per operation per thread (the slower thread), both threads on one "
        "counter or histogram. The raw atomic floor is a relaxed `fetch_add` on one shared "
        "`AtomicU64`; per thread, one atomic each.",
        "The ratio is prometheus' time over metricore's: above 1, metricore is faster.",
    ]
    for bench, outcome in r.benches.items():
        if not outcome.ok:
            t.notes.append(f"`cargo bench --bench {bench}` {outcome.status}: {outcome.reason}")
    for peer, reason in r.broken.items():
        t.notes.append(f"{peer} is missing: it does not build here ({reason}).")
    return t


def alloc_table(r: RustRun) -> Table:
    """Allocations per call on the hit path, from `alloc_check`."""
    t = Table("Allocations on the hit path (Rust, counted by a global allocator)",
              ["operation", *LIBRARIES, "target", "met"])
    counts = records.values(records.read(r.alloc.output))
    if not counts:
        t.rows.append(["all", *([r.alloc.status] * len(LIBRARIES)), "0", "—"])
        t.notes.append(f"`alloc_check` {r.alloc.status}: {r.alloc.reason or 'no figures in its output'}")
        return t
    for op in dict.fromkeys(op for op, _ in counts):
        cells = []
        for lib in LIBRARIES:
            n = counts.get((op, lib))
            cells.append(f"{n:g}" if n is not None else _why(r, op, lib, r.alloc))
        mine = counts.get((op, "metricore"))
        t.rows.append([op, *cells, "0", mark(None if mine is None else mine == 0)])
    t.notes.append("Allocations per call, over 10,000 calls after a first call that may make the series. "
                   "The target: recording allocates nothing.")
    return t


def memory_table(r: RustRun) -> Table:
    """Bytes per counter series, from `memory`."""
    t = Table("Memory per counter series (Rust, 10,000 series with 3 labels)",
              ["library", "heap bytes", "mapped bytes", "total bytes", "allocations"])
    out = records.read(r.memory.output)
    m = records.values(out)
    for lib in LIBRARIES:
        if ("heap", lib) in m:
            figures = [(m.get((work, lib)), digits) for work, digits in _MEMORY_COLUMNS]
            t.rows.append([lib, *("—" if v is None else f"{v:.{digits}f}" for v, digits in figures)])
        else:
            t.rows.append([lib, _why(r, "heap", lib, r.memory), "", "", ""])
    if not r.memory.ok:
        t.notes.append(f"`memory` {r.memory.status}: {r.memory.reason}")
    target = "Target: ≤ 8 bytes x shards + directory entry, per series."
    cells = next((x for x in out if x.work == "cells" and x.value is not None), None)
    entry = m.get(("series record and label key", "metricore"))
    if cells is None or entry is None:
        t.notes.append(f"{target} No breakdown in the output.")
        return t
    shards = int(cells.params["shards"])
    limit = targets.CELL_BYTES * shards
    t.notes.append(
        f"{target} With {shards} shards, metricore's cells take {cells.value:.1f} bytes per series "
        f"(limit {limit}), and its directory entry {entry:.1f} bytes of series record and label key plus an "
        f"8-byte slot in the preallocated directory: {mark(cells.value <= limit)}."
    )
    return t
