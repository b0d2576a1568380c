#!/usr/bin/env python3
"""What an open dashboard costs kinesind: PutRecord throughput (wrk, 16 connections, 100-byte
records, --fsync always) with nothing watching, and with a client fetching what an open
dashboard page fetches: /api/overview, /api/streams, the stream's /api/streams/NAME and
/api/consumers every 2 s (the page's refresh), plus /metrics every second (a busy Prometheus).
Rounds alternate quiet / watched so drift on a shared machine hits both alike; prints each
round and the ratio of the medians.

    python3 bench/dashboard.py [--seconds 10] [--rounds 3] [--bin build/bin/kinesind]
"""

import argparse
import http.client
import json
import os
import statistics
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (Server, run_wrk, b64: the same harness as make bench)

STREAM = "dash-bench"


def watcher(port, stop, counts):
    """Fetches the dashboard's endpoints on the page's schedule until stop is set."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    page = ["/api/overview", "/api/streams", "/api/streams/" + STREAM, "/api/consumers"]
    next_page = next_metrics = time.monotonic()
    while not stop.is_set():
        now = time.monotonic()
        paths = []
        if now >= next_page:
            paths += page
            next_page = now + 2.0
        if now >= next_metrics:
            paths.append("/metrics")
            next_metrics = now + 1.0
        for p in paths:
            conn.request("GET", p)
            r = conn.getresponse()
            r.read()
            if r.status != 200:
                raise SystemExit("GET %s: %d" % (p, r.status))
            counts[0] += 1
        stop.wait(0.05)
    conn.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--conns", type=int, default=16)
    ap.add_argument("--bin", default=os.path.join(bench.ROOT, "build", "bin", "kinesind"))
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="kn-dash-bench-")
    srv = bench.Server("kinesind", tmp, binary=args.bin)
    try:
        srv.create(STREAM, 4)
        body = os.path.join(tmp, "put.json")
        with open(body, "w") as f:
            json.dump({"StreamName": STREAM, "PartitionKey": "pk", "Data": bench.b64(100, b"x")}, f)
        bench.run_wrk(srv, "PutRecord", body, args.conns, 2)  # warm up
        quiet, watched = [], []
        for r in range(args.rounds):
            q = bench.run_wrk(srv, "PutRecord", body, args.conns, args.seconds)
            quiet.append(q["req_s"])
            stop, counts = threading.Event(), [0]
            t = threading.Thread(target=watcher, args=(srv.port, stop, counts))
            t.start()
            w = bench.run_wrk(srv, "PutRecord", body, args.conns, args.seconds)
            stop.set()
            t.join()
            watched.append(w["req_s"])
            print("round %d: quiet %.0f req/s, watched %.0f req/s (%d dashboard GETs), errors %d/%d"
                  % (r + 1, q["req_s"], w["req_s"], counts[0], q["errors"], w["errors"]))
        mq, mw = statistics.median(quiet), statistics.median(watched)
        print("PutRecord median: quiet %.0f req/s, watched %.0f req/s: %.1f%% of quiet" % (mq, mw, 100 * mw / mq))
    finally:
        srv.stop()


if __name__ == "__main__":
    main()
