"""Reads Prometheus text 0.0.4 and OpenMetrics 1.0.0 exposition back into metric
families (what ``CollectorRegistry.collect()`` returns)."""

from typing import Dict, Iterator, List, Optional, Tuple

from .metrics_core import Metric

# Sample-name suffixes that belong to a family of each type.
_SUFFIXES = {
    "counter": ("_total", "_created"),
    "summary": ("_count", "_sum", "_created", ""),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "gaugehistogram": ("_bucket", "_gcount", "_gsum"),
    "info": ("_info",),
}

_ESCAPES = {"\\": "\\", "n": "\n", '"': '"'}


def _unescape(text: str) -> str:
    if "\\" not in text:
        return text
    out = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            out.append(_ESCAPES.get(nxt, "\\" + nxt))
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _parse_labels(text: str, at: int) -> Tuple[Dict[str, str], int]:
    """Parses ``name="value",...}`` from ``text[at:]``; returns the labels and the
    index after ``}``."""
    labels: Dict[str, str] = {}
    i = at
    while True:
        while text[i] in " ,":
            i += 1
        if text[i] == "}":
            return labels, i + 1
        eq = text.index("=", i)
        name = text[i:eq].strip()
        if text[eq + 1] != '"':
            raise ValueError(f"invalid label value in {text!r}")
        j = eq + 2
        chunk = []
        while text[j] != '"':
            if text[j] == "\\":
                chunk.append(text[j : j + 2])
                j += 2
            else:
                chunk.append(text[j])
                j += 1
        labels[name] = _unescape("".join(chunk))
        i = j + 1


def _parse_sample(line: str) -> Tuple[str, Dict[str, str], float, Optional[float]]:
    brace = line.find("{")
    space = line.find(" ")
    if brace != -1 and (space == -1 or brace < space):
        name = line[:brace]
        labels, end = _parse_labels(line, brace + 1)
        rest = line[end:].split()
    else:
        name = line[:space]
        labels = {}
        rest = line[space:].split()
    if not rest:
        raise ValueError(f"sample without a value: {line!r}")
    timestamp = float(rest[1]) if len(rest) > 1 and rest[1] != "#" else None
    return name, labels, float(rest[0]), timestamp


def _family_of(sample: str, family: Metric) -> bool:
    if sample == family.name:
        return family.type not in ("counter", "histogram", "info", "gaugehistogram")
    suffixes = _SUFFIXES.get(family.type, ())
    return any(s and sample == family.name + s for s in suffixes)


def text_string_to_metric_families(text: str) -> Iterator[Metric]:
    """Yields the metric families of exposition ``text``, in order. Counter families
    are named without ``_total``, as in OpenMetrics."""
    family: Optional[Metric] = None
    pending: Dict[str, str] = {}
    units: Dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) < 3 or parts[1] not in ("HELP", "TYPE", "UNIT"):
                continue
            kind, name = parts[1], parts[2]
            value = parts[3] if len(parts) > 3 else ""
            if kind == "HELP":
                pending[name] = _unescape(value)
            elif kind == "UNIT":
                units[name] = value
                if family is not None and family.name == name:
                    family.unit = value
            else:
                if family is not None:
                    yield family
                typ = {"untyped": "unknown"}.get(value, value)
                base = name
                if typ == "counter" and base.endswith("_total"):
                    base = base[: -len("_total")]
                family = Metric(base, pending.pop(name, ""), typ)
                family.unit = units.get(name, "")
            continue
        name, labels, value, timestamp = _parse_sample(line)
        if family is None or not _family_of(name, family):
            if family is not None:
                yield family
            family = Metric(name, pending.pop(name, ""), "unknown")
        family.add_sample(name, labels, value, timestamp)
    if family is not None:
        yield family


