#!/usr/bin/env python3
"""libkinesin's producer and consumer against a kinesind (in memory) on this machine:

  producer: 1,000,000 user records of 100 B through kn_producer with KPL aggregation into a
            128-shard stream (rate limit 150%, the KPL's default, allows 192 MiB/s), as fast as
            back-pressure allows, for each buffer size given; every delivery report is counted.
            Ordered (per-key order kept, 10,000 keys) and unordered (the KPL's behaviour).
  consumer: kn_consumer from TRIM_HORIZON over a 1-shard stream pre-filled with 2,000,000
            aggregated records of 100 B, counting user records in the process_records callback.

  python3 bench/libkinesin.py [--build build] [--records N]

Prints one JSON line per run (records/s, peak RSS) and a Markdown table."""
import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

ap = argparse.ArgumentParser()
ap.add_argument("--build", default="build")
ap.add_argument("--records", type=int, default=1000000)
args = ap.parse_args()
bindir = os.path.join(args.build, "bin")
bench = os.path.join(args.build, "bench", "libkinesin_bench")

s = socket.socket()
s.bind(("127.0.0.1", 0))
port = s.getsockname()[1]
s.close()
tmp = tempfile.mkdtemp(prefix="kn-bench-")
kd = subprocess.Popen([os.path.join(bindir, "kinesind"), "--port", str(port), "--in-memory", "--create-stream-ms", "0",
                       "--log-level", "warn"], stderr=open(os.path.join(tmp, "kinesind.log"), "w"))
env = dict(os.environ, AWS_ENDPOINT_URL="http://127.0.0.1:%d" % port, AWS_ACCESS_KEY_ID="bench",
           AWS_SECRET_ACCESS_KEY="bench", AWS_REGION="us-east-1")
rows = []
try:
    time.sleep(0.3)
    cli = [os.path.join(bindir, "kinesin"), "--endpoint", env["AWS_ENDPOINT_URL"]]
    subprocess.run(cli + ["create-stream", "p128", "--shards", "128", "--wait"], env=env, check=True)
    subprocess.run(cli + ["create-stream", "c1", "--shards", "1", "--wait"], env=env, check=True)

    def run(argv):
        t0 = time.monotonic()
        out = subprocess.run([bench] + argv, env=env, capture_output=True, text=True, timeout=600)
        if out.returncode != 0:
            sys.exit("%s failed: %s" % (argv, out.stderr))
        r = json.loads(out.stdout)
        r["wall"] = time.monotonic() - t0
        print(json.dumps(r))
        return r

    for ordered in (True, False):
        for buf_mb in (16, 64):
            r = run(["produce", "p128", str(args.records), "100", str(buf_mb << 20), "MaxConnections=16",
                     "Ordered=%s" % ("true" if ordered else "false")])
            rows.append(("producer, %s, MaxBufferedBytes %d MiB" % ("ordered" if ordered else "unordered", buf_mb),
                         r["records_per_s"], r["peak_rss_kb"] / 1024))
    run(["produce", "c1", str(2 * args.records), "100", str(64 << 20), "RateLimit=100000", "Ordered=false"])
    r = run(["consume", "c1", str(2 * args.records)])
    rows.append(("consumer, 1 shard, aggregated records", r["records_per_s"], r["peak_rss_kb"] / 1024))
finally:
    kd.terminate()
    kd.wait()

print("\n| run | user records/s | peak RSS MB |\n|---|---|---|")
for name, rate, rss in rows:
    print("| %s | %s | %.0f |" % (name, format(int(rate), ","), rss))
