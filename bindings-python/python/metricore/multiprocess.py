"""Compatibility with ``prometheus_client.multiprocess``.

A shared registry (``use_shared`` or ``METRICORE_REGISTRY``) already holds the totals of
every process, and gauges of exited processes are dropped by their mode, so these
calls have nothing to do; they exist so that code written for
``PROMETHEUS_MULTIPROC_DIR`` keeps running.
"""

from typing import Optional

from .registry import CollectorRegistry


class MultiProcessCollector:
    """Does nothing: the shared registry aggregates processes by itself."""

    def __init__(self, registry: Optional[CollectorRegistry], path: Optional[str] = None):
        self.registry = registry

    def collect(self) -> list:
        """No families of its own."""
        return []


def mark_process_dead(pid: int, path: Optional[str] = None) -> None:
    """Does nothing: exited processes are detected from the process table."""
