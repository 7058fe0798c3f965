"""The load generator of the end-to-end scenario: a known mix of chat-completion
requests sent to the gateway at a steady rate, bounded in count and in time.

Request `i` is the same in every run (`plan(i)`): its namespace, model, prompt,
`max_tokens` and whether it may be cached. Each request goes on its own connection
(`Connection: close`), so no request waits behind another on a kept-alive connection
and none is sent on a connection that a killed worker left behind. A request is
*answered* when its status line, headers and whole body arrived; anything else (reset,
end of stream, timeout) leaves it unanswered, and the totals allow for it.
"""

import asyncio
import json
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional

SEED = 20240601
NAMESPACES = (("wechat", 0.50), ("search", 0.44), ("free-tier", 0.06))
MODELS = (("gpt-4", 0.36), ("llama-3-70b", 0.29), ("qwen-2", 0.23), ("slow-model", 0.04), ("broken-model", 0.08))
CACHEABLE = 0.25
# Prompts of the cacheable requests: few, so that they repeat and hit the cache.
FAQ = (
    "what is the capital of France",
    "summarise the last meeting in three bullet points",
    "translate good morning into German",
    "write a haiku about metrics",
    "how many tokens is this sentence",
    "explain rate limiting to a child",
)
WORDS = ("alpha", "beta", "gamma", "delta", "tokens", "gateway", "prompt", "llm", "shard", "cell")


@dataclass(frozen=True)
class Request:
    index: int
    namespace: str
    model: str
    prompt: str
    max_tokens: int
    cacheable: bool

    def body(self) -> bytes:
        return json.dumps(
            {
                "model": self.model,
                "messages": [{"role": "user", "content": self.prompt}],
                "max_tokens": self.max_tokens,
            },
            sort_keys=True,
        ).encode()


def _pick(rng, weighted):
    x = rng.random()
    for name, w in weighted:
        x -= w
        if x < 0:
            return name
    return weighted[-1][0]


def plan(i: int) -> Request:
    """Request number `i` of every run."""
    rng = random.Random(SEED * 1_000_003 + i)
    namespace = _pick(rng, NAMESPACES)
    model = _pick(rng, MODELS)
    cacheable = rng.random() < CACHEABLE
    if cacheable:
        prompt = FAQ[rng.randrange(len(FAQ))]
        max_tokens = 12
    else:
        prompt = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 60)))
        max_tokens = rng.randint(5, 120)
    return Request(i, namespace, model, prompt, max_tokens, cacheable)


@dataclass
class Result:
    request: Request
    started: float  # Unix time
    ended: float
    status: Optional[int] = None  # None: unanswered
    headers: Dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    error: str = ""

    @property
    def answered(self):
        return self.status is not None

    def json(self):
        return json.loads(self.body)


class _Unanswered(Exception):
    pass


def _parse(data: bytes):
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        raise _Unanswered(f"incomplete head ({len(data)} bytes)")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/"):
        raise _Unanswered(f"bad status line {lines[0]!r}")
    status = int(parts[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        out, rest = b"", body
        while True:
            size_line, sep, rest = rest.partition(b"\r\n")
            if not sep:
                raise _Unanswered("incomplete chunked body")
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                break
            if len(rest) < size + 2:
                raise _Unanswered("incomplete chunk")
            out, rest = out + rest[:size], rest[size + 2 :]
        body = out
    elif "content-length" in headers:
        n = int(headers["content-length"])
        if len(body) < n:
            raise _Unanswered(f"body of {len(body)} of {n} bytes")
        body = body[:n]
    return status, headers, body


async def _send(host, port, request: Request, timeout) -> Result:
    body = request.body()
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        f"X-Namespace: {request.namespace}\r\n"
        + ("X-Cache: allow\r\n" if request.cacheable else "")
        + "Connection: close\r\n\r\n"
    ).encode()
    result = Result(request, time.time(), 0.0)
    writer = None
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        writer.write(head + body)
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), timeout)
        result.status, result.headers, result.body = _parse(data)
    except (OSError, asyncio.TimeoutError, _Unanswered, ValueError) as e:
        result.error = f"{type(e).__name__}: {e}"
    finally:
        result.ended = time.time()
        if writer is not None:
            writer.close()
    return result


class LoadGenerator:
    """Sends `plan(0)`, `plan(1)`, ... at `rate` per second with at most `concurrency`
    requests in flight, until `max_requests` were sent or `seconds` have passed (or
    `stop()`); runs in a thread of its own (`start()`, `join()`). Every result is kept
    in `results` unless `keep` is false (a long demo)."""

    def __init__(self, host, port, rate=150, seconds=30, max_requests=10_000, concurrency=64, timeout=20, keep=True):
        self.host, self.port = host, port
        self.keep = keep  # keep every Result; else only count the answered ones
        self._answered = 0
        self.rate, self.seconds, self.max_requests = rate, seconds, max_requests
        self.concurrency, self.timeout = concurrency, timeout
        self.results: List[Result] = []
        self.started = self.stopped = None  # Unix times: first request, last request sent
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._main, name="loadgen", daemon=True)
        self.error = None

    def start(self):
        self._thread.start()

    def stop(self):
        """Sends no more requests; those in flight still finish."""
        self._stop.set()

    def join(self, timeout):
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise RuntimeError(f"the load generator did not finish within {timeout} s")
        if self.error is not None:
            raise self.error

    @property
    def answered(self):
        return self._answered

    def _main(self):
        try:
            asyncio.run(self._run())
        except BaseException as e:  # reported by join()
            self.error = e

    async def _run(self):
        slots = asyncio.Semaphore(self.concurrency)
        tasks = set()
        t0 = time.monotonic()
        self.started = time.time()
        i = 0
        while i < self.max_requests and not self._stop.is_set():
            now = time.monotonic() - t0
            if now >= self.seconds:
                break
            due = i / self.rate
            if due > now:
                await asyncio.sleep(due - now)
            await slots.acquire()
            task = asyncio.ensure_future(self._one(plan(i), slots))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            i += 1
        self.stopped = time.time()
        if tasks:
            await asyncio.wait(tasks, timeout=self.timeout + 5)

    async def _one(self, request, slots):
        try:
            result = await _send(self.host, self.port, request, self.timeout)
            self._answered += result.answered
            if self.keep:
                self.results.append(result)
        finally:
            slots.release()
