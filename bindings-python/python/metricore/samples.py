"""The sample types of metric families, as ``prometheus_client.samples`` has them."""

from typing import Dict, NamedTuple, Optional, Union


class Timestamp(NamedTuple):
    """A sample time: seconds and nanoseconds since the Unix epoch (ordered by time)."""

    sec: int
    nsec: int

    def __str__(self) -> str:
        return f"{self.sec}.{self.nsec:09d}"

    def __float__(self) -> float:
        return float(self.sec) + float(self.nsec) / 1e9


class Exemplar(NamedTuple):
    """An exemplar: labels, value and optional time of one observation."""

    labels: Dict[str, str]
    value: float
    timestamp: Optional[Union[float, Timestamp]] = None


class Sample(NamedTuple):
    """One sample of a family: full name, labels, value and optional extras."""

    name: str
    labels: Dict[str, str]
    value: float
    timestamp: Optional[Union[float, Timestamp]] = None
    exemplar: Optional[Exemplar] = None
    native_histogram: Optional[object] = None


__all__ = ["Exemplar", "Sample", "Timestamp"]
