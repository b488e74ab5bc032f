#!/usr/bin/env python3
"""A tiny concurrent HTTP client for the end-to-end tests, run inside a workload's network
namespace with `weftctl exec NAME -- python3 load.py URL ...` (so its connections are captured by
that workload's sidecar, like fortio in Istio's circuit-breaking task).

Prints {"<status>": count, ...} as JSON; "error" counts requests that got no answer.
"""
import argparse
import http.client
import json
import threading
import time
import urllib.parse


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("--requests", type=int, default=20, help="per connection")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--header", action="append", default=[], metavar="NAME:VALUE")
    parser.add_argument("--duration", type=float, default=0,
                        help="seconds to keep sending (per connection), instead of --requests")
    args = parser.parse_args()
    url = urllib.parse.urlsplit(args.url)
    headers = dict(h.split(":", 1) for h in args.header)
    counts = {}
    lock = threading.Lock()

    deadline = time.monotonic() + args.duration

    def more(sent):
        return time.monotonic() < deadline if args.duration else sent < args.requests

    def client():
        conn = None
        sent = 0
        while more(sent):
            sent += 1
            key = "error"
            try:
                conn = conn or http.client.HTTPConnection(url.hostname, url.port or 80, timeout=10)
                conn.request("GET", url.path or "/", headers=headers)
                resp = conn.getresponse()
                resp.read()
                key = str(resp.status)
                if resp.will_close:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException):
                if conn:
                    conn.close()
                conn = None
            with lock:
                counts[key] = counts.get(key, 0) + 1
        if conn:
            conn.close()

    threads = [threading.Thread(target=client) for _ in range(args.concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(json.dumps(counts, sort_keys=True))


if __name__ == "__main__":
    main()
