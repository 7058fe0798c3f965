"""metricore: the ``prometheus_client`` API on a lock-free Rust core.

Recording (``inc``, ``set``, ``observe``, ``labels(...)``) goes straight to native
methods. ``use_shared(path)``, or the environment variable ``METRICORE_REGISTRY`` at
import, puts the default registry in a file that every worker process shares, so any
worker renders the totals of all.
"""

import os
from importlib.metadata import version as _package_version

from ._metricore import Counter, Enum, Gauge, Histogram, Info, Summary
from .asgi import make_asgi_app
from .exposition import (
    CONTENT_TYPE_LATEST,
    CONTENT_TYPE_PLAIN_0_0_4,
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
from .registry import REGISTRY, CollectorRegistry, ProcessCollector, use_shared

#: The version of the installed package, "MAJOR.MINOR.PATCH" (the crates' version).
__version__: str = _package_version("metricore")


def disable_created_metrics() -> None:
    """Does nothing: metricore does not render ``_created`` series."""


__all__ = [
    "CONTENT_TYPE_LATEST",
    "CONTENT_TYPE_PLAIN_0_0_4",
    "CollectorRegistry",
    "Counter",
    "Enum",
    "Gauge",
    "Histogram",
    "Info",
    "Metric",
    "MetricsHandler",
    "ProcessCollector",
    "REGISTRY",
    "Summary",
    "delete_from_gateway",
    "disable_created_metrics",
    "generate_latest",
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
