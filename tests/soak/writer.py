"""The Python process of the series-lifecycle soak test, through the metricore
binding's prometheus_client API; it does what core/examples/soak_writer.rs does.

    writer.py FILE WRITER STOP EXPIRE_PER_SECOND REPORT
"""

import json
import os
import sys
import time

import metricore

LIVE = 100
INCREMENTS = 3
BATCH = 1000


def main():
    path, writer, stop, expire_rate, report = sys.argv[1:]
    expire_gap = 1.0 / float(expire_rate)
    metricore.use_shared(path)
    labels = ["writer", "id"]
    removed = metricore.Counter("soak_removed", "Series made and removed.", labels)
    expiring = metricore.Counter("soak_expiring", "Series made and left to expire.", labels, expire_after=0.2)
    live_family = metricore.Counter("soak_live", "Series recorded into throughout.", labels)
    live = [live_family.labels(writer, str(k)) for k in range(LIVE)]
    totals = [0] * LIVE
    print("ready", flush=True)

    start = time.monotonic()
    times = []
    last_expiring = None
    made = 0
    while not os.path.exists(stop):
        for _ in range(BATCH):
            id_ = str(made)
            now = time.monotonic()
            if last_expiring is None or now - last_expiring >= expire_gap:
                last_expiring = now
                c = expiring.labels(writer, id_)
                for _ in range(INCREMENTS):
                    c.inc()
            else:
                c = removed.labels(writer, id_)
                for _ in range(INCREMENTS):
                    c.inc()
                removed.remove(writer, id_)
            live[made % LIVE].inc()
            totals[made % LIVE] += 1
            made += 1
        times.append(round(time.monotonic() - start, 6))
    with open(report, "w") as f:
        json.dump({"writer": writer, "made": made, "batch": BATCH, "times": times,
                   "live": {str(k): totals[k] for k in range(LIVE)}}, f)
    print(f"done {made}", flush=True)


main()
