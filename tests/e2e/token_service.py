"""The token service of the end-to-end scenario: a Starlette app that answers
`POST /v1/chat/completions` with a made-up completion, as uvicorn serves it with several
workers behind the gateway.

Everything it answers is determined by the request, so the test knows the totals:

- input tokens: the words of all message contents (whitespace-separated);
- output tokens: the request's `max_tokens`, the completion being that many words;
- cost: input and output tokens times the model's prices (powers of two, so every sum
  of costs is exact in binary floating point);
- latency: the model's fixed simulated latency (`slow-model` takes 1.5 s, so that
  requests are in flight at every moment);
- `broken-model` always fails with 500.

The namespace comes in the `X-Namespace` header (the gateway passes it on). Each answer
carries the worker's pid in `X-Worker-Pid`.

The default registry is the shared file named by METRICORE_REGISTRY (read when
`metricore` is imported), so every worker records into the one registry that nginx, the
C and Rust programs and `metricore serve` use too.
"""

import asyncio
import os
import time
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Mount, Route

from metricore import REGISTRY, Counter, Gauge, Histogram, make_asgi_app
from metricore.asgi import DEFAULT_EXCLUDED_PATHS, RequestMetricsMiddleware

# The file's own figures (metricore_*), as `metricore serve` and nginx render them.
REGISTRY.self_metrics = True


@dataclass(frozen=True)
class Model:
    latency: float  # seconds
    input_price: float  # USD per token
    output_price: float
    fails: bool = False


MODELS = {
    "gpt-4": Model(0.030, 2.0**-15, 2.0**-14),
    "llama-3-70b": Model(0.012, 2.0**-19, 2.0**-18),
    "qwen-2": Model(0.003, 2.0**-21, 2.0**-20),
    "slow-model": Model(1.5, 2.0**-16, 2.0**-15),
    "broken-model": Model(0.002, 0.0, 0.0, fails=True),
}
VOCABULARY = ("the", "model", "says", "tokens", "are", "counted", "here", "and", "there")


def input_tokens(messages):
    return sum(len(str(m.get("content", "")).split()) for m in messages)


def cost(model, tokens_in, tokens_out):
    m = MODELS[model]
    return tokens_in * m.input_price + tokens_out * m.output_price


def completion(tokens_out, seed):
    return " ".join(VOCABULARY[(seed + i) % len(VOCABULARY)] for i in range(tokens_out))


REQUESTS = Counter("model_requests", "Model requests by outcome.", ["model", "namespace", "status"])
TOKENS_IN = Counter("model_tokens_input", "Prompt tokens sent to models.", ["model", "namespace"])
TOKENS_OUT = Counter("model_tokens_output", "Completion tokens received from models.", ["model", "namespace"])
COST = Counter("model_cost_usd", "Cost of the model requests, in USD.", ["model", "namespace"])
DURATION = Histogram("model_request_duration_seconds", "Time the model took to answer.", ["model"])
IN_FLIGHT = Gauge(
    "model_in_flight_requests",
    "Model requests being answered, summed over live workers.",
    ["model"],
    multiprocess_mode="livesum",
)


async def chat_completions(request):
    pid = str(os.getpid())
    try:
        payload = await request.json()
        model = payload["model"]
        messages = payload["messages"]
        tokens_out = int(payload.get("max_tokens", 16))
    except (ValueError, KeyError, TypeError):
        return JSONResponse({"error": "bad request"}, status_code=400, headers={"X-Worker-Pid": pid})
    spec = MODELS.get(model)
    if spec is None:
        return JSONResponse({"error": f"unknown model {model}"}, status_code=404, headers={"X-Worker-Pid": pid})
    namespace = request.headers.get("x-namespace", "default")
    start = time.perf_counter()
    IN_FLIGHT.labels(model).inc()
    try:
        await asyncio.sleep(spec.latency)
        if spec.fails:
            REQUESTS.labels(model, namespace, "error").inc()
            DURATION.labels(model).observe(time.perf_counter() - start)
            return JSONResponse({"error": "the model failed"}, status_code=500, headers={"X-Worker-Pid": pid})
        tokens_in = input_tokens(messages)
        REQUESTS.labels(model, namespace, "ok").inc()
        TOKENS_IN.labels(model, namespace).inc(tokens_in)
        TOKENS_OUT.labels(model, namespace).inc(tokens_out)
        COST.labels(model, namespace).inc(cost(model, tokens_in, tokens_out))
        DURATION.labels(model).observe(time.perf_counter() - start)
    finally:
        IN_FLIGHT.labels(model).dec()
    body = {
        "object": "chat.completion",
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": completion(tokens_out, tokens_in)}}],
        "usage": {"prompt_tokens": tokens_in, "completion_tokens": tokens_out},
    }
    return JSONResponse(body, headers={"X-Worker-Pid": pid})


async def healthz(request):
    return PlainTextResponse("ok\n", headers={"X-Worker-Pid": str(os.getpid())})


app = RequestMetricsMiddleware(
    Starlette(
        routes=[
            Route("/v1/chat/completions", chat_completions, methods=["POST"]),
            Route("/healthz", healthz),
            Mount("/metrics", make_asgi_app()),
        ]
    ),
    excluded_paths=DEFAULT_EXCLUDED_PATHS + ("/healthz", "/metrics"),
)
