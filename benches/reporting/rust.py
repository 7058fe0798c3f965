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
    ("counter", "counter_inc_exemplar/1_thread", "counter inc with an exemplar (trace id), 1 thread"),
    ("histogram", "histogram_observe/1_thread", "histogram observe, 1 thread"),
    ("histogram", "histogram_observe/2_threads", "histogram observe, 2 threads"),
    ("histogram", "histogram_observe_exemplar/1_thread", "histogram observe with an exemplar (trace id), 1 thread"),
    ("labels", "lookup_inc/3_labels", "3-label lookup + inc (existing series among 1,000)"),
    ("labels", "lookup_inc/3_labels_64_bytes", "3-label lookup + inc, 64-byte values"),
    ("labels", "lookup_inc/3_labels_100k_shuffled", "3-label lookup + inc, 100,000 series in shuffled order"),
    ("labels", "lookup_inc/3_labels_2_threads", "3-label lookup + inc, 2 threads on one series"),
    ("labels", "create_series/3_labels", "new 3-label series"),
    ("render", "render/1k_series", "render 1k series"),
    ("render", "render/10k_series", "render 10k series"),
    ("render", "render/100k_series", "render 100k series"),
    ("native", "native_observe/classic", "classic histogram observe (default buckets), 1 thread"),
    ("native", "native_observe/native", "native histogram observe (schema 3), 1 thread"),
    ("native", "native_observe/native_and_classic", "native + classic histogram observe, 1 thread"),
    ("native", "native_render/1k_series_protobuf", "render 1k native-histogram series, protobuf"),
    ("native", "native_render/1k_series_text", "render 1k native-histogram series, text"),
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
    many_cpu: Outcome = field(default_factory=lambda: Outcome("many_cpu", "not run"))
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
    many_cpu = runner.run("many_cpu", [*bin_args, "many_cpu"], BIN_TIMEOUT)
    steps += [alloc, memory, many_cpu]

    values = {(r.work, _FLOORS.get(r.subject, r.subject)): r.value for r in records.criterion(criterion_home)}
    for (op, library), n in records.values(records.read(alloc.output)).items():
        values[(f"allocations/{op}", library)] = n
    notes: dict[tuple[str, str], str] = {}
    for outcome in [*benches.values(), alloc, memory]:
        notes.update(records.notes(records.read(outcome.output)))
    return RustRun(targets.Figures(values, "metricore"), notes, benches, broken, alloc, memory, many_cpu, steps)


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
    target = "Target: ≤ 8 bytes x lanes in use + directory entry, per series."
    cells = next((x for x in out if x.work == "cells" and x.value is not None), None)
    entry = m.get(("series record and label key", "metricore"))
    if cells is None or entry is None:
        t.notes.append(f"{target} No breakdown in the output.")
        return t
    lanes = int(cells.params["lanes"])
    limit = targets.CELL_BYTES * lanes
    t.notes.append(
        f"{target} With {lanes} lanes in use, metricore's cells take {cells.value:.1f} bytes per series "
        f"(limit {limit}), and its directory entry {entry:.1f} bytes of series record and label key plus an "
        f"8-byte slot in the preallocated directory: {mark(cells.value <= limit)}."
    )
    return t


MANY_CPU_WORK = "render 10k mix"
MEMORY_WORKS = ["file blocks after writing", "file blocks after a scrape", "scraper's resident file memory"]


def many_cpu_tables(r: RustRun) -> list[Table]:
    """The emulated many-CPU host, from `many_cpu`: render of the 10,000-series mix at each
    lane capacity beside the `prometheus` crate, and the memory of 10,000 histogram series
    written by 8 worker processes."""
    out = records.read(r.many_cpu.output)
    render = Table("Many-CPU host, emulated (Rust): render of the 10,000-series mix",
                   ["lanes (CPUs emulated)", "writer threads", "metricore", "prometheus", "prometheus / metricore",
                    "target", "met"])
    mix = [x for x in out if x.work == MANY_CPU_WORK]
    peer = next((x for x in mix if x.subject == "prometheus"), None)
    for x in (x for x in mix if x.subject == "metricore" and x.value is not None):
        p = peer.value if peer else None
        ratio = p / x.value if p else None
        render.rows.append([f"{x.params['shards']:g}", f"{x.params['writers']:g}", records.fmt_ns(x.value),
                            records.fmt_ns(p) if p else (peer.note if peer else "no result"),
                            f"{ratio:.1f}x" if ratio else "—", f"≥ {targets.MANY_CPU_RENDER_FACTOR:g}x faster than prometheus",
                            mark(None if ratio is None else ratio >= targets.MANY_CPU_RENDER_FACTOR)])
    if not mix:
        render.rows.append(["—", "—", r.many_cpu.status, "", "", "", "—"])
    render.notes += [
        "5,000 counters with 3 labels and 5,000 histograms with 2 labels and 10 buckets, each recorded once, in a "
        "shared file on /dev/shm; the lane capacity (`Options::shards`) is that of a host with that many CPUs. "
        "Writer threads stay until all have written, so each holds a lane: 8 (a gateway's workers) and as many as "
        "there are lanes (every lane written). Median of 15 renders; the `prometheus` crate renders the same "
        "series in the same run.",
    ]
    memory = Table("Many-CPU host, emulated (Rust): 10,000 histogram series written by 8 worker processes, 128 lanes",
                   ["measure", "bytes", "MiB", "bytes per series", "target", "met"])
    m = {x.work: x.value for x in out if x.subject == "metricore" and x.value is not None}
    written, scraped = m.get(MEMORY_WORKS[0]), m.get(MEMORY_WORKS[1])
    checks = {
        MEMORY_WORKS[0]: (f"≤ {targets.MANY_CPU_MEMORY_MIB} MiB",
                          None if written is None else written <= targets.MANY_CPU_MEMORY_MIB * 2**20),
        MEMORY_WORKS[1]: ("unchanged by the scrape", None if None in (written, scraped) else scraped == written),
        MEMORY_WORKS[2]: (f"≤ {targets.MANY_CPU_MEMORY_MIB} MiB",
                          None if m.get(MEMORY_WORKS[2]) is None
                          else m[MEMORY_WORKS[2]] <= targets.MANY_CPU_MEMORY_MIB * 2**20),
    }
    for work in MEMORY_WORKS:
        v = m.get(work)
        target, met = checks[work]
        if v is None:
            memory.rows.append([work, r.many_cpu.status if not r.many_cpu.ok else "no result", "", "", target, "—"])
        else:
            memory.rows.append([work, f"{v:.0f}", f"{v / 2**20:.1f}", f"{v / 10_000:.0f}", target, mark(met)])
    memory.notes.append("Each worker is single-threaded and records every series once (10 buckets); the file is on "
                        "/dev/shm, so its allocated blocks are memory. The scrape is a read-only registry's render; "
                        "its resident file memory is the growth of its `RssShmem`.")
    if not r.many_cpu.ok:
        memory.notes.append(f"`many_cpu` {r.many_cpu.status}: {r.many_cpu.reason}")
    return [render, memory]
