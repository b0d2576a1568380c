"""kinesin-kcl in FANOUT mode across subscription ends: kinesind ends every SubscribeToShard
stream after 2 s (--subscription-ms; AWS ends them after 5 minutes), while records keep coming
for several lifetimes. Each end is followed by a new subscription AFTER_SEQUENCE_NUMBER of the
last event's ContinuationSequenceNumber: every record is processed exactly once, in order."""
import time

from kn import boto3_client, check, create_active, eq, soft
from kn_kcl import KclApp, main_with_workers, put

LIFETIME_MS = 2000


def run(kd):
    k = boto3_client(kd.endpoint)
    create_active(k, "roll", 2)
    app = KclApp(kd, "roll", "rollapp", extra={"retrievalMode": "FANOUT"})
    w = app.worker("w1", args=("--log-level", "debug"))
    app.wait_owners(lambda o: sorted(o.values()) == ["w1", "w1"], 30, "w1 holding both shards")
    datas = []
    t0 = time.monotonic()
    i = 0
    while time.monotonic() - t0 < 4 * LIFETIME_MS / 1000.0:  # records across four subscription lifetimes
        datas += put(k, "roll", "r%d" % i, 20)
        i += 1
        time.sleep(0.1)
    app.wait_records(datas, timeout=30)
    with soft("exactly once, in order, across resubscriptions"):
        recs = app.processed()
        counts = {}
        for e in recs:
            counts[e["data"]] = counts.get(e["data"], 0) + 1
        eq(sorted(d for d, n in counts.items() if n > 1)[:5], [], "records processed twice")
        by_shard = {}
        for e in recs:
            by_shard.setdefault(e["shard"], []).append(int(e["seq"]))
        for shard, seqs in by_shard.items():
            eq(seqs, sorted(seqs), "%s order" % shard)
        ends = w.text().count("subscription ended; subscribing again")
        print("%d subscription ends followed by a new subscription (2 shards)" % ends)
        check(ends >= 2 * 2, "subscribed again after each end: %d times" % ends)
        inits = [e for e in app.events() if e["ev"] == "initialize"]
        eq(len(inits), 2, "one record processor per shard (a resubscription is not a restart)")
    eq(w.stop(), 0, "exit status")


main_with_workers(run, args=("--subscription-ms", str(LIFETIME_MS)))
