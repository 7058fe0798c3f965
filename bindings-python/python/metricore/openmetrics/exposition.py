"""OpenMetrics 1.0.0 exposition of a registry."""

from .. import _metricore
from ..registry import REGISTRY, CollectorRegistry

CONTENT_TYPE_LATEST = _metricore._negotiate("application/openmetrics-text")[1]
"""Content type of what :func:`generate_latest` returns."""

ALLOWUTF8 = "allow-utf-8"
"""Escaping scheme: names as they are."""
UNDERSCORES = "underscores"
"""Escaping scheme: each character outside the legacy names' as ``_``."""
DOTS = "dots"
"""Escaping scheme: ``.`` as ``_dot_``, ``_`` as ``__``, others as ``_``."""
VALUES = "values"
"""Escaping scheme: ``U__`` then each character outside the legacy names' by its code."""


def escape_metric_name(s: str, escaping: str = UNDERSCORES) -> str:
    """The metric name ``s`` as the scheme ``escaping`` writes it (quoted, with
    ``allow-utf-8``, when outside the legacy character set); as it is for an unknown
    scheme."""
    escaped = _metricore._escape_name(s, False, escaping)
    return s if escaped is None else escaped


def escape_label_name(s: str, escaping: str = UNDERSCORES) -> str:
    """The label name ``s`` as the scheme ``escaping`` writes it (see
    :func:`escape_metric_name`)."""
    escaped = _metricore._escape_name(s, True, escaping)
    return s if escaped is None else escaped


def generate_latest(registry: CollectorRegistry = REGISTRY, escaping: str = UNDERSCORES, version: str = "1.0.0") -> bytes:
    """The registry's metrics in OpenMetrics 1.0.0, ``# EOF`` last, names outside the
    legacy set written as the scheme ``escaping`` says (``ValueError`` for an unknown
    one)."""
    return registry._render(True, escaping=escaping)
