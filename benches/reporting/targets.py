"""The project's performance targets, each stated here, and how each is checked against one run's figures.

A target that is a ratio is checked against the figure it names from the same run (the
raw atomic, the 1-thread row, the peer), never against a figure written down elsewhere.
"""

from collections.abc import Callable
from dataclasses import dataclass

from .records import fmt_ns


class Figures:
    """One language's figures from this run: (row, column) -> value, where the rows are
    what was measured and the columns the libraries; `subject` is metricore's column."""

    def __init__(self, values: dict[tuple[str, str], float], subject: str):
        self.values = values
        self.subject = subject

    def get(self, row: str | None, column: str | None = None) -> float | None:
        return self.values.get((row, column or self.subject)) if row else None


@dataclass(frozen=True)
class Verdict:
    """The measured side of a target, and whether it is met (None: a figure is missing)."""

    measured: str
    met: bool | None


Check = Callable[[Figures, str], Verdict]


def _absent(what: str) -> Verdict:
    return Verdict(f"no figure for {what}", None)


def at_most(limit_ns: float) -> Check:
    """metricore's figure is at most `limit_ns`."""

    def check(f: Figures, row: str) -> Verdict:
        v = f.get(row)
        return _absent(f.subject) if v is None else Verdict(fmt_ns(v), v <= limit_ns)

    return check


def times_of(factor: float, what: str, column: str | None = None, row: str | None = None) -> Check:
    """metricore's figure is at most `factor` times another figure of this run: another
    column of the same row, or metricore's figure in row `row`."""

    def check(f: Figures, current: str) -> Verdict:
        v, ref = f.get(current), f.get(row or current, column)
        if v is None or ref is None:
            return _absent(f.subject if v is None else what)
        return Verdict(f"{v / ref:.2f}x {what} ({fmt_ns(ref)})", v <= factor * ref)

    return check


def _speed(peer_ns: float, ns: float, peer: str) -> str:
    if peer_ns >= ns:
        return f"{peer_ns / ns:.1f}x faster than {peer}"
    return f"{ns / peer_ns:.1f}x slower than {peer}"


def faster_by(factor: float, peer: str) -> Check:
    """`peer` takes at least `factor` times as long as metricore."""

    def check(f: Figures, row: str) -> Verdict:
        v, p = f.get(row), f.get(row, peer)
        if v is None or p is None:
            return _absent(f.subject if v is None else peer)
        return Verdict(_speed(p, v, peer), p >= factor * v)

    return check


def faster_than(*peers: str) -> Check:
    """metricore takes less time than each of `peers`."""

    def check(f: Figures, row: str) -> Verdict:
        v = f.get(row)
        found = {p: x for p in peers if (x := f.get(row, p)) is not None}
        if v is None or len(found) < len(peers):
            return _absent(f.subject if v is None else ", ".join(p for p in peers if p not in found))
        text = ", ".join(_speed(x, v, p) for p, x in found.items())
        return Verdict(text, all(x > v for x in found.values()))

    return check


def no_allocations(row: str) -> Check:
    """metricore's allocations per call in row `row` (of the same figures) are 0."""

    def check(f: Figures, _current: str) -> Verdict:
        n = f.get(row)
        return _absent("allocations") if n is None else Verdict(f"{n:g} allocations per call", n == 0)

    return check


def all_of(*checks: Check) -> Check:
    """Every one of `checks` is met."""

    def check(f: Figures, row: str) -> Verdict:
        verdicts = [c(f, row) for c in checks]
        mets = [v.met for v in verdicts]
        met = False if False in mets else None if None in mets else True
        return Verdict("; ".join(v.measured for v in verdicts), met)

    return check


@dataclass(frozen=True)
class Target:
    """One target: the row it applies to (the work as the bench names it), the target as
    the table states it, and its check."""

    row: str
    text: str
    check: Check


ALLOC_ROW = "allocations/3-label lookup + inc"

RUST = [
    Target("counter_inc/1_thread", "≤ 1.2x the raw atomic", times_of(1.2, "the raw atomic", column="raw atomic")),
    Target("counter_inc/2_threads", "≤ 1.5x the 1-thread figure",
           times_of(1.5, "the 1-thread figure", row="counter_inc/1_thread")),
    Target("counter_inc_f64/2_threads", "≥ 6x faster than prometheus", faster_by(6, "prometheus")),
    Target("histogram_observe/1_thread", "≤ 5 ns", at_most(5)),
    Target("histogram_observe/2_threads", "≤ 8 ns", at_most(8)),
    Target("lookup_inc/3_labels", "faster than prometheus and prometheus-client, 0 allocations",
           all_of(faster_than("prometheus", "prometheus-client"), no_allocations(ALLOC_ROW))),
    Target("lookup_inc/3_labels_64_bytes", "faster than prometheus and prometheus-client",
           faster_than("prometheus", "prometheus-client")),
    Target("lookup_inc/3_labels_100k_shuffled", "faster than prometheus and prometheus-client",
           faster_than("prometheus", "prometheus-client")),
    Target("lookup_inc/3_labels_2_threads", "≤ 1.5x the 1-thread figure",
           times_of(1.5, "the 1-thread figure", row="lookup_inc/3_labels")),
    Target("render/10k_series", "≥ 5x faster than prometheus", faster_by(5, "prometheus")),
]

PYTHON = [
    Target("c.inc()", "≤ 2x a builtin method call",
           times_of(2, "the builtin method call", row="builtin method call n.bit_length() (baseline)")),
    Target("c.labels(a, b, c).inc()", "≤ 150 ns", at_most(150)),
    Target("h.observe(v)", "≤ 45 ns", at_most(45)),
    Target("render 10k series (generate_latest)", "≤ 5 ms", at_most(5e6)),
]

LUA = [
    Target("counter:inc(1)", "≤ 5 ns", at_most(5)),
    Target("counter:inc(1, {3 labels}), same table", "≤ 12 ns", at_most(12)),
    # A fresh table that the JIT cannot sink is the honest case: the kept one.
    Target("counter:inc(1, {3 labels}), fresh table, kept", "≤ 40 ns", at_most(40)),
    Target("histogram:observe(v, {2 labels}), same table", "≤ 20 ns", at_most(20)),
    Target("render 10k series", "≤ 2 ms", at_most(2e6)),
]

# Memory per series: at most one 8-byte cell in each lane in use, plus the series' directory entry.
CELL_BYTES = 8

# An emulated many-CPU host (`many_cpu`): the render of the 10,000-series mix at every lane
# capacity at least this many times faster than the `prometheus` crate's, and 10,000
# histogram series written by 8 worker processes in at most this many MiB.
MANY_CPU_RENDER_FACTOR = 3
MANY_CPU_MEMORY_MIB = 16
