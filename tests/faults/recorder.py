"""The Python process of the vanished-file tests: records into a shared registry file
until SIGTERM, through a metric object made once and a child looked up per recording.

    recorder.py FILE

    faults_held_total{lang="py"}     through the child made at start
    faults_looked_total{lang="py"}   through labels() per recording
"""

import signal
import sys
import time

import metricore

stop = False


def on_term(*_):
    global stop
    stop = True


signal.signal(signal.SIGTERM, on_term)
metricore.use_shared(sys.argv[1])
held_family = metricore.Counter("faults_held", "Recorded through one handle.", ["lang"])
looked = metricore.Counter("faults_looked", "Recorded through a lookup each time.", ["lang"])
held = held_family.labels("py")
print("ready", flush=True)
while not stop:
    for _ in range(100):
        held.inc()
        looked.labels("py").inc()
    time.sleep(0.001)
print("done", flush=True)
