"""kinesin-kcl end to end with the npm aws-kcl library and the seed's record processor.

Two workers share a 2-shard stream: every record is processed, each shard has one owner, and
the lease table's checkpoints end at each shard's last record. Then a 6-shard stream: two
workers split it 3/3, a third worker joining ends with a fair share (2/2/2) while every record
put meanwhile is processed. SIGTERM ends each worker with status 0 within shutdownGraceMillis.
"""
import re
import time

from kn import boto3_client, check, create_active, eq, soft
from kn_kcl import KclApp, last_sequence_numbers, main_with_workers, put


def run(kd):
    k = boto3_client(kd.endpoint)
    create_active(k, "seed", 2)
    first = put(k, "seed", "a", 200)
    app = KclApp(kd, "seed", "seedapp")
    w1 = app.worker("w1")
    app.wait_records(first[:1], timeout=20)
    w2 = app.worker("w2")
    owners = app.wait_owners(lambda o: len(o) == 2 and set(o.values()) == {"w1", "w2"}, 15,
                             "two workers holding one shard each")
    more = put(k, "seed", "b", 200)
    app.wait_records(first + more, timeout=30)

    with soft("one owner per shard, checkpoints at the last records"):
        last = last_sequence_numbers(k, "seed")
        deadline = time.monotonic() + 10
        while True:
            leases = app.leases()
            cps = {s: leases[s]["checkpoint"] for s in leases}
            if cps == last or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        eq(cps, last, "lease checkpoints")
        eq(sorted(l.get("leaseOwner") for l in leases.values()), ["w1", "w2"], "lease owners")
        for s, l in leases.items():
            eq(l["checkpointSubSequenceNumber"], 0, "%s checkpointSubSequenceNumber" % s)
            check(l["leaseCounter"] > 0, "%s leaseCounter moves" % s)

    with soft("each child is initialized before it gets records"):
        seen = {}
        for e in app.events():
            if e["ev"] == "initialize":
                seen[e["pid"]] = e
            elif e["ev"] == "record":
                check(e["pid"] in seen, "record before initialize in pid %d" % e["pid"])
                eq(e["shard"], seen[e["pid"]]["shard"], "shard of pid %d" % e["pid"])
        bad = [e for e in app.events() if e["ev"] == "checkpoint" and e["err"] and e["err"] != "ShutdownException"]
        eq(bad, [], "checkpoint errors other than ShutdownException (a stolen lease)")

    with soft("first processRecords latency and RSS are reported"):
        m = re.search(r"first processRecords (\d+) ms after start", w1.text())
        check(m is not None, "w1 logs its first processRecords")
        print("first processRecords after %s ms; RSS w1 %s kB, w2 %s kB" % (m.group(1), w1.rss_kb(), w2.rss_kb()))

    # A third worker joining a 6-shard application takes a fair share.
    create_active(k, "six", 6)
    fair = KclApp(kd, "six", "sixapp")
    f1, f2 = fair.worker("f1"), fair.worker("f2")
    fair.wait_owners(lambda o: len(o) == 6 and sorted(o.values()) == ["f1"] * 3 + ["f2"] * 3, 20,
                     "two workers holding three shards each")
    f3 = fair.worker("f3")
    six = put(k, "six", "c", 300)
    fair.wait_owners(lambda o: sorted(o.values()) == ["f1", "f1", "f2", "f2", "f3", "f3"], 20,
                     "three workers holding two shards each")
    six += put(k, "six", "d", 300)
    fair.wait_records(six, timeout=30)

    for w in (w1, w2, f1, f2, f3):
        t0 = time.monotonic()
        rc = w.stop()
        took = time.monotonic() - t0
        eq(rc, 0, "exit status of %s after SIGTERM" % w.worker_id)
        check(took < 6.0, "%s exited %.1fs after SIGTERM (shutdownGraceMillis 5000)" % (w.worker_id, took))


main_with_workers(run)
