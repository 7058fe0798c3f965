"""A slow-header client for the resilience test: holds CONNECTIONS connections to
HOST:PORT open, each sending a request head one short header line every INTERVAL
seconds and never finishing it, and reconnects every connection the server closes,
until SECONDS have passed. Loopback only; bounded in count and time; stops by itself.

    python slowloris.py 127.0.0.1 9464 1000 15

Prints `open N` once N connections are open, then `stats open=... reconnects=...`
every second, and `done ...` at the end."""

import errno
import resource
import selectors
import socket
import sys
import time

INTERVAL = 0.5


def main():
    host, port, count, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    if not host.startswith("127.") and host != "localhost":
        sys.exit("slowloris: loopback addresses only")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < count + 64:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, count + 64), hard))
    deadline = time.monotonic() + seconds
    sel = selectors.DefaultSelector()
    conns = {}
    reconnects = 0
    failures = 0

    def connect():
        nonlocal failures
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect((host, port))
        except BlockingIOError:
            pass
        except OSError:
            failures += 1
            s.close()
            return
        conns[s] = 0
        sel.register(s, selectors.EVENT_READ)

    def drop(s):
        sel.unregister(s)
        del conns[s]
        s.close()

    for _ in range(count):
        connect()
    # Wait for the connections to be established and send the request line.
    started = False
    next_tick = time.monotonic()
    last_stats = 0.0
    while time.monotonic() < deadline:
        # A readable connection was closed (or answered 408) by the server.
        for key, _ in sel.select(timeout=0.05):
            s = key.fileobj
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            if not data:
                drop(s)
                reconnects += 1
                connect()
        now = time.monotonic()
        if now >= next_tick:
            next_tick = now + INTERVAL
            for s in list(conns):
                n = conns[s]
                chunk = b"GET /metrics HTTP/1.1\r\nHost: x\r\n" if n == 0 else b"X-a: b\r\n"
                try:
                    s.send(chunk)
                    conns[s] = n + 1
                except BlockingIOError:
                    pass
                except OSError as e:
                    if e.errno in (errno.ENOTCONN,):  # still connecting
                        continue
                    drop(s)
                    reconnects += 1
                    connect()
            if not started and len(conns) >= count:
                started = True
                print(f"open {len(conns)}", flush=True)
        if now - last_stats >= 1:
            last_stats = now
            print(f"stats open={len(conns)} reconnects={reconnects} failures={failures}", flush=True)
    print(f"done open={len(conns)} reconnects={reconnects} failures={failures}", flush=True)
    for s in list(conns):
        drop(s)


if __name__ == "__main__":
    main()
