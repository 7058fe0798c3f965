"""Uses an installed metricore wheel: records into a registry, renders it, and checks
the package's version. tests/dist/run.sh runs it with each wheel's Python, and mypy
checks it against the package's type stubs (`mypy --strict`), as a user's code would be.

    python check_wheel.py VERSION
"""

import sys

import metricore
from metricore import CollectorRegistry, Counter, Histogram, generate_latest


def render(registry: CollectorRegistry) -> str:
    """Records a counter and a histogram into `registry` and returns its text."""
    requests = Counter("dist_requests", "Requests.", ["model"], registry=registry)
    latency = Histogram("dist_latency_seconds", "Latency.", registry=registry)
    requests.labels("gpt-4").inc()
    requests.labels(model="gpt-4").inc(2)
    latency.observe(0.25)
    return generate_latest(registry).decode()


def main(version: str) -> int:
    text = render(CollectorRegistry())
    expected = [
        'dist_requests_total{model="gpt-4"} 3.0',
        'dist_latency_seconds_bucket{le="0.25"} 1.0',
        "dist_latency_seconds_count 1.0",
    ]
    missing = [line for line in expected if line not in text.splitlines()]
    if missing:
        print(f"missing {missing} in:\n{text}", file=sys.stderr)
        return 1
    if metricore.__version__ != version:
        print(f"metricore.__version__ is {metricore.__version__}, not {version}", file=sys.stderr)
        return 1
    print(f"metricore {metricore.__version__} on Python {sys.version.split()[0]}: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
