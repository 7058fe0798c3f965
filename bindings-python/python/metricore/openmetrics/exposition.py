"""OpenMetrics 1.0.0 exposition of a registry."""

from .. import _metricore
from ..registry import REGISTRY, CollectorRegistry

CONTENT_TYPE_LATEST = _metricore._negotiate("application/openmetrics-text")[1]
"""Content type of what :func:`generate_latest` returns."""


def generate_latest(registry: CollectorRegistry = REGISTRY) -> bytes:
    """The registry's metrics in OpenMetrics 1.0.0, ``# EOF`` last."""
    return registry._render(True)
