"""A small token-counting service, as the uvicorn test serves it with several workers.

The default registry is shared through METRICORE_REGISTRY, set by the test."""

import os

from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from metricore import Counter, Histogram, make_asgi_app
from metricore.asgi import RequestMetricsMiddleware

TOKENS = Counter("tokens", "Tokens counted.", ["model"])
BY_WORKER = Counter("worker_requests", "Requests served, by worker pid.", ["pid"])
SIZES = Histogram("text_bytes", "Size of the texts counted.", buckets=[10, 100, 1000])


async def count(request):
    text = (await request.body()).decode()
    TOKENS.labels(request.path_params["model"]).inc(len(text.split()))
    BY_WORKER.labels(str(os.getpid())).inc()
    SIZES.observe(len(text))
    return JSONResponse({"pid": os.getpid()})


app = RequestMetricsMiddleware(
    Starlette(routes=[Route("/v1/count/{model}", count, methods=["POST"]), Mount("/metrics", make_asgi_app())]),
    prefix="tokens_svc",
)
