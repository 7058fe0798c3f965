"""ASGI: an app serving the metrics, and a middleware that records every request.

``RequestMetricsMiddleware(app, prefix="svc")`` records, per HTTP request:

- ``svc_requests_total{api, method, status}``
- ``svc_request_duration_seconds{api, status}``, a histogram, measured to the last
  body chunk (so streaming responses count their whole stream)
- ``svc_concurrent_requests{api}``, a gauge of requests in progress (``livesum`` in a
  shared registry, so an exited worker's requests drop out)

``api`` is the first path segment after an optional ``/v1/`` (``unknown`` when there is
none). Documentation paths are not recorded. A request whose app raises is recorded with
status 500. Other scopes (websocket, lifespan) pass through untouched.
"""

import time
from typing import Iterable, Optional, Sequence

from ._metricore import Counter, Gauge, Histogram
from .exposition import render
from .registry import REGISTRY, CollectorRegistry

DEFAULT_EXCLUDED_PATHS = ("/docs", "/redoc", "/openapi.json", "/favicon.ico", "/static")
"""Paths (and everything under them) the middleware does not record."""


def make_asgi_app(registry: CollectorRegistry = REGISTRY, disable_compression: bool = False):
    """An ASGI application serving the registry's metrics."""

    async def metrics_app(scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        body, out = render(
            registry,
            headers.get("accept"),
            headers.get("accept-encoding"),
            disable_compression,
            scope.get("query_string", b"").decode("latin-1"),
        )
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(k.encode(), v.encode()) for k, v in out.items()],
            }
        )
        await send({"type": "http.response.body", "body": body})

    return metrics_app


def api_of(path: str) -> str:
    """The API a path belongs to: its first segment after an optional ``/v1/``."""
    parts = [p for p in path.split("/") if p]
    if parts and parts[0] == "v1":
        parts = parts[1:]
    return parts[0] if parts else "unknown"


def _excluded(path: str, excluded: Sequence[str]) -> bool:
    for prefix in excluded:
        if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
            return True
    return False


class RequestMetricsMiddleware:
    """Records count, duration and concurrency of every HTTP request of ``app``."""

    def __init__(
        self,
        app,
        prefix: str = "http",
        registry: CollectorRegistry = REGISTRY,
        excluded_paths: Iterable[str] = DEFAULT_EXCLUDED_PATHS,
        buckets: Optional[Sequence[float]] = None,
    ):
        self.app = app
        self.excluded_paths = tuple(excluded_paths)
        self.requests = Counter(
            f"{prefix}_requests", "Requests handled.", ("api", "method", "status"), registry=registry
        )
        self.duration = Histogram(
            f"{prefix}_request_duration_seconds",
            "Request duration to the last body chunk, in seconds.",
            ("api", "status"),
            registry=registry,
            buckets=buckets,
        )
        self.concurrent = Gauge(
            f"{prefix}_concurrent_requests",
            "Requests in progress.",
            ("api",),
            registry=registry,
            multiprocess_mode="livesum",
        )

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        if _excluded(path, self.excluded_paths):
            await self.app(scope, receive, send)
            return
        api = api_of(path)
        method = scope.get("method", "GET")
        start = time.perf_counter()
        status = 500
        done = False

        def finish(code: int) -> None:
            nonlocal done
            if not done:
                done = True
                self.requests.labels(api, method, str(code)).inc()
                self.duration.labels(api, str(code)).observe(time.perf_counter() - start)

        async def send_wrapper(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                await send(message)
                finish(status)
                return
            await send(message)

        inflight = self.concurrent.labels(api)
        inflight.inc()
        try:
            await self.app(scope, receive, send_wrapper)
        except BaseException:
            finish(500)
            raise
        finally:
            inflight.dec()
            finish(status)
