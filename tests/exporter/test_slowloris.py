"""Scrapes keep being answered promptly while many clients hold connections open and
send their request heads slowly (slowloris). The short form runs in `make test`;
`make slowloris-test` runs a longer, larger one (SLOWLORIS_CONNECTIONS,
SLOWLORIS_SECONDS)."""

import http.client
import os
import sys
import time

from conftest import HERE, serve

CONNECTIONS = int(os.environ.get("SLOWLORIS_CONNECTIONS", "1200"))
SECONDS = float(os.environ.get("SLOWLORIS_SECONDS", "12"))
# Past the server's connection limit (4096) every new slow connection evicts an idle
# one; a client reconnecting at once then keeps the single I/O thread busy accepting.
MAX_P99 = float(os.environ.get("SLOWLORIS_MAX_P99", "1.0"))


def scrape(port):
    """Seconds one scrape takes on a new connection, as a scraper opening one does."""
    start = time.perf_counter()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        c.request("GET", "/metrics")
        r = c.getresponse()
        body = r.read()
        assert r.status == 200 and b"paced_requests_total" in body
    finally:
        c.close()
    return time.perf_counter() - start


def percentiles(samples):
    s = sorted(samples)
    pick = lambda q: s[min(len(s) - 1, int(q * len(s)))]  # noqa: E731
    return pick(0.50), pick(0.99), s[-1]


def scrapes_for(port, seconds, interval=0.05):
    samples = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        samples.append(scrape(port))
        time.sleep(interval)
    return samples


def test_scrapes_are_answered_under_slowloris(registry_file, processes):
    url, server = serve(processes, registry_file)
    port = int(url.split(":")[2].split("/")[0])
    quiet = scrapes_for(port, 3)
    attack = processes("slowloris", [sys.executable, os.path.join(HERE, "slowloris.py"),
                                     "127.0.0.1", str(port), str(CONNECTIONS), str(SECONDS + 15)])
    attack.wait_for_line(rf"open {CONNECTIONS}", 30)
    loaded = scrapes_for(port, SECONDS)
    server.check_running()
    stats = attack.log().strip().splitlines()
    attack.stop()
    q50, q99, qmax = percentiles(quiet)
    l50, l99, lmax = percentiles(loaded)
    peak = max(int(line.split("open=")[1].split()[0]) for line in stats if "open=" in line)
    print(f"\nscrape latency without load: p50 {q50 * 1000:.2f} ms, p99 {q99 * 1000:.2f} ms, "
          f"max {qmax * 1000:.2f} ms ({len(quiet)} scrapes)")
    print(f"scrape latency with {CONNECTIONS} slow-header connections (peak {peak} open, "
          f"{stats[-1]}): p50 {l50 * 1000:.2f} ms, p99 {l99 * 1000:.2f} ms, "
          f"max {lmax * 1000:.2f} ms ({len(loaded)} scrapes over {SECONDS:g} s)")
    assert peak >= CONNECTIONS * 0.9, stats[-3:]
    assert len(loaded) >= SECONDS * 5
    assert l99 < MAX_P99, (l50, l99, lmax)
