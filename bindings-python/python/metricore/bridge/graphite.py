"""Pushing a registry's samples to Graphite's plaintext protocol, as
``prometheus_client.bridge.graphite`` does."""

import logging
import re
import socket
import threading
import time
from typing import Callable, Tuple

from ..registry import REGISTRY, CollectorRegistry
from ..utils import floatToGoString

# Characters Graphite takes in a path component; the others become "_".
_INVALID = re.compile(r"[^a-zA-Z0-9_-]")


def _sanitize(s: str) -> str:
    return _INVALID.sub("_", s)


class _RegularPush(threading.Thread):
    def __init__(self, bridge: "GraphiteBridge", interval: float, prefix: str):
        super().__init__(daemon=True)
        self._bridge = bridge
        self._interval = interval
        self._prefix = prefix

    def run(self) -> None:
        wait_until = time.time()
        while True:
            while True:
                now = time.time()
                if now >= wait_until:
                    # May need to skip some pushes.
                    while wait_until < now:
                        wait_until += self._interval
                    break
                time.sleep(wait_until - now)
            try:
                self._bridge.push(prefix=self._prefix)
            except OSError:
                logging.exception("Push failed")


class GraphiteBridge:
    """Sends every sample of ``registry`` to the Graphite server at ``address`` (a
    ``(host, port)`` pair): one line ``path value timestamp`` each, the path made of
    the sample name and its labels' names and values (``name.label.value``, or with
    ``tags``, ``name;label=value``), characters outside ``[a-zA-Z0-9_-]`` as ``_``."""

    def __init__(
        self,
        address: Tuple[str, int],
        registry: CollectorRegistry = REGISTRY,
        timeout_seconds: float = 30,
        _timer: Callable[[], float] = time.time,
        tags: bool = False,
    ):
        self._address = address
        self._registry = registry
        self._tags = tags
        self._timeout = timeout_seconds
        self._timer = _timer

    def push(self, prefix: str = "") -> None:
        """Sends the samples once; ``prefix`` goes before every path."""
        now = int(self._timer())
        lines = []
        lead = f"{prefix}." if prefix else ""
        for metric in self._registry.collect():
            for s in metric.samples:
                if self._tags:
                    labels = "".join(f";{_sanitize(k)}={_sanitize(v)}" for k, v in sorted(s.labels.items()))
                else:
                    labels = "".join(f".{_sanitize(k)}.{_sanitize(v)}" for k, v in sorted(s.labels.items()))
                lines.append(f"{lead}{s.name}{labels} {floatToGoString(s.value)} {now}\n")
        with socket.create_connection(self._address, self._timeout) as conn:
            conn.sendall("".join(lines).encode("ascii"))

    def start(self, interval: float = 60.0, prefix: str = "") -> None:
        """Pushes every ``interval`` seconds from a daemon thread."""
        _RegularPush(self, interval, prefix).start()


__all__ = ["GraphiteBridge"]
