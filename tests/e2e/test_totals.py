"""After the run, every counter in `/metrics` equals what the load generator and the C
and Rust programs sent: exactly for everything acknowledged, within the bounds of the
requests in flight at a kill (expect.py) for the rest."""

import re
from collections import Counter

import expect
import token_service
from .conftest import IN_FLIGHT, SUMMARY, families, samples
from expect import key

# Families of the exporter's own process; they start again with each `metricore serve`.
PROCESS = re.compile(r"^process_")


def fmt(k):
    name, labels = k
    return name + "{" + ",".join(f'{n}="{v}"' for n, v in labels) + "}"


def test_answers_are_what_the_mix_asks_for(run):
    """Each answer is the one its request calls for; the only others are 502s from
    the token service's worker kill, and requests left unanswered by the nginx worker's."""
    wrong = []
    for r in run.load.results:
        q = r.request
        if not r.answered:
            continue
        if q.namespace == "free-tier":
            want = {429}
        else:
            want = {expect.would_answer(q), 502}
        if r.status not in want:
            wrong.append((q, r.status, r.body[:200]))
            continue
        if r.status == 200:
            usage = r.json()["usage"]
            tokens_in = token_service.input_tokens([{"content": q.prompt}])
            if usage != {"prompt_tokens": tokens_in, "completion_tokens": q.max_tokens}:
                wrong.append((q, r.status, usage))
        if q.cacheable and q.namespace != "free-tier" and r.headers.get("x-cache") not in ("HIT", "MISS"):
            wrong.append((q, r.status, "no X-Cache"))
    assert not wrong, wrong[:10]
    statuses = Counter(r.status for r in run.load.results)
    SUMMARY.append("answers: " + ", ".join(f"{s or 'none'}: {n}" for s, n in sorted(statuses.items(), key=str)))
    assert statuses[200] > 1000 and statuses[429] > 50 and statuses[500] > 50


def test_unanswered_requests_were_in_flight_at_the_nginx_worker_kill(run):
    """The requests that got no answer are exactly those in flight at the nginx kill,
    and the 502s those in flight at the uvicorn kill: nothing else was lost."""
    for r in run.load.results:
        if not r.answered:
            assert r.started <= run.nginx_killed_at + 0.5 and r.ended >= run.nginx_killed_at - 0.5, (r.error, r.request)
        elif r.status == 502:
            assert r.started <= run.uvicorn_killed_at + 0.5 and r.ended >= run.uvicorn_killed_at - 0.5, r.request


def test_every_counter_equals_what_was_sent(run):
    bounds = expect.all_bounds(run.load.results, run.threads, run.count)
    fams = families(run.final_text)
    problems = []
    checked = exact = 0
    for name, family in fams.items():
        if PROCESS.match(name):
            continue
        for s in family.samples:
            k = key(s.name, **s.labels)
            if family.type == "counter" or (family.type == "histogram" and s.name.endswith("_count")):
                pass  # every counter, and the count of every histogram
            elif not (family.type == "histogram" and name.startswith("recorder_")):
                continue  # the C and Rust programs' histograms are exact in every sample
            if k not in bounds:
                problems.append(f"{fmt(k)} = {s.value}: nothing was sent that it counts")
                continue
            low, high = bounds[k]
            checked += 1
            exact += low == high
            if not low <= s.value <= high:
                want = f"{low}" if low == high else f"between {low} and {high}"
                problems.append(f"{fmt(k)} = {s.value}, expected {want}")
    for k, (low, _) in bounds.items():
        if low > 0 and k not in samples(run.final_text):
            problems.append(f"{fmt(k)} is missing, expected at least {low}")
    assert not problems, "\n".join(problems)
    final = run.final
    ambiguous = [(fmt(k), lo, hi, final.get(k, 0)) for k, (lo, hi) in bounds.items() if lo != hi]
    SUMMARY.append(
        f"totals: {checked} counter samples checked, {exact} exactly, {len(ambiguous)} within the bounds of "
        f"requests in flight at a kill"
    )
    totals = run.final
    tokens_in = sum(v for (n, _), v in totals.items() if n == "model_tokens_input_total")
    tokens_out = sum(v for (n, _), v in totals.items() if n == "model_tokens_output_total")
    cost = sum(v for (n, _), v in totals.items() if n == "model_cost_usd_total")
    gateway = sum(v for (n, _), v in totals.items() if n == "gateway_requests_total")
    model = sum(v for (n, _), v in totals.items() if n == "model_requests_total")
    events = sum(v for (n, _), v in totals.items() if n == "recorder_events_total")
    SUMMARY.append(
        f"totals: gateway_requests {gateway:.0f}, model_requests {model:.0f}, input tokens {tokens_in:.0f}, "
        f"output tokens {tokens_out:.0f}, cost ${cost:.6f}, C and Rust events {events:.0f}"
    )
    for name, lo, hi, got in ambiguous:
        SUMMARY.append(f"  in flight at a kill: {name} = {got:g}, in [{lo:g}, {hi:g}]")


def test_histograms_are_consistent(run):
    """Buckets never decrease, the +Inf bucket is the count, and the gateway counted
    each request once in its requests and once in its latency."""
    problems = []
    for name, family in families(run.final_text).items():
        if family.type != "histogram":
            continue
        series = {}
        for s in family.samples:
            labels = {k: v for k, v in s.labels.items() if k != "le"}
            entry = series.setdefault(tuple(sorted(labels.items())), {"buckets": []})
            if s.name.endswith("_bucket"):
                entry["buckets"].append((float(s.labels["le"]), s.value))
            elif s.name.endswith("_count"):
                entry["count"] = s.value
        for labels, e in series.items():
            b = [v for _, v in sorted(e["buckets"])]
            if b != sorted(b) or not b or b[-1] != e.get("count"):
                problems.append(f"{name}{dict(labels)}: buckets {b}, count {e.get('count')}")
    assert not problems, problems
    f = run.final
    for ns in ("wechat", "search", "free-tier"):
        requests = sum(v for (n, labels), v in f.items() if n == "gateway_requests_total" and dict(labels)["namespace"] == ns)
        assert f[key("gateway_request_duration_seconds_count", namespace=ns)] == requests, ns


def test_gauges_are_back_to_zero(run):
    """In-flight gauges (livesum) are 0 once the load is over: the killed workers'
    requests left with them."""
    f = run.final
    gauges = {k: v for k, v in f.items() if k[0] in IN_FLIGHT}
    assert any(k[0] == "gateway_in_flight_requests" for k in gauges)
    assert any(k[0] == "model_in_flight_requests" for k in gauges)
    assert {k: v for k, v in gauges.items() if v != 0} == {}


def test_three_languages_render_the_same_registry(run):
    """nginx (Lua), a token service worker (Python) and `metricore serve` (Rust) render
    the same file: the same samples, apart from each process's own metrics and the
    `_created` samples Python adds, as prometheus_client does."""
    own = re.compile(r"^(process_|python_)")

    def shared(text):
        return {k: v for k, v in samples(text).items() if not own.match(k[0])}

    served = shared(run.final_text)
    assert not any(k[0].endswith("_created") for k in served)
    assert shared(run.gateway_text) == served
    python = shared(run.token_text)
    created = {k for k in python if k[0].endswith("_created")}
    assert created, "the token service renders _created samples"
    assert {k: v for k, v in python.items() if k not in created} == served
