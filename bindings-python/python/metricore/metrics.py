"""The metric classes, as ``prometheus_client.metrics`` has them."""

from ._metricore import Counter, Enum, Gauge, Histogram, Info, Summary

__all__ = ["Counter", "Enum", "Gauge", "Histogram", "Info", "Summary"]
