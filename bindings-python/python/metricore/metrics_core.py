"""Metric families for custom collectors, as ``collect()`` yields them.

The shapes follow ``prometheus_client.metrics_core``: a :class:`Metric` has a
``name``, ``documentation``, ``type``, ``unit`` and a list of :class:`Sample`. The
registry renders them by the core's rules, next to its own metrics.
"""

from typing import Dict, List, Optional, Sequence, Tuple, Union

from .samples import Exemplar, Sample, Timestamp

METRIC_TYPES = (
    "counter",
    "gauge",
    "summary",
    "histogram",
    "gaugehistogram",
    "unknown",
    "info",
    "stateset",
)


class Metric:
    """A metric family: what a custom collector's ``collect()`` yields (type
    ``untyped`` is ``unknown``)."""

    def __init__(self, name: str, documentation: str, typ: str, unit: str = ""):
        if unit and not name.endswith("_" + unit):
            name = name + "_" + unit
        if typ == "untyped":
            typ = "unknown"
        if typ not in METRIC_TYPES:
            raise ValueError(f"metric {name!r}: invalid type {typ!r}; expected one of {METRIC_TYPES}")
        self.name = name
        self.documentation = documentation
        self.unit = unit
        self.type = typ
        self.samples: List[Sample] = []

    def add_sample(
        self,
        name: str,
        labels: Dict[str, str],
        value: float,
        timestamp: Optional[Union[float, Timestamp]] = None,
        exemplar: Optional[Exemplar] = None,
        native_histogram: Optional[object] = None,
    ) -> None:
        """Appends a sample."""
        self.samples.append(Sample(name, labels, value, timestamp, exemplar, native_histogram))

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Metric)
            and (self.name, self.documentation, self.type, self.unit, self.samples)
            == (other.name, other.documentation, other.type, other.unit, other.samples)
        )

    def __repr__(self) -> str:
        return (
            f"Metric({self.name!r}, {self.documentation!r}, {self.type!r}, "
            f"{self.unit!r}, {self.samples!r})"
        )


def _labels(names: Sequence[str], values: Sequence[str], metric: str) -> Dict[str, str]:
    if len(names) != len(values):
        raise ValueError(
            f"metric {metric!r} has label names {list(names)}, got {len(values)} values"
        )
    return dict(zip(names, (str(v) for v in values)))


class _Family(Metric):
    """A family with fixed label names and an optional first, label-less value."""

    def __init__(self, name, documentation, typ, labels, unit):
        super().__init__(name, documentation, typ, unit)
        self._labelnames = tuple(labels or ())


class UnknownMetricFamily(_Family):
    """A family of untyped samples."""

    def __init__(self, name, documentation, value=None, labels=None, unit=""):
        if labels is not None and value is not None:
            raise ValueError("give either a value or label names, not both")
        super().__init__(name, documentation, "unknown", labels, unit)
        if value is not None:
            self.add_metric([], value)

    def add_metric(self, labels, value, timestamp=None):
        """Adds the sample for these label values."""
        self.add_sample(self.name, _labels(self._labelnames, labels, self.name), value, timestamp)


UntypedMetricFamily = UnknownMetricFamily


class CounterMetricFamily(_Family):
    """A counter family; the name may end with ``_total``."""

    def __init__(self, name, documentation, value=None, labels=None, created=None, unit="", exemplar=None):
        if name.endswith("_total"):
            name = name[: -len("_total")]
        if labels is not None and value is not None:
            raise ValueError("give either a value or label names, not both")
        super().__init__(name, documentation, "counter", labels, unit)
        if value is not None:
            self.add_metric([], value, created, exemplar=exemplar)

    def add_metric(self, labels, value, created=None, timestamp=None, exemplar=None):
        """Adds the counter for these label values (and its creation time, and an
        exemplar)."""
        lv = _labels(self._labelnames, labels, self.name)
        self.add_sample(self.name + "_total", lv, value, timestamp, exemplar)
        if created is not None:
            self.add_sample(self.name + "_created", lv, created, timestamp)


class GaugeMetricFamily(_Family):
    """A gauge family."""

    def __init__(self, name, documentation, value=None, labels=None, unit=""):
        if labels is not None and value is not None:
            raise ValueError("give either a value or label names, not both")
        super().__init__(name, documentation, "gauge", labels, unit)
        if value is not None:
            self.add_metric([], value)

    def add_metric(self, labels, value, timestamp=None):
        """Adds the gauge for these label values."""
        self.add_sample(self.name, _labels(self._labelnames, labels, self.name), value, timestamp)


class SummaryMetricFamily(_Family):
    """A summary family: count and sum per label set."""

    def __init__(self, name, documentation, count_value=None, sum_value=None, labels=None, unit=""):
        if (count_value is None) != (sum_value is None):
            raise ValueError("count_value and sum_value must be given together")
        if labels is not None and count_value is not None:
            raise ValueError("give either a value or label names, not both")
        super().__init__(name, documentation, "summary", labels, unit)
        if count_value is not None:
            self.add_metric([], count_value, sum_value)

    def add_metric(self, labels, count_value, sum_value, timestamp=None):
        """Adds count and sum for these label values."""
        lv = _labels(self._labelnames, labels, self.name)
        self.add_sample(self.name + "_count", lv, count_value, timestamp)
        self.add_sample(self.name + "_sum", dict(lv), sum_value, timestamp)


class HistogramMetricFamily(_Family):
    """A histogram family: cumulative ``(le, count)`` buckets, ``+Inf`` last, and a sum."""

    def __init__(self, name, documentation, buckets=None, sum_value=None, labels=None, unit=""):
        if sum_value is not None and buckets is None:
            raise ValueError("sum_value needs buckets")
        if labels is not None and buckets is not None:
            raise ValueError("give either buckets or label names, not both")
        super().__init__(name, documentation, "histogram", labels, unit)
        if buckets is not None:
            self.add_metric([], buckets, sum_value)

    def add_metric(self, labels, buckets: Sequence[Tuple[str, float]], sum_value, timestamp=None):
        """Adds the buckets (``(le, count)``, or ``(le, count, exemplar)``), count and
        sum for these label values."""
        lv = _labels(self._labelnames, labels, self.name)
        for bucket in buckets:
            le, value = bucket[0], bucket[1]
            exemplar = bucket[2] if len(bucket) > 2 else None
            self.add_sample(self.name + "_bucket", dict(lv, le=le), value, timestamp, exemplar)
        self.add_sample(self.name + "_count", dict(lv), buckets[-1][1], timestamp)
        if sum_value is not None:
            self.add_sample(self.name + "_sum", dict(lv), sum_value, timestamp)


class GaugeHistogramMetricFamily(_Family):
    """A gauge histogram family: current ``(le, count)`` buckets, ``+Inf`` last, and
    the sum of the values now in them."""

    def __init__(self, name, documentation, buckets=None, gsum_value=None, labels=None, unit=""):
        if labels is not None and buckets is not None:
            raise ValueError("give either buckets or label names, not both")
        super().__init__(name, documentation, "gaugehistogram", labels, unit)
        if buckets is not None:
            self.add_metric([], buckets, gsum_value)

    def add_metric(self, labels, buckets: Sequence[Tuple[str, float]], gsum_value, timestamp=None):
        """Adds the buckets, count and sum for these label values."""
        lv = _labels(self._labelnames, labels, self.name)
        for le, value in buckets:
            self.add_sample(self.name + "_bucket", dict(lv, le=le), value, timestamp)
        self.add_sample(self.name + "_gcount", dict(lv), buckets[-1][1], timestamp)
        self.add_sample(self.name + "_gsum", dict(lv), gsum_value, timestamp)


class InfoMetricFamily(_Family):
    """An info family: label sets with the value 1."""

    def __init__(self, name, documentation, value=None, labels=None):
        if labels is not None and value is not None:
            raise ValueError("give either a value or label names, not both")
        super().__init__(name, documentation, "info", labels, "")
        if value is not None:
            self.add_metric([], value)

    def add_metric(self, labels, value: Dict[str, str], timestamp=None):
        """Adds the info ``value`` (a dict of labels) for these label values."""
        lv = _labels(self._labelnames, labels, self.name)
        self.add_sample(self.name + "_info", dict(lv, **value), 1, timestamp)


class StateSetMetricFamily(_Family):
    """A state set family: each state is 1 when set, 0 otherwise."""

    def __init__(self, name, documentation, value=None, labels=None):
        if labels is not None and value is not None:
            raise ValueError("give either a value or label names, not both")
        super().__init__(name, documentation, "stateset", labels, "")
        if value is not None:
            self.add_metric([], value)

    def add_metric(self, labels, value: Dict[str, bool], timestamp=None):
        """Adds the states (a dict of state name to bool) for these label values."""
        lv = _labels(self._labelnames, labels, self.name)
        for state, on in value.items():
            self.add_sample(self.name, dict(lv, **{self.name: state}), 1 if on else 0, timestamp)
