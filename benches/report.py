#!/usr/bin/env python3
"""Runs every benchmark in a quick mode and writes BENCHMARKS.md and benches/plots/.

Runs the criterion benches (metricore beside the peer crates), the `alloc_check` and
`memory` binaries, and the C, Python, Lua and HTTP bench scripts that exist; each one
that is missing or fails is reported as such in its table. The figures are the records
the benches print, one JSON object a line (see reporting/records.py), and criterion's
own estimates. Run through `benches/report`,
which prepares the project virtualenv.
"""

import os
import platform
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from reporting import plots, rust, scripts  # noqa: E402
from reporting.steps import Outcome, Runner  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "target" / "bench-report"
PLOTS = ROOT / "benches" / "plots"
BUDGET_SECONDS = 15 * 60


def machine(started: datetime, load_start: str) -> list[tuple[str, str]]:
    """What the run ran on."""
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "unknown")
    rustc = subprocess.run(["rustc", "--version"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    return [
        ("CPU", cpu),
        ("cores", str(os.cpu_count())),
        ("kernel", f"{platform.system()} {platform.release()}"),
        ("rustc", rustc or "unknown"),
        ("date", started.strftime("%Y-%m-%d %H:%M UTC")),
        ("load average (1 min) at start / end", f"{load_start} / {_load()}"),
    ]


def _load() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


def plot_section(name: str, drawn: bool, alt: str) -> str:
    path = PLOTS / f"{name}.png"
    if drawn:
        return f"![{alt}](benches/plots/{name}.png)\n"
    path.unlink(missing_ok=True)
    return f"No {alt} plot: no figures to draw.\n"


def steps_section(steps: list[Outcome], total: float) -> str:
    lines = ["## Steps of this run", "", "| step | status | seconds | reason |", "|---|---|---|---|"]
    for s in steps:
        lines.append(f"| {s.name} | {s.status} | {s.seconds:.0f} | {s.reason.replace('|', '/') or '—'} |")
    lines += ["", f"Total: {total / 60:.1f} minutes (budget {BUDGET_SECONDS // 60}). Each step's full output "
              "is in `target/bench-report/logs/`."]
    return "\n".join(lines) + "\n"


def main() -> int:
    start = time.monotonic()
    started = datetime.now(timezone.utc)
    load_start = _load()
    runner = Runner(ROOT, WORK / "logs", {"CARGO_TERM_COLOR": "never"})

    r = rust.run(runner, WORK / "criterion")
    c = scripts.run_c(runner)
    python, build = scripts.run_python(runner)
    lua = scripts.run_lua(runner)
    http = scripts.run_http(runner)
    steps = [*r.steps, c.outcome, *([build] if build else []), python.outcome, lua.outcome, http.outcome]

    scaling = plots.scaling(r.figures, PLOTS / "scaling.png")
    render = plots.render(r.figures, PLOTS / "render.png")
    total = time.monotonic() - start

    doc = [
        f"# Benchmarks (written by `benches/report` on {started:%Y-%m-%d})\n",
        "One run of `benches/report` in its quick mode: metricore and its peers measured side by side, "
        "in the same run on the same machine. Targets are the project's performance targets "
        "(benches/reporting/targets.py), stated in each table; a target that is a ratio is checked against the "
        "figure it names from this same run.\n",
        "## Machine\n\n| | |\n|---|---|\n" + "".join(f"| {k} | {v} |\n" for k, v in machine(started, load_start)),
        rust.table(r).markdown(),
        plot_section("scaling", scaling, "multi-thread scaling"),
        plot_section("render", render, "render time against series count"),
        rust.alloc_table(r).markdown(3),
        rust.memory_table(r).markdown(3),
        *(t.markdown(3) for t in rust.many_cpu_tables(r)),
        scripts.c_table(c, r.figures).markdown(),
        scripts.python_table(python).markdown(),
        scripts.lua_table(lua).markdown(),
        scripts.http_table(http).markdown(),
        steps_section(steps, total),
    ]
    (ROOT / "BENCHMARKS.md").write_text("\n".join(doc))
    print(f"wrote BENCHMARKS.md and {PLOTS.relative_to(ROOT)}/", file=sys.stderr)
    print(f"benches/report took {total / 60:.1f} minutes ({total:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
