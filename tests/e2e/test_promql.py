"""What a real Prometheus, scraping `metricore serve` every second through the run,
makes of it: totals equal to /metrics, and the request rate by model, the success rate,
the p95 latency and the token totals by namespace consistent with what the load
generator sent; every query of the Grafana dashboard returns data.

Tolerances. The generator sends at a steady rate, so over a 20 s window the rate
Prometheus computes differs from the generator's own count of the window by what the
window's edges cut off between scrapes (at most a scrape interval, 1 s, at each end:
5 % of the window each) plus the time between a counter's increment and the client's
receipt of the answer (milliseconds). The tests allow 12 %.
"""

import json
import math
import os
import re

import pytest

import expect
from .conftest import RATE_INTERVAL, SUMMARY, WINDOW, samples
from harness import ROOT, http_get

DASHBOARD = os.path.join(ROOT, "deploy", "grafana", "metricore-llm-gateway.json")
REL = 0.12
MODELS = ("gpt-4", "llama-3-70b", "qwen-2", "slow-model", "broken-model")


def query(run, promql, at=None):
    return run.stack.prometheus.query(promql, at=at)


def by(result, *labels):
    return {tuple(m.get(label, "") for label in labels) if len(labels) > 1 else m.get(labels[0], ""): v
            for m, v in result}


def window(run):
    """(end, answered results from the token service ending within the window)."""
    end = run.load_stopped
    return end, [
        r for r in run.load.results
        if r.answered and end - WINDOW < r.ended <= end and "x-worker-pid" in r.headers and r.status in (200, 500)
    ]


def sum_final(run, name, *labels):
    out = {}
    for (n, lbls), v in run.final.items():
        if n == name:
            d = dict(lbls)
            k = tuple(d[label] for label in labels) if len(labels) > 1 else d[labels[0]] if labels else ""
            out[k] = out.get(k, 0) + v
    return out


def test_prometheus_scraped_the_exporter(run):
    up = query(run, 'up{job="metricore"}')
    assert [v for _, v in up] == [1]


@pytest.mark.parametrize(
    "promql, name, labels",
    [
        ("sum by (model) (model_requests_total)", "model_requests_total", ("model",)),
        ("sum by (model, namespace, status) (model_requests_total)", "model_requests_total", ("model", "namespace", "status")),
        ("sum by (namespace) (model_tokens_input_total)", "model_tokens_input_total", ("namespace",)),
        ("sum by (namespace) (model_tokens_output_total)", "model_tokens_output_total", ("namespace",)),
        ("sum by (namespace) (model_cost_usd_total)", "model_cost_usd_total", ("namespace",)),
        ("sum by (namespace, status) (gateway_requests_total)", "gateway_requests_total", ("namespace", "status")),
        ("sum by (namespace) (rate_limit_hits_total)", "rate_limit_hits_total", ("namespace",)),
        ("sum by (lang) (recorder_events_total)", "recorder_events_total", ("lang",)),
    ],
)
def test_totals_through_promql_equal_metrics(run, promql, name, labels):
    got = by(query(run, promql, at=run.prometheus_final_at), *labels)
    want = sum_final(run, name, *labels)
    assert got.keys() == want.keys()
    for k in want:
        assert got[k] == pytest.approx(want[k], rel=1e-12), k


def test_token_totals_by_namespace_match_the_load(run):
    """Final token totals by namespace, through Prometheus, within the load's bounds."""
    bounds = expect.from_load(run.load.results)
    for metric in ("model_tokens_input_total", "model_tokens_output_total"):
        got = by(query(run, f"sum by (namespace) ({metric})", at=run.prometheus_final_at), "namespace")
        for ns in ("wechat", "search"):
            low = sum(lo for (n, lbls), (lo, hi) in bounds.items() if n == metric and dict(lbls)["namespace"] == ns)
            high = sum(hi for (n, lbls), (lo, hi) in bounds.items() if n == metric and dict(lbls)["namespace"] == ns)
            assert low <= got[ns] <= high, (metric, ns, low, got[ns], high)
        assert "free-tier" not in got  # rate-limited at the gateway: never reached a model


def test_request_rate_by_model(run):
    end, answered = window(run)
    got = by(query(run, f"sum by (model) (rate(model_requests_total[{WINDOW}s]))", at=end), "model")
    for model in MODELS:
        want = sum(1 for r in answered if r.request.model == model) / WINDOW
        assert got[model] == pytest.approx(want, rel=REL), (model, got, want)
    total = query(run, f"sum(rate(gateway_requests_total[{WINDOW}s]))", at=end)[0][1]
    sent = sum(1 for r in run.load.results if r.answered and end - WINDOW < r.ended <= end) / WINDOW
    assert total == pytest.approx(sent, rel=REL)
    SUMMARY.append(
        f"PromQL at the end of the load: {total:.1f} requests/s at the gateway; by model "
        + ", ".join(f"{m} {got[m]:.1f}/s" for m in MODELS)
    )


def test_success_rate(run):
    end, answered = window(run)
    promql = (f'sum(rate(model_requests_total{{status="ok"}}[{WINDOW}s])) / '
              f"sum(rate(model_requests_total[{WINDOW}s]))")
    got = query(run, promql, at=end)[0][1]
    want = sum(1 for r in answered if r.status == 200) / len(answered)
    assert got == pytest.approx(want, abs=0.03)
    # The broken model never succeeds.
    assert query(run, 'model_requests_total{model="broken-model", status="ok"}', at=end) == []
    SUMMARY.append(f"PromQL success rate {got:.4f} (the load's: {want:.4f})")


def quantile(q, buckets):
    """histogram_quantile as Prometheus computes it, over [(le, cumulative count)]."""
    buckets = sorted(buckets)
    total = buckets[-1][1]
    if total == 0:
        return math.nan
    rank = q * total
    b = next(i for i, (_, c) in enumerate(buckets[:-1] + [(math.inf, math.inf)]) if c >= rank)
    if b == len(buckets) - 1:
        return buckets[-2][0]
    start, count = 0.0, buckets[b][1]
    if b > 0:
        start = buckets[b - 1][0]
        count -= buckets[b - 1][1]
        rank -= buckets[b - 1][1]
    return start + (buckets[b][0] - start) * rank / count


def model_buckets(s, model):
    return [
        (float(dict(lbls)["le"]), v) for (n, lbls), v in s.items()
        if n == "model_request_duration_seconds_bucket" and dict(lbls)["model"] == model
    ]


def test_p95_latency_by_model(run):
    """The p95 Prometheus computes over the window equals the p95 of the buckets'
    increase between two scrapes of our own at the window's edges, and lies in the
    buckets of the model's simulated latency."""
    import token_service

    end, answered = window(run)
    got = by(query(run, "histogram_quantile(0.95, sum by (le, model) "
                        f"(rate(model_request_duration_seconds_bucket[{WINDOW}s])))", at=end), "model")
    snaps = run.sampler.snapshots
    first = min(snaps, key=lambda s: abs(s[0] - (end - WINDOW)))
    last = min(snaps, key=lambda s: abs(s[0] - end))
    a, b = samples(first[1]), samples(last[1])
    lines = []
    for model in MODELS:
        before = dict(model_buckets(a, model))
        delta = [(le, v - before.get(le, 0)) for le, v in model_buckets(b, model)]
        want = quantile(0.95, delta)
        les = sorted(le for le, _ in delta)
        upper = next(le for le in les if le >= got[model])
        lower = max([0.0] + [le for le in les if le < upper])
        assert got[model] == pytest.approx(want, abs=0.25 * (upper - lower)), (model, got[model], want)
        latency = token_service.MODELS[model].latency
        floor = max([0.0] + [le for le in les if le < latency])
        slowest = max(r.ended - r.started for r in answered if r.request.model == model)
        ceiling = next(le for le in les if le >= slowest)
        assert floor <= got[model] <= ceiling, (model, floor, got[model], ceiling)
        lines.append(f"{model} {got[model] * 1e3:.1f} ms")
    # Over the whole run, from the totals: exactly what the buckets of /metrics say.
    total = by(query(run, "histogram_quantile(0.95, sum by (le, model) (model_request_duration_seconds_bucket))",
                     at=run.prometheus_final_at), "model")
    for model in MODELS:
        assert total[model] == pytest.approx(quantile(0.95, model_buckets(run.final, model)), rel=1e-9)
    SUMMARY.append("PromQL p95 model latency over the last 20 s: " + ", ".join(lines))


def test_no_counter_was_reset(run):
    """Killing workers and restarting the exporter reset nothing: the counters live in
    the file. (Only the exporter's own process metrics start again.)"""
    url = f"{run.stack.prometheus.url}/api/v1/label/__name__/values"
    names = json.loads(http_get(url)[2])["data"]
    counters = [n for n in names if re.search(r"(_total|_bucket|_count|_sum)$", n) and not n.startswith("process_")
                and not n.startswith(("scrape_", "prometheus_"))]
    assert "gateway_requests_total" in counters and "model_tokens_input_total" in counters
    reset = {}
    for name in counters:
        for labels, v in query(run, f"resets({name}[5m]) > 0", at=run.prometheus_final_at):
            reset[(name, tuple(sorted(labels.items())))] = v
    assert reset == {}


# Metric names the dashboard uses for what the scenario records under other names,
# those of deploy/nginx/metricore.conf and of the token service's design (right); the
# dashboard follows `metricore demo`, which records the left-hand names.
def dashboard_queries():
    with open(DASHBOARD) as f:
        dashboard = json.load(f)
    variables = {"$__rate_interval": RATE_INTERVAL, "$model": ".*", "$namespace": ".*", "${svc}": "http"}
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"]
            for name, value in variables.items():
                expr = re.sub(re.escape(name) + (r"\b" if name[-1].isalnum() else ""), value, expr)
            yield panel["title"], expr
    for var in dashboard.get("templating", {}).get("list", []):
        q = var.get("query")
        if isinstance(q, dict):
            yield f"variable {var['name']}", q["query"]


def without_data(run, queries):
    end = run.load_stopped
    empty = []
    for title, expr in queries:
        if expr.startswith("label_values("):
            metric, label = expr[len("label_values("):-1].split(", ")
            url = f"{run.stack.prometheus.url}/api/v1/label/{label}/values?match[]={metric}"
            if not json.loads(http_get(url)[2])["data"]:
                empty.append((title, expr))
        elif not query(run, expr, at=end):
            empty.append((title, expr))
    return empty


def test_every_dashboard_query_returns_data(run):
    """Every query of the dashboard, its template variables substituted, returns data."""
    queries = list(dashboard_queries())
    assert len(queries) >= 20
    empty = without_data(run, queries)
    assert not empty, "dashboard queries without data:\n" + "\n".join(f"{t}: {e}" for t, e in empty)
    SUMMARY.append(f"dashboard: all {len(queries)} queries of {os.path.relpath(DASHBOARD, ROOT)} return data")


def test_scrapes_during_the_load(run):
    """Prometheus scraped through the whole run but for the exporter's restart, and
    says how long its scrapes took."""
    span = f"{int(run.prometheus_final_at - run.load_started) + 1}s"
    at = run.prometheus_final_at
    ok = query(run, f'sum_over_time(up{{job="metricore"}}[{span}])', at=at)[0][1]
    down = query(run, f'count_over_time(up{{job="metricore"}}[{span}]) - sum_over_time(up{{job="metricore"}}[{span}])',
                 at=at)[0][1]
    assert ok >= 0.8 * (at - run.load_started)
    assert down <= 5  # the restart
    longest = query(run, f'max_over_time(scrape_duration_seconds{{job="metricore"}}[{span}])', at=at)[0][1]
    mean = query(run, f'avg_over_time(scrape_duration_seconds{{job="metricore"}}[{span}])', at=at)[0][1]
    SUMMARY.append(
        f"Prometheus: {ok:.0f} scrapes, {down:.0f} failed (during the exporter's restart); "
        f"scrape_duration_seconds mean {mean * 1e3:.2f} ms, max {longest * 1e3:.2f} ms"
    )

