"""The metric classes, as ``prometheus_client.metrics`` has them."""

from abc import ABC

from ._metricore import Counter, Enum, Gauge, Histogram, Info, Summary


class MetricWrapperBase(ABC):
    """What every metric class is an instance of (``isinstance`` and annotations)."""


for _cls in (Counter, Enum, Gauge, Histogram, Info, Summary):
    MetricWrapperBase.register(_cls)

__all__ = ["Counter", "Enum", "Gauge", "Histogram", "Info", "MetricWrapperBase", "Summary"]
