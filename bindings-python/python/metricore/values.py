"""``prometheus_client.values`` on metricore: ``ValueClass`` says where a metric made
with ``registry=None`` records.

With :class:`MutexValue` (the default without ``PROMETHEUS_MULTIPROC_DIR``) such a
metric records into memory of its own, rendered where it is registered later. With a
:class:`MultiProcessValue` (the default with it) it records into the registry file in
``PROMETHEUS_MULTIPROC_DIR`` (:func:`metricore.multiprocess.registry_file`), which every
process shares and :class:`~metricore.multiprocess.MultiProcessCollector` renders.
Metrics made with a registry record into that registry either way (the default one is
in that file when the variable is set at import).
"""

import os
from typing import Callable, Optional, Union


class MutexValue:
    """The value class of metrics that record in this process's memory."""


class MultiProcessValue:
    """The value class of metrics that record into the registry file in
    ``PROMETHEUS_MULTIPROC_DIR``. metricore tells the processes sharing a file apart
    by their OS pid and start time, so ``process_identifier`` is not consulted."""

    def __init__(self, process_identifier: Callable[[], object] = os.getpid):
        self.process_identifier = process_identifier


ValueClass: Union[type, MultiProcessValue] = MutexValue
"""The value class of the metrics made from now on (assignable)."""


def get_value_class() -> Union[type, MultiProcessValue]:
    """:class:`MultiProcessValue` when ``PROMETHEUS_MULTIPROC_DIR`` (or, deprecated, the
    lowercase ``prometheus_multiproc_dir``) is set, else :class:`MutexValue`."""
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ and "prometheus_multiproc_dir" in os.environ:
        import warnings

        warnings.warn(
            "prometheus_multiproc_dir variable has been deprecated in favor of the upper case naming "
            "PROMETHEUS_MULTIPROC_DIR",
            DeprecationWarning,
        )
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = os.environ["prometheus_multiproc_dir"]
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        return MultiProcessValue()
    return MutexValue


def close_all_multiprocess_files() -> None:
    """Forgets the registry files opened for metrics made with ``registry=None`` (those
    metrics keep theirs open while they live); the next one opens its file again."""
    from . import _metricore

    _metricore._close_shared_files()


def _shared_file() -> Optional[str]:
    """The registry file a metric made with ``registry=None`` now records into, or
    ``None`` for memory of its own."""
    if not isinstance(ValueClass, MultiProcessValue):
        return None
    from .multiprocess import registry_file

    return registry_file()


ValueClass = get_value_class()
