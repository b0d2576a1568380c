"""kinesin-kcl with retrievalMode = FANOUT (enhanced fan-out): the seed processor (aws-kcl) reads
through SubscribeToShard instead of GetRecords.

Two workers of one application register (or find) one stream consumer named after the
application and split a 2-shard stream. One is SIGKILLed mid-stream: the survivor takes its
lease and subscribes again from the dead worker's checkpoint (nothing checkpointed is processed
again). A shard is split while records keep coming: the parent is read to its end through the
event with ChildShards, checkpointed at SHARD_END, and its children are subscribed only then.
Every record put is processed."""
import time

from kn import boto3_client, check, create_active, eq, soft, wait_active
from kn_kcl import KclApp, main_with_workers, put

FAILOVER = 3000


def esn(seq, sub):
    return (int(seq), int(sub or 0))


def run(kd):
    k = boto3_client(kd.endpoint)
    create_active(k, "fan", 2)
    arn = k.describe_stream_summary(StreamName="fan")["StreamDescriptionSummary"]["StreamARN"]
    first = put(k, "fan", "a", 200)
    app = KclApp(kd, "fan", "fanapp", failover_ms=FAILOVER, extra={"retrievalMode": "FANOUT"})
    w1 = app.worker("w1")
    w2 = app.worker("w2")
    app.wait_owners(lambda o: len(o) == 2 and sorted(o.values()) == ["w1", "w2"], 30, "one shard per worker")
    app.wait_records(first, timeout=30)

    with soft("one stream consumer, named after the application, ACTIVE"):
        cons = k.list_stream_consumers(StreamARN=arn)["Consumers"]
        eq([(c["ConsumerName"], c["ConsumerStatus"]) for c in cons], [("fanapp", "ACTIVE")], "stream consumers")
        for w in (w1, w2):
            check("enhanced fan-out: consumer %s is ACTIVE" % cons[0]["ConsumerARN"] in w.text(),
                  "%s logs the consumer it subscribes with" % w.worker_id)
            check("GetShardIterator" not in w.text(), "%s never polls" % w.worker_id)

    # SIGKILL w1 while records keep coming: w2 resumes w1's shard after its checkpoint.
    more = put(k, "fan", "b", 200)
    app.wait_records(more, timeout=30)
    leases = app.leases()
    w1_shards = [s for s, l in leases.items() if l.get("leaseOwner") == "w1"]
    w1.kill()
    leases = app.leases()
    checkpoints = {s: esn(l["checkpoint"], l.get("checkpointSubSequenceNumber")) for s, l in leases.items()
                   if s in w1_shards and l["checkpoint"].isdigit()}
    seen = len(app.events())
    after_kill = put(k, "fan", "c", 200)
    app.wait_owners(lambda o: sorted(o.values()) == ["w2", "w2"], 20, "w2 holding both shards after w1's SIGKILL")
    app.wait_records(after_kill, timeout=40)
    with soft("w2 resumes w1's shard after its last checkpoint"):
        check(w1_shards and set(w1_shards) == set(checkpoints), "w1 held a checkpointed lease: %r" % leases)
        for e in app.events()[seen:]:
            if e["ev"] == "record" and e["shard"] in checkpoints:
                check(esn(e["seq"], e["sub"]) > checkpoints[e["shard"]],
                      "%s: %s processed again though %r was checkpointed" % (e["shard"], e["seq"],
                                                                            checkpoints[e["shard"]]))

    # A split while consuming: the parent ends through ChildShards, the children follow.
    w3 = app.worker("w3")
    app.wait_owners(lambda o: sorted(o.values()) == ["w2", "w3"], 30, "w3 taking a shard from w2")
    parent = "shardId-000000000000"
    before_split = put(k, "fan", "d", 100)
    k.split_shard(StreamName="fan", ShardToSplit=parent, NewStartingHashKey=str(2 ** 126))
    wait_active(k, "fan")
    after_split = put(k, "fan", "e", 300)
    app.wait_records(first + more + after_kill + before_split + after_split, timeout=60)
    kids = sorted(s["ShardId"] for s in k.list_shards(StreamName="fan")["Shards"] if s.get("ParentShardId") == parent)
    eq(len(kids), 2, "children of the split")
    ev = app.events()
    with soft("the parent ends at SHARD_END before its children start"):
        cp = [e for e in ev if e["ev"] == "checkpoint" and e["seq"] == "SHARD_END" and e["shard"] == parent]
        eq([e["err"] for e in cp], [None], "SHARD_END checkpoint of the parent")
        kid_inits = [e for e in ev if e["ev"] == "initialize" and e["shard"] in kids]
        check(sorted({e["shard"] for e in kid_inits}) == kids, "children initialized: %r" % kid_inits)
        for e in kid_inits:
            check(cp and e["t"] >= cp[0]["t"], "child %s initialized before its parent ended" % e["shard"])
        moved = {e["shard"] for e in ev if e["ev"] == "record" and e["data"].startswith("e-")}
        check(set(kids) <= moved, "records after the split come from both children: %r" % moved)
    with soft("every record processed"):
        got = {e["data"] for e in app.processed()}
        lost = set(first + more + after_kill + before_split + after_split) - got
        eq(sorted(lost)[:5], [], "records never processed")
    with soft("child leases name their parent"):
        leases = app.leases()
        for kid in kids:
            eq(leases[kid].get("parentShardId"), [parent], "%s parentShardId" % kid)
    for w in (w2, w3):
        eq(w.stop(), 0, "exit status of %s" % w.worker_id)


main_with_workers(run)
