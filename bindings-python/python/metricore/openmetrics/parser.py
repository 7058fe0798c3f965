"""Reads OpenMetrics text back into metric families."""

from ..parser import text_string_to_metric_families

__all__ = ["text_string_to_metric_families"]
