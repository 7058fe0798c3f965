"""metricore: the ``prometheus_client`` API on a lock-free Rust core.

Recording (``inc``, ``set``, ``observe``, ``labels(...)``) goes straight to native
methods. ``use_shared(path)``, or the environment variable ``METRICORE_REGISTRY`` at
import, puts the default registry in a file that every worker process shares, so any
worker renders the totals of all; so does ``PROMETHEUS_MULTIPROC_DIR`` (the file
``metricore.registry`` in that directory, see ``metricore.multiprocess``).
"""

import importlib
import importlib.abc
import importlib.util
import os
import sys
from importlib.metadata import version as _package_version

from ._metricore import Counter, Enum, Gauge, Histogram, Info, Summary
from .asgi import make_asgi_app
from .exposition import (
    CONTENT_TYPE_LATEST,
    CONTENT_TYPE_PLAIN_0_0_4,
    CONTENT_TYPE_PLAIN_1_0_0,
    MetricsHandler,
    delete_from_gateway,
    generate_latest,
    instance_ip_grouping_key,
    make_wsgi_app,
    push_to_gateway,
    pushadd_to_gateway,
    start_http_server,
    start_wsgi_server,
    write_to_textfile,
)
from .metrics_core import Metric
from .registry import PROCESS_COLLECTOR, REGISTRY, CollectorRegistry, ProcessCollector, use_shared
from .gc_collector import GC_COLLECTOR, GCCollector
from .platform_collector import PLATFORM_COLLECTOR, PlatformCollector
# Reads PROMETHEUS_MULTIPROC_DIR (taking the deprecated lowercase name over, with a
# DeprecationWarning) before the default registry's place is chosen below.
from . import core, metrics, samples, validation, values
from .metrics import disable_created_metrics, enable_created_metrics

#: The version of the installed package, "MAJOR.MINOR.PATCH" (the crates' version).
__version__: str = _package_version("metricore")


class _AliasFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Resolves ``prometheus_client.X`` to the module ``metricore.X``."""

    def find_spec(self, fullname, path=None, target=None):
        if not fullname.startswith("prometheus_client."):
            return None
        own = "metricore." + fullname[len("prometheus_client.") :]
        if importlib.util.find_spec(own) is None:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec):
        module = importlib.import_module("metricore." + spec.name[len("prometheus_client.") :])
        spec.loader_state = module.__spec__
        return module

    def exec_module(self, module):
        """The module is metricore's, already executed: it keeps its own spec."""
        module.__spec__ = module.__spec__.loader_state


def install_as_prometheus_client() -> None:
    """Makes ``import prometheus_client`` (and ``prometheus_client.X``, for each module
    ``metricore.X``) give metricore's modules, so that code which imports
    ``prometheus_client`` itself records into metricore. Call it before that code
    imports ``prometheus_client``; modules it imported earlier keep what they got.
    The metric classes then name ``prometheus_client.metrics`` as their module (in
    their ``repr`` too), as ``prometheus_client``'s do."""
    for cls in (Counter, Gauge, Histogram, Summary, Info, Enum):
        cls.__module__ = "prometheus_client.metrics"
    for name in [n for n in sys.modules if n == "prometheus_client" or n.startswith("prometheus_client.")]:
        del sys.modules[name]
    sys.modules["prometheus_client"] = sys.modules[__name__]
    if not any(isinstance(f, _AliasFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _AliasFinder())


__all__ = [
    "CONTENT_TYPE_LATEST",
    "CONTENT_TYPE_PLAIN_0_0_4",
    "CONTENT_TYPE_PLAIN_1_0_0",
    "CollectorRegistry",
    "Counter",
    "Enum",
    "GCCollector",
    "GC_COLLECTOR",
    "Gauge",
    "Histogram",
    "Info",
    "Metric",
    "MetricsHandler",
    "PLATFORM_COLLECTOR",
    "PROCESS_COLLECTOR",
    "PlatformCollector",
    "ProcessCollector",
    "REGISTRY",
    "Summary",
    "delete_from_gateway",
    "disable_created_metrics",
    "enable_created_metrics",
    "generate_latest",
    "install_as_prometheus_client",
    "instance_ip_grouping_key",
    "make_asgi_app",
    "make_wsgi_app",
    "push_to_gateway",
    "pushadd_to_gateway",
    "start_http_server",
    "start_wsgi_server",
    "use_shared",
    "write_to_textfile",
]

if os.environ.get("METRICORE_REGISTRY"):
    use_shared(
        os.environ["METRICORE_REGISTRY"],
        owner=os.environ.get("METRICORE_OWNER") or None,
        group=os.environ.get("METRICORE_GROUP") or None,
        file_mode=int(os.environ["METRICORE_FILE_MODE"], 8) if os.environ.get("METRICORE_FILE_MODE") else None,
    )
elif os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    from .multiprocess import registry_file as _registry_file

    use_shared(_registry_file())
