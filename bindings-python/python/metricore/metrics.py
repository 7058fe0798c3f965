"""The metric classes, as ``prometheus_client.metrics`` has them."""

import os
from abc import ABC

from ._metricore import Counter, Enum, Gauge, Histogram, Info, Summary


class MetricWrapperBase(ABC):
    """What every metric class is an instance of (``isinstance`` and annotations)."""


def _get_use_created() -> bool:
    """Whether ``_created`` samples are on: unless the environment variable
    ``PROMETHEUS_DISABLE_CREATED_SERIES`` is ``true``, ``1`` or ``t``."""
    return os.environ.get("PROMETHEUS_DISABLE_CREATED_SERIES", "False").lower() not in ("true", "1", "t")


#: Whether renders carry the ``_created`` sample of counters, histograms and summaries
#: (read at every render).
_use_created = _get_use_created()


def disable_created_metrics() -> None:
    """Leaves the ``_created`` samples of counters, histograms and summaries out of
    every render."""
    global _use_created
    _use_created = False


def enable_created_metrics() -> None:
    """Renders the ``_created`` samples of counters, histograms and summaries (the
    default)."""
    global _use_created
    _use_created = True


for _cls in (Counter, Enum, Gauge, Histogram, Info, Summary):
    MetricWrapperBase.register(_cls)

__all__ = [
    "Counter",
    "Enum",
    "Gauge",
    "Histogram",
    "Info",
    "MetricWrapperBase",
    "Summary",
    "disable_created_metrics",
    "enable_created_metrics",
]
