"""Reads OpenMetrics 1.0.0 text back into metric families, by the core's parser."""

from typing import Iterator, TextIO

from .. import _metricore
from ..metrics_core import Metric


def text_string_to_metric_families(text: str) -> Iterator[Metric]:
    """Yields the metric families of OpenMetrics ``text``, in order, up to ``# EOF``;
    ``ValueError`` names a line that cannot be read."""
    yield from _metricore._parse(text, True)


def text_fd_to_metric_families(fd: TextIO) -> Iterator[Metric]:
    """As :func:`text_string_to_metric_families`, for the text a file holds."""
    yield from _metricore._parse(fd.read(), True)


__all__ = ["text_fd_to_metric_families", "text_string_to_metric_families"]
