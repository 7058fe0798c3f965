"""OpenMetrics 1.0.0 exposition of a registry."""

from ..registry import REGISTRY, CollectorRegistry

CONTENT_TYPE_LATEST = "application/openmetrics-text; version=1.0.0; charset=utf-8"
"""Content type of what :func:`generate_latest` returns."""


def generate_latest(registry: CollectorRegistry = REGISTRY) -> bytes:
    """The registry's metrics in OpenMetrics 1.0.0, ``# EOF`` last."""
    return registry._render(True)
