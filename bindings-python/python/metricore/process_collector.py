"""This process's metrics, as ``prometheus_client.process_collector`` has them."""

from .registry import PROCESS_COLLECTOR, ProcessCollector

__all__ = ["PROCESS_COLLECTOR", "ProcessCollector"]
