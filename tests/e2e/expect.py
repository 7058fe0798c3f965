"""What every counter of the registry must be after a run, from what the load generator
sent and got back and what the C and Rust programs recorded.

A bound is `[low, high]`: `low` counts what was acknowledged (an answer reached the
generator, a program exited with success), `high` adds what may or may not have been
recorded: requests in flight when a worker was killed. That is the whole ambiguity:

- a request the gateway answered was counted by the gateway (it counts in the header
  filter, before the answer leaves); one left unanswered by a killed nginx worker may
  have been counted or not, under whichever status it would have had;
- a request answered from the token service (it carries `X-Worker-Pid`) was counted by
  the token service; one answered 502 (its uvicorn worker was killed) or left
  unanswered may have been counted, in full or in part, or not at all.
"""

from collections import defaultdict

import token_service

API = "chat"  # the middleware's `api` of /v1/chat/completions


def key(name, **labels):
    return (name, tuple(sorted(labels.items())))


class Bounds:
    def __init__(self):
        self.b = defaultdict(lambda: [0, 0])

    def exact(self, k, v=1):
        self.b[k][0] += v
        self.b[k][1] += v

    def maybe(self, k, v=1):
        self.b[k][1] += v

    def items(self):
        return self.b.items()

    def __getitem__(self, k):
        return self.b[k]

    def __contains__(self, k):
        return k in self.b


def upstream(bounds, add, request, code):
    """The token service's records of `request` answered with HTTP status `code`
    (200 or 500), through `add` (Bounds.exact or Bounds.maybe)."""
    model, ns = request.model, request.namespace
    status = "ok" if code == 200 else "error"
    add(key("model_requests_total", model=model, namespace=ns, status=status))
    add(key("model_request_duration_seconds_count", model=model))
    add(key("http_requests_total", api=API, method="POST", status=str(code)))
    add(key("http_request_duration_seconds_count", api=API, status=str(code)))
    if code == 200:
        tokens_in = token_service.input_tokens([{"content": request.prompt}])
        tokens_out = request.max_tokens
        add(key("model_tokens_input_total", model=model, namespace=ns), tokens_in)
        add(key("model_tokens_output_total", model=model, namespace=ns), tokens_out)
        add(key("model_cost_usd_total", model=model, namespace=ns), token_service.cost(model, tokens_in, tokens_out))


def would_answer(request):
    """The HTTP status the token service gives `request`."""
    return 500 if token_service.MODELS[request.model].fails else 200


def from_load(results, bounds=None):
    """Bounds of the gateway's and the token service's counters after `results`."""
    bounds = bounds or Bounds()
    for r in results:
        q = r.request
        ns = q.namespace
        if r.answered:
            bounds.exact(key("gateway_requests_total", namespace=ns, status=str(r.status)))
            bounds.exact(key("gateway_request_duration_seconds_count", namespace=ns))
            if r.status == 429:
                bounds.exact(key("rate_limit_hits_total", namespace=ns, rule_type="quota"))
            cache = r.headers.get("x-cache")
            if cache == "HIT":
                bounds.exact(key("cache_hits_total", cache_type="response"))
            elif cache == "MISS":
                bounds.exact(key("cache_misses_total", cache_type="response"))
            if "x-worker-pid" in r.headers and r.status in (200, 500):
                upstream(bounds, bounds.exact, q, r.status)
            elif r.status == 502:
                upstream(bounds, bounds.maybe, q, would_answer(q))
            continue
        # Unanswered: the gateway may have counted it, under the status it would have had.
        if ns == "free-tier":
            statuses = ["429"]
        else:
            statuses = [str(would_answer(q)), "502"]
        for s in statuses:
            bounds.maybe(key("gateway_requests_total", namespace=ns, status=s))
        bounds.maybe(key("gateway_request_duration_seconds_count", namespace=ns))
        if ns == "free-tier":
            bounds.maybe(key("rate_limit_hits_total", namespace=ns, rule_type="quota"))
            continue
        if q.cacheable:
            bounds.maybe(key("cache_hits_total", cache_type="response"))
            bounds.maybe(key("cache_misses_total", cache_type="response"))
        upstream(bounds, bounds.maybe, q, would_answer(q))
    return bounds


RECORDER_BOUNDS = (1, 2, 4, 8, 16, 32)
USERS, USER_LIMIT = 10, 8


def from_recorders(threads, count, langs=("c", "rust"), bounds=None):
    """The exact values of the C and Rust programs' families (core/examples/e2e_recorder.rs)."""
    bounds = bounds or Bounds()
    values = [i % 40 for i in range(count)]
    for lang in langs:
        for t in range(threads):
            bounds.exact(key("recorder_events_total", lang=lang, thread=str(t)), count)
        bounds.exact(key("recorder_cost_usd_total", lang=lang), 0.125 * count * threads)
        bounds.exact(key("recorder_batch_size_count", lang=lang), count * threads)
        bounds.exact(key("recorder_batch_size_sum", lang=lang), float(sum(values) * threads))
        for le in RECORDER_BOUNDS:
            n = sum(1 for v in values if v <= le) * threads
            bounds.exact(key("recorder_batch_size_bucket", lang=lang, le=f"{float(le)}"), n)
        bounds.exact(key("recorder_batch_size_bucket", lang=lang, le="+Inf"), count * threads)
    if "rust" in langs:
        for k in range(USER_LIMIT):
            bounds.exact(key("recorder_users_total", user=f"u{k}"), (k + 1) * threads)
        overflowed = range(USER_LIMIT, USERS)
        bounds.exact(key("recorder_users_total", otel_metric_overflow="true"), sum(k + 1 for k in overflowed) * threads)
        bounds.exact(key("metricore_series_overflow_total", family="recorder_users"), len(overflowed))
    return bounds


# Counters that nothing in the scenario should move: the file's own, and the gateway's.
ZERO = [
    key("metricore_errors_total"),
    key("metricore_region_faults_total"),
    key("metricore_lost_recordings_total"),
    key("metricore_processes_without_slot_total"),
    key("metricore_exemplars_dropped_total"),
    key("metricore_stale_recordings_total"),
    key("metricore_series_expired_total"),
]
GATEWAY_ZERO = [
    key("nginx_metric_errors_total"),
    key("nginx_metric_series_removed_total"),
]


def all_bounds(results, threads, count, gateway=True):
    bounds = from_load(results)
    from_recorders(threads, count, bounds=bounds)
    for k in ZERO + GATEWAY_ZERO if gateway else ZERO:
        bounds.exact(k, 0)
    return bounds
