"""A real Prometheus server scrapes `metricore serve` every second while two writer
processes record at known rates (core/examples/paced.rs); PromQL must return them.

Tolerances. The writers hold their rates exactly on average (each 10 ms tick brings
every counter to rate x elapsed). What Prometheus sees is off by the time between a
scrape's timestamp and the moment the exporter reads the cells (a few ms), plus one
10 ms tick of the writer: at most ~20 ms out of a rate window of 10 scrape intervals
(10 s), so 0.2 %. The tests allow 5 %. A quantile from buckets 0.1 wide over a
uniform distribution is exact up to the part of one 100-observation cycle cut off at
each end of the window (1 % of the observations per writer): 0.01 of a bucket width,
and the tests allow 0.02.
"""

import pytest

from conftest import SCRAPE_INTERVAL

# Increments per second of paced_requests_total per writer (core/examples/paced.rs).
RATES = {
    ("gpt-4", "wechat"): 40,
    ("gpt-4", "search"): 20,
    ("llama-3-70b", "wechat"): 10,
    ("llama-3-70b", "search"): 30,
}
WRITERS = 2
WINDOW = f"{int(10 * SCRAPE_INTERVAL)}s"
REL_TOLERANCE = 0.05


@pytest.fixture(scope="module")
def scraped(prometheus):
    """Prometheus, once the window of the rate queries is full of scrapes."""
    prometheus.wait_for(
        "a full rate window of scrapes",
        f'count_over_time(paced_constant[{WINDOW}]) >= 10',
        timeout=60,
    )
    return prometheus


def test_the_exporter_is_up(prometheus):
    result = prometheus.wait_for("up == 1", 'up{job="metricore"} == 1')
    assert len(result) == 1


def test_a_utf8_name_reaches_prometheus_2_with_underscores(scraped):
    """Prometheus 2.42 does not know UTF-8 names and asks for no escaping scheme: it
    gets `paced.utf8` with underscores, one increment per writer."""
    result = scraped.query('paced_utf8_total{code_class="2xx"}')
    assert [v for _, v in result] == [WRITERS], result


def test_rate_of_a_counter_at_a_known_rate(scraped):
    result = scraped.query(f'rate(paced_requests_total{{model="gpt-4",namespace="wechat"}}[{WINDOW}])')
    assert len(result) == 1, result
    expected = WRITERS * RATES[("gpt-4", "wechat")]
    assert result[0][1] == pytest.approx(expected, rel=REL_TOLERANCE)


def test_sum_by_model_and_namespace(scraped):
    result = scraped.query(f"sum by (model, namespace) (rate(paced_requests_total[{WINDOW}]))")
    got = {(m["model"], m["namespace"]): v for m, v in result}
    assert set(got) == set(RATES)
    for key, rate in RATES.items():
        assert got[key] == pytest.approx(WRITERS * rate, rel=REL_TOLERANCE), key
    by_model = {m["model"]: v for m, v in scraped.query(f"sum by (model) (rate(paced_requests_total[{WINDOW}]))")}
    assert by_model["gpt-4"] == pytest.approx(WRITERS * 60, rel=REL_TOLERANCE)
    assert by_model["llama-3-70b"] == pytest.approx(WRITERS * 40, rel=REL_TOLERANCE)


def test_histogram_quantiles_of_a_uniform_distribution(scraped):
    for q in (0.5, 0.95, 0.99):
        result = scraped.query(
            f"histogram_quantile({q}, sum by (le) (rate(paced_latency_seconds_bucket[{WINDOW}])))"
        )
        assert len(result) == 1, result
        assert result[0][1] == pytest.approx(q, abs=0.02), q
    count = scraped.query(f"rate(paced_latency_seconds_count[{WINDOW}])")
    assert count[0][1] == pytest.approx(WRITERS * 100, rel=REL_TOLERANCE)
    mean = scraped.query(
        f"rate(paced_latency_seconds_sum[{WINDOW}]) / rate(paced_latency_seconds_count[{WINDOW}])"
    )
    assert mean[0][1] == pytest.approx(0.5, abs=0.02)


def test_label_values_survive_the_scrape(prometheus):
    result = prometheus.wait_for("paced_odd_total scraped", "paced_odd_total")
    values = sorted(m["value"] for m, _ in result)
    assert values == sorted(['quote"d', "back\\slash", "new\nline", "ünïcödé ✓"])
    assert all(v == WRITERS for _, v in result)


def test_self_metrics_and_process_metrics_are_scraped(prometheus):
    series = prometheus.wait_for("metricore_series scraped", "metricore_series")
    assert series[0][1] == 11  # 1 gauge, 1 histogram, 4 odd labels, 4 rates, 1 UTF-8 name
    assert prometheus.wait_for("metricore_region_used_bytes", "metricore_region_used_bytes > 0")
    cpu = prometheus.wait_for("process_cpu_seconds_total", "process_cpu_seconds_total")
    assert cpu[0][1] >= 0
    assert prometheus.wait_for("process_open_fds", "process_open_fds > 0")
