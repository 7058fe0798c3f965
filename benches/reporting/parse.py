"""Reading figures: criterion's JSON results, the bench binaries' and scripts' output."""

import json
import re
from dataclasses import dataclass
from pathlib import Path

_UNITS = {"ns": 1.0, "us": 1e3, "µs": 1e3, "μs": 1e3, "ms": 1e6, "s": 1e9}
_FIGURE = re.compile(r"^\s*([-+]?\d[\d,]*(?:\.\d+)?)\s*([A-Za-zµμ/%]*)\s*$")
# `counter inc, 1 thread:   12.34` or `Requests/sec:  1234.5`: a label, a colon, a figure.
_COLON_LINE = re.compile(r"^\s*([^|:\s][^|]*?):\s+([-+]?\d[\d,]*(?:\.\d+)?\s*[A-Za-zµμ/%]*)\s*$")
# wrk's latency distribution: `    99%    5.67ms`.
_PERCENTILE_LINE = re.compile(r"^\s*(\d+(?:\.\d+)?)%\s+(\d[\d.]*\s*[A-Za-zµμ]+)\s*$")
# A section heading such as `== linked against libmetricore.so`.
_SECTION_LINE = re.compile(r"^==+\s*(.+?)\s*=*\s*$")
# What the benchmark harness prints for a library without a row in a group.
_HARNESS_NOTE = re.compile(r"^(?P<group>\S+)/(?P<peer>[\w-]+): (?P<note>(missing|not applicable) \(.*\))$")


def nanoseconds(text: str, default_unit: str | None = "ns") -> float | None:
    """`12.3 ns`, `4.5 us`, `1.2 ms` (or a bare number in `default_unit`) in nanoseconds."""
    m = _FIGURE.match(text)
    if not m:
        return None
    unit = m.group(2) or default_unit
    if unit not in _UNITS:
        return None
    return float(m.group(1).replace(",", "")) * _UNITS[unit]


def fmt_ns(ns: float) -> str:
    """A duration with three significant digits in a unit that suits it."""
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{_sig(ns / scale)} {unit}"
    return f"{_sig(ns)} ns"


def _sig(v: float) -> str:
    return f"{v:.0f}" if v >= 100 else f"{v:.1f}" if v >= 10 else f"{v:.2f}"


def criterion_medians(home: Path) -> dict[tuple[str, str], float]:
    """Median point estimates in ns, keyed by (group, function), from `CRITERION_HOME`."""
    out = {}
    for bench in home.glob("**/new/benchmark.json"):
        meta = json.loads(bench.read_text())
        estimates = json.loads((bench.parent / "estimates.json").read_text())
        out[(meta["group_id"], meta["function_id"])] = estimates["median"]["point_estimate"]
    return out


def harness_notes(text: str) -> dict[tuple[str, str], str]:
    """The harness's lines for libraries missing from a group: (group, peer) -> note."""
    out = {}
    for line in text.splitlines():
        m = _HARNESS_NOTE.match(line.strip())
        if m:
            out[(m["group"], m["peer"])] = m["note"]
    return out


def alloc_counts(text: str) -> dict[tuple[str, str], float]:
    """`alloc_check`'s allocations per call, keyed by (operation, library)."""
    out = {}
    for line in text.splitlines():
        cells = re.split(r"\s{2,}", line.strip())
        if line.startswith("  ") and len(cells) == 3 and _FIGURE.match(cells[2]):
            out[(cells[0], cells[1])] = float(cells[2])
    return out


@dataclass
class Memory:
    """`memory`'s figures: bytes per series by library, and metricore's own breakdown."""

    libraries: dict[str, dict[str, float]]
    shards: int | None = None
    cell_bytes: float | None = None
    entry_bytes: float | None = None


_MEMORY_COLUMNS = ("heap", "mapped", "total", "allocations")
_BREAKDOWN = re.compile(
    r"metricore with (\d+) shards: [\d.]+ cell per shard = ([\d.]+) bytes of cells, "
    r"and ([\d.]+) bytes of series record and label key"
)


def memory(text: str) -> Memory:
    """Parses the output of the `memory` binary."""
    libraries = {}
    for line in text.splitlines():
        cells = line.split()
        if line.startswith("  ") and len(cells) == 5 and all(_FIGURE.match(c) for c in cells[1:]):
            libraries[cells[0]] = dict(zip(_MEMORY_COLUMNS, map(float, cells[1:])))
    m = _BREAKDOWN.search(text)
    if not m:
        return Memory(libraries)
    return Memory(libraries, int(m[1]), float(m[2]), float(m[3]))


@dataclass
class Printed:
    """The figures a bench script printed: rows of (label, {column: text}), in order."""

    columns: list[str]
    rows: list[tuple[str, dict[str, str]]]


def printed(text: str, column: str) -> Printed:
    """Reads a script's figures. A table whose lines start with `|` is read by its header;
    otherwise each `label: figure` line (and each `99%  5.6ms` line of wrk) is a row, in a
    column named after the `== section` it follows, or `column` outside any section."""
    table = [line.strip() for line in text.splitlines() if line.strip().startswith("|")]
    if table:
        return _table(table)
    columns: list[str] = []
    rows: dict[str, dict[str, str]] = {}
    section = column
    for line in text.splitlines():
        if m := _SECTION_LINE.match(line):
            section = m[1]
            continue
        m = _COLON_LINE.match(line) or _PERCENTILE_LINE.match(line)
        if not m:
            continue
        label = m[1] if m.re is _COLON_LINE else f"latency p{m[1]}"
        rows.setdefault(label, {})[section] = m[2]
        if section not in columns:
            columns.append(section)
    return Printed(columns, list(rows.items()))


_WRK_SUMMARY = re.compile(r"^(wrk [^:]*): (\S+) requests/s, p99 (\S+), non-2xx responses: (\S+), socket errors: (.*)$")
_REGISTRY = re.compile(r"^registry: (\d+) series, (\d+) bytes per scrape")
_RECORDERS = re.compile(r"^recorders, (\S+)\s*: alone \S+ = (\d+); under wrk \S+ = (\d+) \((.*)\)$")


def serve_load(text: str, column: str) -> Printed:
    """`benches/serve_load.sh`'s summary: the load, the registry, and the recorders'
    rates alone and under the load. Falls back to reading wrk's own lines."""
    rows: list[tuple[str, str]] = []
    for line in text.splitlines():
        if m := _WRK_SUMMARY.match(line.strip()):
            rows += [(f"{m[1]}: requests/s", m[2]), ("p99 latency", m[3]), ("non-2xx responses", m[4]),
                     ("socket errors", m[5])]
        elif m := _REGISTRY.match(line.strip()):
            rows += [("registry series", m[1]), ("bytes per scrape", m[2])]
        elif m := _RECORDERS.match(line.strip()):
            rows += [(f"2 recorders, {m[1]}, alone", m[2]), (f"2 recorders, {m[1]}, under wrk", m[3]),
                     (f"2 recorders, {m[1]}, change", m[4])]
    if not rows:
        return printed(text, column)
    return Printed([column], [(label, {column: value}) for label, value in rows])


def aligned(text: str, column: str) -> Printed:
    """Reads a table whose columns are aligned with runs of two or more spaces, under a
    header line naming `column`; lines that do not split into as many cells are notes."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if column in line), None)
    if start is None:
        return printed(text, column)
    header = re.split(r"\s{2,}", lines[start].strip())
    rows = []
    for line in lines[start + 1:]:
        cells = re.split(r"\s{2,}", line.strip())
        if len(cells) == len(header):
            rows.append((cells[0], dict(zip(header[1:], cells[1:]))))
    return Printed(header[1:], rows)


def _table(lines: list[str]) -> Printed:
    def cells(line: str) -> list[str]:
        return [c.strip() for c in line.strip("|").split("|")]

    header = cells(lines[0])
    rows = []
    for line in lines[1:]:
        if re.fullmatch(r"[|\-:\s]+", line):
            continue
        row = cells(line)
        rows.append((row[0], dict(zip(header[1:], row[1:]))))
    return Printed(header[1:], rows)
