"""Markdown tables and the marks for met and unmet targets."""

from dataclasses import dataclass, field

MET, UNMET, UNKNOWN = "✅", "❌", "—"


def mark(met: bool | None) -> str:
    return UNKNOWN if met is None else MET if met else UNMET


@dataclass
class Table:
    """A titled table, with notes printed under it."""

    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def markdown(self, level: int = 2) -> str:
        out = [f"{'#' * level} {self.title}", ""]
        out.append(_line(self.columns))
        out.append("|" + "|".join("---" for _ in self.columns) + "|")
        out.extend(_line(row) for row in self.rows)
        if self.notes:
            out.append("")
            out.extend(f"- {n}" for n in self.notes)
        return "\n".join(out) + "\n"


def _line(cells: list[str]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |"
