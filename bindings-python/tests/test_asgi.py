"""The ASGI middleware and metrics app, on a Starlette app driven by httpx."""

import asyncio

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse, StreamingResponse
from starlette.routing import Mount, Route

import metricore
from metricore.asgi import RequestMetricsMiddleware, api_of


async def chat(request):
    return PlainTextResponse("ok")


async def create(request):
    return PlainTextResponse("made", status_code=201)


async def boom(request):
    raise RuntimeError("boom")


async def stream(request):
    async def chunks():
        for _ in range(3):
            await asyncio.sleep(0.05)
            yield b"chunk"

    return StreamingResponse(chunks())


def make_app(registry, **options):
    routes = [
        Route("/v1/chat/completions", chat),
        Route("/v1/chat/create", create, methods=["POST"]),
        Route("/embed", chat),
        Route("/v1", chat),
        Route("/boom", boom),
        Route("/stream", stream),
        Route("/docs", chat),
        Route("/openapi.json", chat),
        Route("/static/app.js", chat),
        Route("/healthz", chat),
        Mount("/metrics", app=metricore.make_asgi_app(registry)),
    ]
    middleware = [Middleware(RequestMetricsMiddleware, prefix="svc", registry=registry, **options)]
    return Starlette(routes=routes, middleware=middleware)


def run(app, requests):
    async def go():
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return [await client.request(method, path) for method, path in requests]

    return asyncio.run(go())


def get(registry, name, **labels):
    return registry.get_sample_value(name, labels)


def test_api_of():
    assert api_of("/v1/chat/completions") == "chat"
    assert api_of("/chat") == "chat"
    assert api_of("/v1/") == "unknown"
    assert api_of("/") == "unknown"
    assert api_of("") == "unknown"
    assert api_of("//embed//x") == "embed"


def test_counts_durations_and_concurrency(registry):
    app = make_app(registry)
    responses = run(
        app,
        [
            ("GET", "/v1/chat/completions"),
            ("GET", "/v1/chat/completions"),
            ("POST", "/v1/chat/create"),
            ("GET", "/embed"),
            ("GET", "/v1"),
            ("GET", "/nowhere"),
        ],
    )
    assert [r.status_code for r in responses] == [200, 200, 201, 200, 200, 404]
    assert get(registry, "svc_requests_total", api="chat", method="GET", status="200") == 2
    assert get(registry, "svc_requests_total", api="chat", method="POST", status="201") == 1
    assert get(registry, "svc_requests_total", api="embed", method="GET", status="200") == 1
    assert get(registry, "svc_requests_total", api="unknown", method="GET", status="200") == 1
    assert get(registry, "svc_requests_total", api="nowhere", method="GET", status="404") == 1
    assert get(registry, "svc_request_duration_seconds_count", api="chat", status="200") == 2
    assert get(registry, "svc_concurrent_requests", api="chat") == 0


def test_docs_paths_are_excluded_and_configurable(registry):
    run(make_app(registry), [("GET", "/docs"), ("GET", "/openapi.json"), ("GET", "/static/app.js"), ("GET", "/healthz")])
    text = metricore.generate_latest(registry).decode()
    assert 'api="docs"' not in text and 'api="static"' not in text and 'api="openapi.json"' not in text
    assert get(registry, "svc_requests_total", api="healthz", method="GET", status="200") == 1

    other = metricore.CollectorRegistry()
    run(make_app(other, excluded_paths=["/healthz"]), [("GET", "/healthz"), ("GET", "/docs")])
    assert get(other, "svc_requests_total", api="healthz", method="GET", status="200") is None
    assert get(other, "svc_requests_total", api="docs", method="GET", status="200") == 1


def test_exception_is_recorded_as_500(registry):
    (r,) = run(make_app(registry), [("GET", "/boom")])
    assert r.status_code == 500
    assert get(registry, "svc_requests_total", api="boom", method="GET", status="500") == 1
    assert get(registry, "svc_concurrent_requests", api="boom") == 0


def test_exception_before_any_response(registry):
    async def raw(scope, receive, send):
        raise ValueError("nothing sent")

    app = RequestMetricsMiddleware(raw, prefix="raw", registry=registry)
    with pytest.raises(ValueError):
        run_raw(app, {"type": "http", "path": "/v1/x", "method": "PUT"})
    assert get(registry, "raw_requests_total", api="x", method="PUT", status="500") == 1


def run_raw(app, scope):
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent


def test_streaming_duration_reaches_the_last_chunk(registry):
    (r,) = run(make_app(registry), [("GET", "/stream")])
    assert r.content == b"chunk" * 3
    assert get(registry, "svc_request_duration_seconds_count", api="stream", status="200") == 1
    assert get(registry, "svc_request_duration_seconds_sum", api="stream", status="200") >= 0.15


def test_in_flight_gauge_while_streaming(registry):
    seen = []

    async def slow(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        seen.append(get(registry, "w_concurrent_requests", api="slow"))
        await send({"type": "http.response.body", "body": b"a", "more_body": True})
        await send({"type": "http.response.body", "body": b"b"})

    app = RequestMetricsMiddleware(slow, prefix="w", registry=registry)
    sent = run_raw(app, {"type": "http", "path": "/slow", "method": "GET"})
    assert seen == [1]
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body", "http.response.body"]
    assert get(registry, "w_concurrent_requests", api="slow") == 0
    assert get(registry, "w_requests_total", api="slow", method="GET", status="200") == 1


def test_non_http_scopes_pass_through(registry):
    calls = []

    async def inner(scope, receive, send):
        calls.append(scope["type"])

    app = RequestMetricsMiddleware(inner, prefix="ws", registry=registry)
    run_raw(app, {"type": "websocket", "path": "/v1/chat"})
    run_raw(app, {"type": "lifespan"})
    assert calls == ["websocket", "lifespan"]
    text = metricore.generate_latest(registry).decode()
    assert "ws_requests_total{" not in text


def test_metrics_endpoint_negotiates(registry):
    app = make_app(registry)

    async def go():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            await client.get("/embed")
            plain = await client.get("/metrics/")
            om = await client.get("/metrics/", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
            return plain, om

    plain, om = asyncio.run(go())
    assert plain.headers["content-type"] == metricore.CONTENT_TYPE_PLAIN_0_0_4
    assert 'svc_requests_total{api="embed",method="GET",status="200"} 1' in plain.text
    assert om.headers["content-type"].startswith("application/openmetrics-text")
    assert om.text.endswith("# EOF\n")
