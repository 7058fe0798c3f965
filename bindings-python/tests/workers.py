"""Code run in worker processes by the multi-process tests (importable by spawn)."""

import os
import signal
import time

N = 20000


def record(worker):
    """Records N of everything into the default registry, shared through
    METRICORE_REGISTRY (read at import)."""
    import metricore

    assert metricore.REGISTRY.shared_path == os.environ["METRICORE_REGISTRY"]
    c = metricore.Counter("jobs", "Jobs.")
    by = metricore.Counter("jobs_by_worker", "Jobs by worker.", ["worker", "parity"])
    h = metricore.Histogram("job_size", "Size.", buckets=[1, 10])
    g = metricore.Gauge("workers_seen", "Workers.", multiprocess_mode="livesum")
    gall = metricore.Gauge("worker_pid", "Pid per worker.", multiprocess_mode="all")
    gall.set(os.getpid())
    g.inc()
    for i in range(N):
        c.inc()
        by.labels(str(worker), "even" if i % 2 == 0 else "odd").inc()
        h.observe(i % 20)
    return os.getpid()


def hold_inprogress(path, ready):
    """Raises a livesum in-progress gauge, says so, and waits to be killed."""
    import metricore

    metricore.use_shared(path)
    g = metricore.Gauge("busy", "Requests in progress.", multiprocess_mode="livesum")
    with g.track_inprogress():
        ready.set()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            time.sleep(0.05)
    os.kill(os.getpid(), signal.SIGKILL)
