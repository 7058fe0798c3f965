"""`metricore serve` honours `name[]` in the query of /metrics, as client_golang's and
prometheus_client's handlers do, and reports its own process."""

import urllib.request

from conftest import serve


def type_names(text):
    return [line.split(" ")[2] for line in text.splitlines() if line.startswith("# TYPE ")]


def get(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        assert r.status == 200
        return r.read().decode()


def test_serve_renders_only_the_families_named(registry_file, processes):
    url, _ = serve(processes, registry_file)
    everything = type_names(get(url))
    assert {"paced_requests_total", "paced_constant", "process_cpu_seconds_total"} <= set(everything)

    text = get(url + "?name[]=paced_requests_total&name%5B%5D=paced_latency_seconds_count"
                     "&name[]=process_start_time_seconds")
    assert type_names(text) == ["paced_latency_seconds", "paced_requests_total", "process_start_time_seconds"], text
    assert "paced_latency_seconds_bucket{le=" in text
    assert "paced_constant" not in text

    assert get(url + "?name[]=absent") == ""
    assert type_names(get(url + "?other=1")) == everything
