"""KPL-aggregated records (written by `kinesin put --aggregate`) through kinesin-kcl to the npm
aws-kcl library and the seed's record processor: each user record is processed once, with the
sequence number of its aggregate and the subsequence number the producer reported for it."""
import json
import os
import subprocess

from kn import boto3_client, check, create_active, eq
from kn_kcl import KclApp, main_with_workers

N = 3000


def run(kd):
    k = boto3_client(kd.endpoint)
    create_active(k, "kpl", 2)
    bin_ = os.path.join(os.environ.get("KN_BIN") or os.path.join(os.environ["KN_SRC"], "build", "bin"), "kinesin")
    lines = "".join("kpl-%d\n" % i for i in range(N))
    p = subprocess.run([bin_, "--endpoint", kd.endpoint, "put", "kpl", "--aggregate", "--report"], input=lines,
                       capture_output=True, text=True, timeout=60)
    eq(p.returncode, 0, "kinesin put exit code (%s)" % p.stderr)
    reports = {}
    for line in p.stdout.splitlines():
        r = json.loads(line)
        reports["kpl-%d" % (r["Record"] - 1)] = r
    eq(len(reports), N, "delivery reports")
    check(sum(1 for r in reports.values() if r["SubSequenceNumber"] > 0) > N / 2, "records went in aggregates")

    app = KclApp(kd, "kpl", "kplapp")
    app.worker("w1")
    app.wait_records(list(reports), timeout=40)
    for e in app.processed():
        r = reports[e["data"]]
        eq((e["seq"], e["sub"], e["shard"]), (r["SequenceNumber"], r["SubSequenceNumber"], r["ShardId"]),
           "record %s: processed at the reported place" % e["data"])
    eq(len(app.processed()), N, "each record processed once")


main_with_workers(run)
