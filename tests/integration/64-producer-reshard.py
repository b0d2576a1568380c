"""The producer's shard map after resharding: `kinesin put --aggregate --report` keeps reading
lines while its 2-shard stream is split to 3 shards. Aggregates built for the closed parent land
on a child; the producer notices (the reported shard is not the predicted one), fetches the
shard map again and retries those records, so every record ends with a success report, records
put after the split land on the children, and a KCL-style reader (`kinesin cat`, which drops
aggregates holding records outside their shard's range) finds each record at the place its
report names (and, for retried aggregates that fitted the child anyway, once more: at least
once, as with the KPL)."""
import base64
import json
import os
import subprocess
import threading
import time

from kn import Kinesind, boto3_client, check, create_active, eq, fail, main, wait_active

N = 6000


def test():
    with Kinesind(args=["--fsync", "never"]) as kd:
        c = boto3_client(kd.endpoint)
        create_active(c, "rs", 2)
        bin_ = os.path.join(os.environ.get("KN_BIN") or os.path.join(os.environ["KN_SRC"], "build", "bin"), "kinesin")
        p = subprocess.Popen([bin_, "--endpoint", kd.endpoint, "put", "rs", "--key-field", "k", "--aggregate",
                              "--report", "--producer-option", "RecordMaxBufferedTime=20"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        reports = []
        reader = threading.Thread(target=lambda: reports.extend(json.loads(l) for l in p.stdout), daemon=True)
        reader.start()

        def feed(lo, hi):
            for i in range(lo, hi):
                p.stdin.write('{"k":"key-%d","i":%d}\n' % (i % 300, i))
            p.stdin.flush()

        feed(0, N // 2)
        deadline = time.monotonic() + 30
        while len(reports) < N // 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        eq(len(reports), N // 2, "reports for the first half before the split")
        parent = c.list_shards(StreamName="rs")["Shards"][0]
        lo, hi = int(parent["HashKeyRange"]["StartingHashKey"]), int(parent["HashKeyRange"]["EndingHashKey"])
        c.split_shard(StreamName="rs", ShardToSplit=parent["ShardId"], NewStartingHashKey=str((lo + hi) // 2))
        wait_active(c, "rs")
        feed(N // 2, N)
        p.stdin.close()
        eq(p.wait(timeout=60), 0, "kinesin put exit code (%s)" % p.stderr.read())
        reader.join(timeout=10)

        by_record = {}
        for r in reports:
            if r["Record"] in by_record:
                fail("two reports for record %d" % r["Record"])
            if "ErrorCode" in r:
                fail("record %d failed: %r" % (r["Record"], r))
            by_record[r["Record"]] = r
        eq(len(by_record), N, "one success report per record")
        open_now = {s["ShardId"] for s in c.list_shards(StreamName="rs")["Shards"]
                    if "EndingSequenceNumber" not in s["SequenceNumberRange"]}
        late = [by_record[i + 1]["ShardId"] for i in range(N - 500, N)]
        check(set(late) <= open_now, "records put after the split went to open shards: %r" % sorted(set(late)))

        out = subprocess.run([bin_, "--endpoint", kd.endpoint, "--output", "json", "cat", "rs"], capture_output=True,
                             text=True, timeout=60)
        eq(out.returncode, 0, "cat exit code (%s)" % out.stderr)
        at = {}
        for line in out.stdout.splitlines():
            rec = json.loads(line)
            i = json.loads(base64.b64decode(rec["Data"]))["i"]
            at.setdefault(i, set()).add((rec["ShardId"], rec["SequenceNumber"], rec.get("SubSequenceNumber", 0)))
        for i in range(N):
            r = by_record[i + 1]
            if (r["ShardId"], r["SequenceNumber"], r["SubSequenceNumber"]) not in at.get(i, set()):
                fail("record %d not read back where its report says: %r, read at %r" % (i, r, at.get(i)))
        print("%d records; %d read back more than once (retried after landing on an unpredicted shard)"
              % (N, sum(1 for v in at.values() if len(v) > 1)))


main(test)
