#!/usr/bin/env python3
"""Load on freezectld (docs/daemon.md): CLIENTS clients, each on its own keep-alive connection,
each sending REQUESTS pause/unpause requests in pairs over the given targets (every client ends
each target it touched with an unpause, so when all are done nothing may be left frozen).

Prints one JSON object: requests, errors (the first 20), seconds, requests_per_second.
Exit status 1 when any request failed. Used by the tests (DaemonTests) and the benchmarks.
"""
import argparse
import http.client
import json
import socket
import sys
import threading
import time


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=60)
        self.socket_path = path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(60)
        sock.connect(self.socket_path)
        self.sock = sock


def run_client(index, args, targets, errors, lock):
    connection = UnixConnection(args.socket)
    for n in range(args.requests // 2):
        target = targets[(index + n) % len(targets)]
        for action in ("pause", "unpause"):
            body = json.dumps({"targets": [target], "timeout": "10s"})
            try:
                connection.request("POST", "/v1/" + action, body, {"Content-Type": "application/json"})
                response = connection.getresponse()
                data = response.read()
                answer = json.loads(data)
                results = answer.get("results", [])
                good = response.status == 200 and len(results) == 1 and results[0].get("result") in ("ok", "already")
                if good and action == "unpause" and results[0].get("state") != "thawed":
                    good = False
                if not good:
                    with lock:
                        errors.append({"client": index, "action": action, "target": target, "status": response.status,
                                       "body": data.decode("utf-8", "replace")[:300]})
            except Exception as error:  # a dropped connection is a failure too; reconnect and go on
                with lock:
                    errors.append({"client": index, "action": action, "target": target, "exception": repr(error)})
                connection.close()
                connection = UnixConnection(args.socket)
    connection.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--socket", required=True)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=200, help="per client, an even number")
    parser.add_argument("targets", nargs="+")
    args = parser.parse_args()
    errors, lock = [], threading.Lock()
    threads = [threading.Thread(target=run_client, args=(i, args, args.targets, errors, lock)) for i in range(args.clients)]
    start = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.monotonic() - start
    total = args.clients * (args.requests // 2) * 2
    print(json.dumps({"requests": total, "errors": errors[:20], "error_count": len(errors), "seconds": round(seconds, 3),
                      "requests_per_second": round(total / seconds, 1)}))
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
