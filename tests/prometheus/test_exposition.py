"""What `metricore serve` answers, read by promtool and by prometheus_client's parsers,
over real HTTP."""

import gzip
import re
import subprocess

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_text

from conftest import http_get, serve, start_writers

OM_ACCEPT = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"
ODD = ['quote"d', "back\\slash", "new\nline", "ünïcödé ✓"]


@pytest.fixture(scope="module")
def url(exporter):
    return exporter[0]


def scrape(url, accept=None, gzipped=False):
    headers = {}
    if accept:
        headers["Accept"] = accept
    if gzipped:
        headers["Accept-Encoding"] = "gzip"
    status, h, body = http_get(url, headers)
    assert status == 200
    if gzipped:
        assert h["Content-Encoding"] == "gzip"
        body = gzip.decompress(body)
    return h["Content-Type"], body.decode("utf-8")


def promtool(text):
    r = subprocess.run(
        ["promtool", "check", "metrics"], input=text.encode(), capture_output=True, timeout=30
    )
    return r.returncode, (r.stdout + r.stderr).decode()


def test_promtool_accepts_the_prometheus_text(url):
    for gzipped in (False, True):
        ctype, text = scrape(url, gzipped=gzipped)
        assert ctype == "text/plain; version=0.0.4; charset=utf-8"
        code, out = promtool(text)
        assert code == 0, out + text


def test_promtool_parses_the_openmetrics_text(url):
    """promtool 2.42 reads only the Prometheus text format. OpenMetrics output without
    info or state set families parses as such; its one complaint is that a counter's
    `x_total` sample has no HELP of its own (OpenMetrics names the family `x`)."""
    ctype, text = scrape(url, accept=OM_ACCEPT)
    assert ctype == "application/openmetrics-text; version=1.0.0; charset=utf-8; escaping=underscores"
    code, out = promtool(text)
    counters = set(re.findall(r"^# TYPE (\S+) counter$", text, re.M))
    complaints = [line for line in out.splitlines() if line.strip()]
    assert code in (0, 3), out
    for line in complaints:
        m = re.fullmatch(r"(\S+)_total no help text", line)
        assert m and m.group(1) in counters, line


def test_utf8_names_are_quoted_only_when_asked_for(url):
    """Prometheus 2 asks for no escaping scheme and gets legacy names; Prometheus 3
    asks for `allow-utf-8` and gets the names as they are, quoted."""
    for accept in (None, OM_ACCEPT):
        _, text = scrape(url, accept=accept)
        assert '\npaced_utf8_total{code_class="2xx"} 2' in text, text
        assert "paced.utf8" not in text
    _, text = scrape(url, accept="text/plain;version=0.0.4")
    assert promtool(text)[0] == 0
    prometheus_3 = (
        "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,"
        "text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3"
    )
    ctype, text = scrape(url, accept=prometheus_3)
    assert ctype == "application/openmetrics-text; version=1.0.0; charset=utf-8; escaping=allow-utf-8"
    assert '\n{"paced.utf8_total","code.class"="2xx"} 2\n' in text, text
    families = {f.name: f for f in parse_openmetrics(text)}
    assert [(s.labels, s.value) for s in families["paced.utf8"].samples if s.name.endswith("_total")] == [
        ({"code.class": "2xx"}, 2.0)
    ]


def test_prometheus_client_text_parser_reads_it(url):
    _, text = scrape(url)
    families = {f.name: f for f in parse_text(text)}
    odd = families["paced_odd"]
    assert odd.type == "counter"
    assert sorted(s.labels["value"] for s in odd.samples) == sorted(ODD)
    assert all(s.value == 2 for s in odd.samples)  # one per writer
    assert families["paced_constant"].samples[0].value == 7.0
    hist = families["paced_latency_seconds"]
    assert hist.type == "histogram"
    buckets = [s for s in hist.samples if s.name.endswith("_bucket")]
    assert [s.labels["le"] for s in buckets][-1] == "+Inf"
    count = next(s.value for s in hist.samples if s.name.endswith("_count"))
    assert buckets[-1].value == count
    assert families["process_cpu_seconds"].type == "counter"


def test_prometheus_client_openmetrics_parser_reads_it(url):
    _, text = scrape(url, accept=OM_ACCEPT, gzipped=True)
    assert text.endswith("# EOF\n")
    families = {f.name: f for f in parse_openmetrics(text)}
    odd = families["paced_odd"]
    assert sorted(s.labels["value"] for s in odd.samples) == sorted(ODD)
    requests = families["paced_requests"]
    assert requests.type == "counter"
    assert {(s.labels["model"], s.labels["namespace"]) for s in requests.samples} == {
        ("gpt-4", "wechat"), ("gpt-4", "search"), ("llama-3-70b", "wechat"), ("llama-3-70b", "search"),
    }
    assert families["process_cpu_seconds"].unit == "seconds"
    assert families["process_resident_memory_bytes"].samples[0].value > 0


def test_errors_of_the_endpoint(url):
    base = url[: -len("/metrics")]
    assert http_get(base + "/")[0] == 404
    assert http_get(base + "/metrics/extra")[0] == 404


def test_several_registry_files_are_one_exposition(writers, processes, tmp_path):
    other = start_writers(processes, str(tmp_path / "other.metricore"))
    both, _ = serve(processes, writers, other, name="metricore-serve-two-files")
    for accept, parse in ((None, parse_text), (OM_ACCEPT, parse_openmetrics)):
        _, text = scrape(both, accept=accept)
        assert text.count("# TYPE paced_requests") == 1
        families = {f.name: f for f in parse(text)}
        # Two files with two writers each: every series is the sum of four.
        odd = families["paced_odd"]
        assert all(s.value == 4 for s in odd.samples), odd.samples
        assert families["paced_constant"].samples[0].value == 14.0
    _, text = scrape(both)
    code, out = promtool(text)
    assert code == 0, out + text
