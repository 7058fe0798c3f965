"""What the benches measured, as records: the JSON lines they print, and criterion's own
estimates; and how figures are written in the tables.

Every bench prints one JSON object a line per measurement (benches/src/record.rs):

    {"suite": "c", "work": "counter inc, 2 threads", "subject": "libmetricore.so",
     "value": 2.83, "unit": "ns", "params": {"threads": 2}}

`suite` is the bench, `work` what was measured (a row of its table), `subject` the
library or setup that did it (a column), `value` the figure in `unit` (time is in ns),
`params` what else describes the measurement, and `note` why `value` is null, or where a
figure not measured here comes from. Lines that are not JSON objects are for people.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Record:
    suite: str
    work: str
    subject: str
    value: float | None
    unit: str
    params: dict[str, float | str] = field(default_factory=dict)
    note: str = ""


def read(text: str) -> list[Record]:
    """The records among the lines of `text`; a line that starts like one and is not one
    is an error in the bench that printed it."""
    out = []
    for line in text.splitlines():
        if line.startswith("{"):
            try:
                out.append(Record(**json.loads(line)))
            except (ValueError, TypeError) as e:
                raise ValueError(f"not a record ({e}): {line}") from None
    return out


def criterion(home: Path, suite: str = "rust") -> list[Record]:
    """Criterion's median of each benchmark under `CRITERION_HOME`, in ns: the group is the
    work, the function the subject."""
    out = []
    for bench in sorted(home.glob("**/new/benchmark.json")):
        meta = json.loads(bench.read_text())
        median = json.loads((bench.parent / "estimates.json").read_text())["median"]["point_estimate"]
        out.append(Record(suite, meta["group_id"], meta["function_id"], median, "ns"))
    return out


def values(records: list[Record]) -> dict[tuple[str, str], float]:
    """(work, subject) -> value, for the records with one."""
    return {(r.work, r.subject): r.value for r in records if r.value is not None}


def notes(records: list[Record]) -> dict[tuple[str, str], str]:
    """(work, subject) -> why there is no value, for the records without one."""
    return {(r.work, r.subject): r.note for r in records if r.value is None}


def fmt(value: float, unit: str) -> str:
    """A figure for a table: a duration in a unit that suits it, or a plain number."""
    if unit == "ns":
        return fmt_ns(value)
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}"


def fmt_ns(ns: float) -> str:
    """A duration with three significant digits in a unit that suits it."""
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{_sig(ns / scale)} {unit}"
    return f"{_sig(ns)} ns"


def _sig(v: float) -> str:
    return f"{v:.0f}" if v >= 100 else f"{v:.1f}" if v >= 10 else f"{v:.2f}"
