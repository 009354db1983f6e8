#!/usr/bin/env python3
"""The idle benchmark's client (freezectl-bench's IdleSuite), run inside a container's network
namespace (nsenter --net) while freezectld judges the container with an `after` of a few seconds.

    idle-client.py FREEZER_STATE ROUNDS TIMEOUT [OFFSET]

Waits OFFSET seconds (clients of several containers are spread over the quiet time, so that
their wakes do not all come at once), asks once (the container's quiet time starts), then each
round: waits until the container's
freezer.state says FROZEN (the idle controller froze it), times one request (the wake: the first
packet thaws it) and one right after (the same container, running), and prints one JSON line:
detect_s (from the end of the last request to FROZEN seen, read every 20 ms: reading more often,
20 clients took the CPU the wakes were measured on), wake_s, running_s,
and ok (both answers were the page, whole)."""
import json
import socket
import sys
import time

PAGE = b"hello-freezectl\n"


def frozen(path):
    with open(path) as state:
        return state.read().startswith("FROZEN")


def get():
    """One HTTP/1.0 request to the container's busybox httpd; (seconds, whether the page came whole)."""
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", 8080), timeout=30) as connection:
        connection.sendall(b"GET /index.html HTTP/1.0\r\n\r\n")
        data = b""
        while True:
            chunk = connection.recv(65536)
            if not chunk:
                break
            data += chunk
    return time.monotonic() - start, data.startswith(b"HTTP/1.") and data.endswith(PAGE)


def main():
    state, rounds, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    time.sleep(float(sys.argv[4]) if len(sys.argv) > 4 else 0)
    _, ok = get()
    last = time.monotonic()
    for _ in range(rounds):
        while not frozen(state):
            if time.monotonic() - last > timeout:
                print(json.dumps({"error": "not frozen within %.0f s" % timeout}), flush=True)
                return 1
            time.sleep(0.02)
        detect = time.monotonic() - last
        wake, woke = get()
        running, ran = get()
        last = time.monotonic()
        print(json.dumps({"detect_s": detect, "wake_s": wake, "running_s": running, "ok": ok and woke and ran}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
