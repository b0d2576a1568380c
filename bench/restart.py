#!/usr/bin/env python3
"""Restart time with a lot of data stored: fills a kinesind data dir with --gb gigabytes (4
shards, 1 MiB records through PutRecords, --fsync never to fill fast), stops it, then times a
fresh kinesind from exec until it has answered a GetRecords on every shard. Run by
`bench/run --restart-gb N` after the side-by-side table; loopback only, bounded by --gb."""

import argparse
import base64
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import HEADERS, ROOT, free_port  # noqa: E402

BIN = os.path.join(ROOT, "build-bench", "bin", "kinesind")


def call(port, op, payload, conn=None):
    c = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    h = dict(HEADERS)
    h["X-Amz-Target"] = "Kinesis_20131202." + op
    c.request("POST", "/", body=payload if isinstance(payload, (bytes, str)) else json.dumps(payload), headers=h)
    r = c.getresponse()
    body = r.read()
    if conn is None:
        c.close()
    if r.status != 200:
        raise RuntimeError("%s: %d %s" % (op, r.status, body[:200]))
    return json.loads(body) if body else {}


def start(data, port, extra=()):
    log = open(os.path.join(os.path.dirname(data), "kinesind.log"), "ab")
    return subprocess.Popen([BIN, "--port", str(port), "--data-dir", data, "--create-stream-ms", "0"] + list(extra),
                            stdout=log, stderr=log)


def wait_serving(port, shards, deadline):
    while time.time() < deadline:
        try:
            for i in range(shards):
                it = call(port, "GetShardIterator", {"StreamName": "big", "ShardId": "shardId-%012d" % i,
                                                     "ShardIteratorType": "TRIM_HORIZON"})["ShardIterator"]
                call(port, "GetRecords", {"ShardIterator": it, "Limit": 1})
            return True
        except (OSError, RuntimeError):
            time.sleep(0.002)
    return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gb", type=float, default=1.0)
    ap.add_argument("--shards", type=int, default=4)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="kn-restart-")
    data = os.path.join(tmp, "data")
    port = free_port()
    try:
        p = start(data, port, ["--fsync", "never"])
        time.sleep(0.3)
        call(port, "CreateStream", {"StreamName": "big", "ShardCount": args.shards})
        record = base64.b64encode(os.urandom(1024 * 1000)).decode()
        body = json.dumps({"StreamName": "big", "Records": [
            {"Data": record, "PartitionKey": "k%d" % i} for i in range(5)]}).encode()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        target = args.gb * 1e9
        written, t0 = 0, time.time()
        while written < target:
            call(port, "PutRecords", body, conn)
            written += 5 * 1024 * 1000
        conn.close()
        fill_s = time.time() - t0
        p.send_signal(signal.SIGTERM)
        p.wait(60)
        subprocess.run(["sync"])
        du = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(data) for f in fs)
        t0 = time.perf_counter()
        p = start(data, port)
        ok = wait_serving(port, args.shards, time.time() + 60)
        ready = time.perf_counter() - t0
        p.send_signal(signal.SIGTERM)
        p.wait(60)
        print(json.dumps({"stored_gb": round(du / 1e9, 2), "fill_seconds": round(fill_s, 1),
                          "restart_to_serving_ms": round(ready * 1000, 1), "served": ok}))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
