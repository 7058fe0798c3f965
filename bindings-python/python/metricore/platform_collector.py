"""The Python platform as ``prometheus_client.platform_collector`` reports it: one
``python_info`` series naming the version and implementation (and the JVM on Jython)."""

import platform as _platform
from typing import Dict, List, Optional

from .metrics_core import GaugeMetricFamily, Metric
from .registry import REGISTRY, Collector, CollectorRegistry


class PlatformCollector(Collector):
    """Reports ``python_info`` of ``platform`` (the ``platform`` module unless given)."""

    def __init__(self, registry: Optional[CollectorRegistry] = REGISTRY, platform=None):
        self._platform = _platform if platform is None else platform
        info = self._info()
        if self._platform.system() == "Java":
            info.update(self._java())
        family = GaugeMetricFamily("python_info", "Python platform information", labels=list(info))
        family.add_metric(list(info.values()), 1)
        self._metrics = [family]
        if registry is not None:
            registry.register(self)

    def collect(self) -> List[Metric]:
        """The ``python_info`` family."""
        return self._metrics

    def _info(self) -> Dict[str, str]:
        major, minor, patchlevel = self._platform.python_version_tuple()
        return {
            "version": self._platform.python_version(),
            "implementation": self._platform.python_implementation(),
            "major": major,
            "minor": minor,
            "patchlevel": patchlevel,
        }

    def _java(self) -> Dict[str, str]:
        java_version, _, vminfo, _ = self._platform.java_ver()
        vm_name, vm_release, vm_vendor = vminfo
        return {"jvm_version": java_version, "jvm_release": vm_release, "jvm_vendor": vm_vendor, "jvm_name": vm_name}


PLATFORM_COLLECTOR = PlatformCollector()
"""``python_info`` in the default registry."""
