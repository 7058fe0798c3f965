"""The report's plots: multi-thread scaling, and render time against series count."""

import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)
from matplotlib.ticker import FuncFormatter  # noqa: E402

from .rust import FLOOR, FLOOR_PER_THREAD, LIBRARIES, RENDER_SIZES  # noqa: E402
from .targets import Figures  # noqa: E402

# (title, 1-thread group, 2-thread group)
SCALING = [
    ("counter inc", "counter_inc/1_thread", "counter_inc/2_threads"),
    ("histogram observe", "histogram_observe/1_thread", "histogram_observe/2_threads"),
]


def _plain(v: float, _pos: int) -> str:
    """Ticks of the log axes as plain numbers (0.5, 20, 300), only at 1, 2 and 5."""
    if v <= 0:
        return ""
    return f"{v:g}" if round(v / 10 ** math.floor(math.log10(v)), 6) in (1, 2, 5) else ""


_PLAIN = FuncFormatter(_plain)
_STYLE: dict[str, Any] = dict(marker="o", linewidth=1.5)
_FLOOR_STYLES: dict[str, dict[str, Any]] = {
    FLOOR: dict(marker=".", linewidth=1, linestyle="--", color="grey"),
    FLOOR_PER_THREAD: dict(marker=".", linewidth=1, linestyle=":", color="black"),
}


def scaling(f: Figures, out: Path) -> bool:
    """ns per op per thread at 1 and 2 threads, one line per library; False if no figures."""
    fig, axes = plt.subplots(1, len(SCALING), figsize=(9, 3.6), sharey=True)
    drawn = False
    for ax, (title, one, two) in zip(axes, SCALING):
        for lib in LIBRARIES:
            drawn |= _line(ax, f.get(one, lib), f.get(two, lib), lib, _STYLE)
        for column, style in _FLOOR_STYLES.items():
            _line(ax, f.get(one, FLOOR), f.get(two, column), column, style)
        ax.set_title(title)
        ax.set_xticks([1, 2])
        ax.set_xlabel("threads")
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(_PLAIN)
        ax.yaxis.set_minor_formatter(_PLAIN)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("ns per op per thread")
    if drawn:
        axes[-1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1))
    return _save(fig, out, drawn)


def render(f: Figures, out: Path) -> bool:
    """Render time against series count, log-log, one line per library."""
    fig, ax = plt.subplots(figsize=(6, 3.8))
    drawn = False
    for lib in LIBRARIES:
        points = [(n, f.get(group, lib)) for n, group in RENDER_SIZES]
        points = [(n, ns / 1e6) for n, ns in points if ns is not None]
        if points:
            ax.plot(*zip(*points), label=lib, **_STYLE)
            drawn = True
    ax.set_xscale("log")
    ax.set_xticks([n for n, _ in RENDER_SIZES], [f"{n // 1000}k" for n, _ in RENDER_SIZES])
    ax.xaxis.set_minor_formatter(FuncFormatter(lambda *_: ""))
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(_PLAIN)
    ax.yaxis.set_minor_formatter(_PLAIN)
    ax.set_xlabel("series")
    ax.set_ylabel("ms per render")
    ax.set_title("Prometheus text render")
    ax.grid(True, which="both", alpha=0.3)
    if drawn:
        ax.legend(fontsize=7)
    return _save(fig, out, drawn)


def _line(ax, one: float | None, two: float | None, label: str, style: dict[str, Any]) -> bool:
    if one is None or two is None:
        return False
    ax.plot([1, 2], [one, two], label=label, **style)
    return True


def _save(fig, out: Path, drawn: bool) -> bool:
    if drawn:
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.tight_layout()
        fig.savefig(out, dpi=90, metadata={"Software": None})
    plt.close(fig)
    return drawn
