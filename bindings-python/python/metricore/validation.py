"""Name validation switches, as ``prometheus_client.validation`` has them.

metricore accepts the legacy names only (``[a-zA-Z_:][a-zA-Z0-9_:]*`` for metrics,
``[a-zA-Z_][a-zA-Z0-9_]*`` for labels), whichever is chosen here: the switches are
kept so that code setting them runs, and the choice is reported back."""

_legacy = True


def enable_legacy_validation() -> None:
    """Chooses legacy names: what metricore always checks."""
    global _legacy
    _legacy = True


def disable_legacy_validation() -> None:
    """Chooses UTF-8 names; metricore still refuses names outside the legacy ones."""
    global _legacy
    _legacy = False


def get_legacy_validation() -> bool:
    """Whether legacy names were chosen (the last of the two calls; ``True`` before)."""
    return _legacy
