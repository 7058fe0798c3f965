"""The Python garbage collector's statistics, as ``prometheus_client.gc_collector``
reports them (``python_gc_*``, one series per generation)."""

import gc
import platform
from typing import List, Optional

from .metrics_core import CounterMetricFamily, Metric
from .registry import REGISTRY, Collector, CollectorRegistry


class GCCollector(Collector):
    """Reports ``gc.get_stats()`` at each collection (CPython only; elsewhere it
    registers nothing)."""

    def __init__(self, registry: Optional[CollectorRegistry] = REGISTRY):
        if registry is not None and hasattr(gc, "get_stats") and platform.python_implementation() == "CPython":
            registry.register(self)

    def collect(self) -> List[Metric]:
        """Objects collected, uncollectable objects found, and collections, by generation."""
        families = [
            CounterMetricFamily("python_gc_objects_collected", "Objects collected during gc", labels=["generation"]),
            CounterMetricFamily(
                "python_gc_objects_uncollectable", "Uncollectable objects found during GC", labels=["generation"]
            ),
            CounterMetricFamily(
                "python_gc_collections", "Number of times this generation was collected", labels=["generation"]
            ),
        ]
        for generation, stats in enumerate(gc.get_stats()):
            for family, key in zip(families, ("collected", "uncollectable", "collections")):
                family.add_metric([str(generation)], stats[key])
        return families


GC_COLLECTOR = GCCollector()
"""The garbage collector's statistics in the default registry."""
