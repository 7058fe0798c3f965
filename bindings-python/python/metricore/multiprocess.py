"""``prometheus_client.multiprocess`` on a shared registry file.

With ``PROMETHEUS_MULTIPROC_DIR`` set when metricore is imported, the default registry
lives in the file ``metricore.registry`` of that directory, which every worker process
records into. :class:`MultiProcessCollector` renders that file with another registry
(the setup prometheus_client documents for gunicorn and uvicorn workers): counters,
histograms and summaries hold the totals of every process, and gauges are combined by
their ``multiprocess_mode``.
"""

import os
from typing import Iterable, Iterator, List, Optional

from ._metricore import _merge_files
from .metrics_core import Metric
from .registry import CollectorRegistry, use_shared

FILE_NAME = "metricore.registry"
"""The name of the registry file in ``PROMETHEUS_MULTIPROC_DIR``."""


def registry_file(path: Optional[str] = None) -> str:
    """The registry file in directory ``path`` (``PROMETHEUS_MULTIPROC_DIR`` unless
    given); ``ValueError`` when that is not a directory."""
    path = path or os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not path or not os.path.isdir(path):
        raise ValueError("env PROMETHEUS_MULTIPROC_DIR is not set or not a directory")
    return os.path.join(path, FILE_NAME)


class MultiProcessCollector:
    """The metrics of every process sharing the registry file in directory ``path``
    (``PROMETHEUS_MULTIPROC_DIR`` unless given), rendered with ``registry`` from now on
    (when given). The file is created if no process made it yet."""

    def __init__(self, registry: Optional[CollectorRegistry], path: Optional[str] = None):
        file = registry_file(path)
        self._source = CollectorRegistry()
        self._source._set_merged()
        use_shared(file, registry=self._source)
        # A registry in that very file renders it already.
        if registry is not None and registry.shared_path != file:
            registry._attach(self._source, True)

    def collect(self) -> Iterator[Metric]:
        """The file's families, with the samples of every process."""
        return self._source.collect()

    @staticmethod
    def merge(files: Iterable[str], accumulate: bool = True) -> List[Metric]:
        """The families in ``prometheus_client``'s per-process files ``files``
        (``counter_PID.db``, ``gauge_MODE_PID.db``, ...: what a service that used
        ``prometheus_client``'s multiprocess mode left in its directory), merged as
        ``prometheus_client`` merges them: histogram buckets made cumulative, with a
        ``_count``, unless ``accumulate`` is false. A missing file of a ``live*`` gauge
        is skipped; another missing file raises ``FileNotFoundError``."""
        return _merge_files([os.fspath(f) for f in files], accumulate)


def mark_process_dead(pid: int, path: Optional[str] = None) -> None:
    """Nothing to do: the registry file's process table tells live processes from
    exited ones (by pid and start time), and the ``live*`` gauge modes leave out the
    exited ones by themselves, once the process is gone (reaped)."""
