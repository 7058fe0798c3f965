"""Reads Prometheus text 0.0.4 back into metric families, by the core's parser, as
``prometheus_client.parser`` does: counters named without ``_total`` and their samples
with it, timestamps in seconds."""

from typing import Iterator, TextIO

from . import _metricore
from .metrics_core import Metric


def text_string_to_metric_families(text: str) -> Iterator[Metric]:
    """Yields the metric families of exposition ``text``, in order; ``ValueError``
    names a line that cannot be read."""
    yield from _metricore._parse(text, False)


def text_fd_to_metric_families(fd: TextIO) -> Iterator[Metric]:
    """As :func:`text_string_to_metric_families`, for the text a file holds."""
    yield from _metricore._parse(fd.read(), False)
