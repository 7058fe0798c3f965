"""Name validation switches, as ``prometheus_client.validation`` has them.

Metric and label names may be any UTF-8 text (Prometheus 3), by default or after
:func:`disable_legacy_validation`; after :func:`enable_legacy_validation` (or with
``PROMETHEUS_LEGACY_NAME_VALIDATION`` set to ``true``, ``1`` or ``t`` at import),
metrics made from then on must have legacy names (``[a-zA-Z_:][a-zA-Z0-9_:]*`` for
metrics, ``[a-zA-Z_][a-zA-Z0-9_]*`` for labels)."""

import os

from . import _metricore

_legacy = os.environ.get("PROMETHEUS_LEGACY_NAME_VALIDATION", "False").lower() in ("true", "1", "t")
_metricore._set_legacy_validation(_legacy)


def enable_legacy_validation() -> None:
    """Metrics made from now on must have legacy names."""
    global _legacy
    _legacy = True
    _metricore._set_legacy_validation(True)


def disable_legacy_validation() -> None:
    """Metrics made from now on may have any UTF-8 names."""
    global _legacy
    _legacy = False
    _metricore._set_legacy_validation(False)


def get_legacy_validation() -> bool:
    """Whether legacy names are required."""
    return _legacy
