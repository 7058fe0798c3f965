"""Exposition: rendering a registry, and the ways to hand the text to Prometheus
(WSGI app, HTTP server, text file, Pushgateway)."""

import base64
import gzip
import os
import socket
import ssl
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler
from typing import Callable, Dict, Iterable, Optional, Tuple
from urllib.parse import urlsplit

from . import _metricore
from .openmetrics import exposition as openmetrics
from .registry import REGISTRY, CollectorRegistry

CONTENT_TYPE_PLAIN_0_0_4 = _metricore._negotiate("")[1]
"""Content type of Prometheus text format 0.0.4."""
CONTENT_TYPE_PLAIN_1_0_0 = "text/plain; version=1.0.0; charset=utf-8"
"""Content type of Prometheus text format 1.0.0 (0.0.4 with UTF-8 names)."""
CONTENT_TYPE_LATEST = CONTENT_TYPE_PLAIN_1_0_0
"""Content type of what :func:`generate_latest` returns."""


def generate_latest(registry: CollectorRegistry = REGISTRY, escaping: str = openmetrics.UNDERSCORES) -> bytes:
    """The registry's metrics in the Prometheus text format, names outside the legacy
    set written as the scheme ``escaping`` says (quoted with ``allow-utf-8``, the text
    format 1.0.0; ``ValueError`` for an unknown scheme)."""
    return registry._render(0, escaping=escaping)


def render(
    registry: CollectorRegistry,
    accept: Optional[str] = None,
    accept_encoding: Optional[str] = None,
    disable_compression: bool = False,
    query: str = "",
) -> Tuple[bytes, Dict[str, str]]:
    """The body and headers answering a scrape with these ``Accept`` and
    ``Accept-Encoding`` headers and query string: OpenMetrics when asked for, gzip when
    accepted, only the families its ``name[]`` parameters select when it has any
    (protobuf, binary, when the scraper asks for it first, as Prometheus does with
    native histograms on), names written as the scrape's escaping scheme says."""
    format, content_type, escaping = _metricore._negotiate(accept or "")
    names = _metricore._query_names(query or "")
    if names is not None:
        registry = registry.restricted_registry(names)
    body = registry._render(format, escaping=escaping)
    headers = {"Content-Type": content_type}
    if not disable_compression and _metricore._accepts_gzip(accept_encoding or ""):
        body = gzip.compress(body, compresslevel=6)
        headers["Content-Encoding"] = "gzip"
    return body, headers


def choose_encoder(accept_header: str) -> Tuple[Callable[[CollectorRegistry], bytes], str]:
    """The renderer and content type for an ``Accept`` header, by core's negotiation
    (:func:`metricore.expose.negotiate` in Rust): its format and escaping scheme."""
    format, content_type, escaping = _metricore._negotiate(accept_header or "")
    return (lambda registry=REGISTRY: registry._render(format, escaping=escaping)), content_type


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
            environ.get("QUERY_STRING", ""),
        )
        start_response("200 OK", list(headers.items()))
        return [body]

    return metrics_app


class MetricsHandler(BaseHTTPRequestHandler):
    """An ``http.server`` handler serving ``registry``'s metrics on every path."""

    registry: CollectorRegistry = REGISTRY

    @classmethod
    def factory(cls, registry: CollectorRegistry) -> type:
        """A subclass of this handler serving ``registry``."""
        return type(str(cls.__name__), (cls, object), {"registry": registry})

    def do_GET(self) -> None:
        try:
            body, headers = render(
                self.registry,
                self.headers.get("Accept"),
                self.headers.get("Accept-Encoding"),
                query=urlsplit(self.path).query,
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
    port: int,
    addr: str = "0.0.0.0",
    registry: CollectorRegistry = REGISTRY,
    certfile: Optional[str] = None,
    keyfile: Optional[str] = None,
    client_cafile: Optional[str] = None,
    client_capath: Optional[str] = None,
    protocol: int = ssl.PROTOCOL_TLS_SERVER,
    client_auth_required: bool = False,
    tls_min_version: Optional[ssl.TLSVersion] = None,
    tls_max_version: Optional[ssl.TLSVersion] = None,
) -> Tuple["_metricore.HttpServer", "_metricore.HttpServer"]:
    """Serves the registry's metrics at ``http://addr:port/metrics`` from a native
    thread that does not hold the GIL (it takes it only to run custom collectors). The
    server runs until ``server.shutdown()``; returns ``(server, server)``, the second
    standing for the thread ``prometheus_client`` returns (``join()``, ``is_alive()``).

    With ``certfile`` and ``keyfile`` it serves https (TLS 1.2 and 1.3, by the core's
    rustls); with ``client_auth_required`` a client certificate verified against
    ``client_cafile`` and the certificates in ``client_capath`` is required;
    ``tls_min_version`` and ``tls_max_version`` narrow the versions offered. Invalid
    files or versions raise ``ValueError`` naming the argument."""
    if protocol not in (ssl.PROTOCOL_TLS_SERVER, ssl.PROTOCOL_TLS):
        raise ValueError("protocol: only ssl.PROTOCOL_TLS_SERVER (TLS 1.2 and 1.3) is supported")
    server = _metricore.HttpServer.start(
        registry,
        addr,
        port,
        certfile=os.fspath(certfile) if certfile is not None else None,
        keyfile=os.fspath(keyfile) if keyfile is not None else None,
        client_cafile=os.fspath(client_cafile) if client_cafile is not None else None,
        client_capath=os.fspath(client_capath) if client_capath is not None else None,
        client_auth_required=client_auth_required,
        tls_min_version=None if tls_min_version is None else int(tls_min_version),
        tls_max_version=None if tls_max_version is None else int(tls_max_version),
    )
    return server, server


start_wsgi_server = start_http_server


def write_to_textfile(path: str, registry: CollectorRegistry, escaping: str = openmetrics.ALLOWUTF8) -> None:
    """Writes the registry's metrics to ``path`` atomically (for the node exporter's
    textfile collector), names outside the legacy set written as the scheme
    ``escaping`` says."""
    tmp = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"
    try:
        with open(tmp, "wb") as f:
            f.write(generate_latest(registry, escaping))
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def default_handler(
    url: str, method: str, timeout: Optional[float], headers: Iterable[Tuple[str, str]], data: bytes
) -> Callable[[], None]:
    """Sends one request to a Pushgateway with urllib (https verified against the
    system's CAs, or those of ``SSL_CERT_FILE``); raises ``OSError`` on failure."""

    def handle() -> None:
        _send(url, method, timeout, headers, data)

    return handle


class _PassthroughRedirects(urllib.request.HTTPRedirectHandler):
    """Follows redirects of every method, with the method, headers and body."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        if code not in (301, 302, 303, 307, 308):
            raise urllib.error.HTTPError(req.full_url, code, msg, headers, fp)
        return urllib.request.Request(
            newurl,
            data=req.data,
            headers=dict(req.header_items()),
            origin_req_host=req.origin_req_host,
            unverifiable=True,
            method=req.get_method(),
        )


def passthrough_redirect_handler(
    url: str, method: str, timeout: Optional[float], headers: Iterable[Tuple[str, str]], data: bytes
) -> Callable[[], None]:
    """As the default handler, following redirects of every method with the request's
    method, headers and body (use it only with a gateway whose redirects are trusted)."""

    def handle() -> None:
        _send(url, method, timeout, headers, data, redirects=True)

    return handle


def basic_auth_handler(
    url: str,
    method: str,
    timeout: Optional[float],
    headers: Iterable[Tuple[str, str]],
    data: bytes,
    username: Optional[str] = None,
    password: Optional[str] = None,
) -> Callable[[], None]:
    """Sends the request with ``Authorization: Basic`` when ``username`` is given; use
    it through a closure or ``functools.partial`` to pass the credentials."""

    def handle() -> None:
        sent = list(headers)
        if username is not None:
            token = base64.b64encode(f"{username}:{password or ''}".encode("utf-8")).decode("ascii")
            sent.append(("Authorization", f"Basic {token}"))
        default_handler(url, method, timeout, sent, data)()

    return handle


def tls_auth_handler(
    url: str,
    method: str,
    timeout: Optional[float],
    headers: Iterable[Tuple[str, str]],
    data: bytes,
    certfile: str,
    keyfile: str,
    cafile: Optional[str] = None,
    protocol: int = ssl.PROTOCOL_TLS_CLIENT,
    insecure_skip_verify: bool = False,
) -> Callable[[], None]:
    """Sends the request over https presenting the client certificate ``certfile``
    with ``keyfile``, verifying the gateway against ``cafile`` (or the system's CAs)
    unless ``insecure_skip_verify``."""

    def handle() -> None:
        context = ssl.SSLContext(protocol=protocol)
        if cafile is not None:
            context.load_verify_locations(cafile)
        else:
            context.load_default_certs()
        if insecure_skip_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        context.load_cert_chain(certfile=certfile, keyfile=keyfile)
        _send(url, method, timeout, headers, data, context)

    return handle


def _send(url, method, timeout, headers, data, context=None, redirects=False) -> None:
    request = urllib.request.Request(url, data=data, method=method)
    for name, value in headers:
        request.add_header(name, value)
    handlers = [urllib.request.HTTPSHandler(context=context)] if context is not None else []
    if redirects:
        handlers.append(_PassthroughRedirects())
    with urllib.request.build_opener(*handlers).open(request, timeout=timeout) as response:
        if response.status >= 400:
            raise OSError(f"error talking to pushgateway at {url}: {response.status} {response.reason}")


def _push(method, gateway, job, registry, grouping_key, timeout, handler, compression=None) -> None:
    grouping = [(str(k), str(v)) for k, v in sorted((grouping_key or {}).items())]
    url = _metricore._push_url(gateway, str(job), grouping)
    headers = [("Content-Type", CONTENT_TYPE_PLAIN_0_0_4)]
    if compression is not None and (method == "DELETE" or compression.lower() != "gzip"):
        raise ValueError(f"Unsupported compression type: {compression} (gzip only, and not for DELETE)")
    data = generate_latest(registry) if registry is not None else b""
    if compression is not None:
        data = gzip.compress(data)
        headers.append(("Content-Encoding", "gzip"))
    handler(url=url, method=method, timeout=timeout, headers=headers, data=data)()


def push_to_gateway(
    gateway: str,
    job: str,
    registry: CollectorRegistry,
    grouping_key: Optional[Dict[str, str]] = None,
    timeout: Optional[float] = 30,
    handler: Callable = default_handler,
    compression: Optional[str] = None,
) -> None:
    """Replaces the metrics of this job (and grouping key) on a Pushgateway (PUT).
    The gateway is ``host:port`` (plain HTTP) or a URL; with ``compression="gzip"``
    the body is sent gzip-compressed."""
    _push("PUT", gateway, job, registry, grouping_key, timeout, handler, compression)


def pushadd_to_gateway(
    gateway: str,
    job: str,
    registry: CollectorRegistry,
    grouping_key: Optional[Dict[str, str]] = None,
    timeout: Optional[float] = 30,
    handler: Callable = default_handler,
    compression: Optional[str] = None,
) -> None:
    """Replaces only the pushed families of this job on a Pushgateway (POST).
    The gateway is ``host:port`` (plain HTTP) or a URL; with ``compression="gzip"``
    the body is sent gzip-compressed."""
    _push("POST", gateway, job, registry, grouping_key, timeout, handler, compression)


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
