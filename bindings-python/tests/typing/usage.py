"""Type-checked by test_typing.py: the API as a service uses it."""

import asyncio

import metricore
import metricore.openmetrics.exposition
from metricore import CollectorRegistry, Counter, Enum, Gauge, Histogram, Info, Summary
from metricore.asgi import RequestMetricsMiddleware
from metricore.core import CounterMetricFamily, GaugeMetricFamily, Metric

registry = CollectorRegistry()
requests = Counter("requests", "Requests.", ["model"], registry=registry)
requests.labels("gpt-4").inc()
requests.labels(model="gpt-4").inc(2.5)
inflight = Gauge("inflight", "In flight.", registry=registry, multiprocess_mode="livesum")
latency = Histogram("latency_seconds", "Latency.", registry=registry, buckets=[0.1, 1.0])
size = Summary("size", "Size.", registry=registry)
build = Info("build", "Build.", registry=registry)
state = Enum("state", "State.", registry=registry, states=["a", "b"])
build.info({"version": "1"})
state.state("b")
size.observe(3)
inflight.set_function(lambda: 3.0)


@latency.time()
@inflight.track_inprogress()
@requests.labels("x").count_exceptions(ValueError)
def handle(n: int) -> str:
    return str(n)


@latency.time()
async def handle_async(n: int) -> int:
    await asyncio.sleep(0)
    return n


class Backend:
    def collect(self) -> "list[Metric]":
        c = CounterMetricFamily("jobs", "Jobs.", labels=["kind"])
        c.add_metric(["a"], 1)
        return [c, GaugeMetricFamily("depth", "Depth.", value=2)]


registry.register(Backend())
text: bytes = metricore.generate_latest(registry)
om: bytes = metricore.openmetrics.exposition.generate_latest(registry)
name: str = handle(3)
value: "float | None" = registry.get_sample_value("requests_total", {"model": "gpt-4"})


async def app(scope: dict, receive: object, send: object) -> None:
    pass


wrapped = RequestMetricsMiddleware(app, prefix="svc", registry=registry)
