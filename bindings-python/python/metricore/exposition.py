"""Exposition: rendering a registry, and the ways to hand the text to Prometheus
(WSGI app, HTTP server, text file, Pushgateway)."""

import base64
import gzip
import os
import socket
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler
from typing import Callable, Dict, Iterable, Optional, Tuple
from urllib.parse import quote, urlsplit

from . import _metricore
from .registry import REGISTRY, CollectorRegistry

CONTENT_TYPE_PLAIN_0_0_4 = _metricore._negotiate("")[1]
"""Content type of Prometheus text format 0.0.4."""
CONTENT_TYPE_LATEST = CONTENT_TYPE_PLAIN_0_0_4
"""Content type of what :func:`generate_latest` returns."""


def generate_latest(registry: CollectorRegistry = REGISTRY) -> bytes:
    """The registry's metrics in Prometheus text format 0.0.4."""
    return registry._render(False)


def render(
    registry: CollectorRegistry,
    accept: Optional[str] = None,
    accept_encoding: Optional[str] = None,
    disable_compression: bool = False,
) -> Tuple[bytes, Dict[str, str]]:
    """The body and headers answering a scrape with these ``Accept`` and
    ``Accept-Encoding`` headers: OpenMetrics when asked for, gzip when accepted."""
    openmetrics, content_type = _metricore._negotiate(accept or "")
    body = registry._render(openmetrics)
    headers = {"Content-Type": content_type}
    if not disable_compression and "gzip" in (accept_encoding or "").lower():
        body = gzip.compress(body, compresslevel=6)
        headers["Content-Encoding"] = "gzip"
    return body, headers


def choose_encoder(accept_header: str) -> Tuple[Callable[[CollectorRegistry], bytes], str]:
    """The renderer and content type for an ``Accept`` header."""
    openmetrics, content_type = _metricore._negotiate(accept_header or "")
    return (lambda registry=REGISTRY: registry._render(openmetrics)), content_type


def make_wsgi_app(registry: CollectorRegistry = REGISTRY, disable_compression: bool = False):
    """A WSGI application serving the registry's metrics."""

    def metrics_app(environ, start_response):
        if environ.get("PATH_INFO") == "/favicon.ico":
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b""]
        body, headers = render(
            registry,
            environ.get("HTTP_ACCEPT"),
            environ.get("HTTP_ACCEPT_ENCODING"),
            disable_compression,
        )
        start_response("200 OK", list(headers.items()))
        return [body]

    return metrics_app


class MetricsHandler(BaseHTTPRequestHandler):
    """An ``http.server`` handler serving ``registry``'s metrics on every path."""

    registry: CollectorRegistry = REGISTRY

    def do_GET(self) -> None:
        try:
            body, headers = render(
                self.registry, self.headers.get("Accept"), self.headers.get("Accept-Encoding")
            )
        except Exception as e:  # a failing collector: answer, do not drop the connection
            self.send_error(500, f"error rendering metrics: {e}")
            raise
        self.send_response(200)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:
        """Scrapes are not logged."""


def start_http_server(
    port: int, addr: str = "0.0.0.0", registry: CollectorRegistry = REGISTRY
) -> Tuple["_metricore.HttpServer", "_metricore.HttpServer"]:
    """Serves the registry's metrics at ``http://addr:port/metrics`` from a native
    thread that does not hold the GIL (it takes it only to run custom collectors). The
    server runs until ``server.shutdown()``; returns ``(server, server)``, the second
    standing for the thread ``prometheus_client`` returns (``join()``, ``is_alive()``)."""
    server = _metricore.HttpServer.start(registry, addr, port)
    return server, server


start_wsgi_server = start_http_server


def write_to_textfile(path: str, registry: CollectorRegistry) -> None:
    """Writes the registry's metrics to ``path`` atomically (for the node exporter's
    textfile collector)."""
    tmp = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"
    try:
        with open(tmp, "wb") as f:
            f.write(generate_latest(registry))
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def default_handler(
    url: str, method: str, timeout: Optional[float], headers: Iterable[Tuple[str, str]], data: bytes
) -> Callable[[], None]:
    """Sends one request to a Pushgateway with urllib; raises ``OSError`` on failure."""

    def handle() -> None:
        request = urllib.request.Request(url, data=data or None, method=method)
        for name, value in headers:
            request.add_header(name, value)
        with urllib.request.urlopen(request, timeout=timeout) as response:
            if response.status >= 400:
                raise OSError(f"error talking to pushgateway at {url}: {response.status} {response.reason}")

    return handle


def _segment(name: str, value: str) -> str:
    """One ``/name/value`` path segment, base64 encoded when the value needs it."""
    value = str(value)
    if value == "" or "/" in value:
        encoded = base64.urlsafe_b64encode(value.encode("utf-8")).decode("ascii") or "="
        return f"/{name}@base64/{encoded}"
    return f"/{name}/{quote(value, safe='')}"


def _push(method, gateway, job, registry, grouping_key, timeout, handler) -> None:
    if not urlsplit(gateway).scheme:
        gateway = "http://" + gateway
    url = gateway.rstrip("/") + "/metrics" + _segment("job", job)
    for name, value in sorted((grouping_key or {}).items()):
        url += _segment(name, value)
    data = generate_latest(registry) if registry is not None else b""
    headers = [("Content-Type", CONTENT_TYPE_LATEST)]
    handler(url=url, method=method, timeout=timeout, headers=headers, data=data)()


def push_to_gateway(
    gateway: str,
    job: str,
    registry: CollectorRegistry,
    grouping_key: Optional[Dict[str, str]] = None,
    timeout: Optional[float] = 30,
    handler: Callable = default_handler,
) -> None:
    """Replaces the metrics of this job (and grouping key) on a Pushgateway (PUT)."""
    _push("PUT", gateway, job, registry, grouping_key, timeout, handler)


def pushadd_to_gateway(
    gateway: str,
    job: str,
    registry: CollectorRegistry,
    grouping_key: Optional[Dict[str, str]] = None,
    timeout: Optional[float] = 30,
    handler: Callable = default_handler,
) -> None:
    """Replaces only the pushed families of this job on a Pushgateway (POST)."""
    _push("POST", gateway, job, registry, grouping_key, timeout, handler)


def delete_from_gateway(
    gateway: str,
    job: str,
    grouping_key: Optional[Dict[str, str]] = None,
    timeout: Optional[float] = 30,
    handler: Callable = default_handler,
) -> None:
    """Deletes the metrics of this job (and grouping key) from a Pushgateway."""
    _push("DELETE", gateway, job, None, grouping_key, timeout, handler)


def instance_ip_grouping_key() -> Dict[str, str]:
    """A grouping key naming this host's address as ``instance``."""
    return {"instance": socket.gethostbyname(socket.gethostname())}
