"""A Starlette service instrumented by starlette-exporter, which imports
prometheus_client itself, set up for several workers as prometheus_client documents it
(PROMETHEUS_MULTIPROC_DIR, set by the test); metricore stands in for prometheus_client
through one call made before anything imports it."""

import os

import metricore

metricore.install_as_prometheus_client()

from prometheus_client import Counter, Gauge  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.responses import JSONResponse  # noqa: E402
from starlette.routing import Route  # noqa: E402
from starlette_exporter import PrometheusMiddleware, handle_metrics  # noqa: E402

WORK = Counter("work_done", "Work items done.", ["kind"])
# One per live worker: the sum over live processes.
UP = Gauge("worker_up", "Live workers.", multiprocess_mode="livesum")
UP.set(1)
# Every worker that ever started, by pid (mode "all" keeps exited processes).
STARTED = Gauge("worker_started", "Workers started, by pid.")
STARTED.set(1)


async def work(request):
    WORK.labels(request.path_params["kind"]).inc()
    return JSONResponse({"pid": os.getpid()})


app = Starlette(routes=[Route("/work/{kind}", work, methods=["POST"]), Route("/metrics", handle_metrics)])
app.add_middleware(PrometheusMiddleware, app_name="svc", group_paths=True)
