"""kinesin-kcl and resharding: a shard split while consuming. The parent is read to its end
and checkpointed at SHARD_END; leases for both children are created (TRIM_HORIZON, parentShardId
set, childShardIds written on the parent); the children start only after the parent finished;
every record is processed; the finished parent lease is cleaned up once both children started."""
from kn import boto3_client, check, create_active, eq, wait_active, soft
from kn_kcl import KclApp, main_with_workers, put
import time


def run(kd):
    k = boto3_client(kd.endpoint)
    create_active(k, "sp", 1)
    app = KclApp(kd, "sp", "spapp")
    first = put(k, "sp", "a", 100)
    w = app.worker("w1")
    app.wait_records(first, timeout=20)
    k.split_shard(StreamName="sp", ShardToSplit="shardId-000000000000", NewStartingHashKey=str(2 ** 127))
    wait_active(k, "sp")
    second = put(k, "sp", "b", 200)
    app.wait_records(first + second, timeout=40)

    shards = k.list_shards(StreamName="sp")["Shards"]
    kids = sorted(s["ShardId"] for s in shards if s.get("ParentShardId") == "shardId-000000000000")
    eq(len(kids), 2, "children of the split")
    ev = app.events()
    with soft("parent ends before the children start"):
        ended = [e for e in ev if e["ev"] == "shutdown" and e["shard"] == "shardId-000000000000"]
        eq([e["reason"] for e in ended], ["TERMINATE"], "parent shutdown reasons")
        cp = [e for e in ev if e["ev"] == "checkpoint" and e["seq"] == "SHARD_END"]
        eq([e["err"] for e in cp], [None], "SHARD_END checkpoint")
        kid_inits = [e for e in ev if e["ev"] == "initialize" and e["shard"] in kids]
        eq(sorted(e["shard"] for e in kid_inits), kids, "children initialized")
        for e in kid_inits:
            eq(e["seq"], "TRIM_HORIZON", "child start")
            check(e["t"] >= cp[0]["t"], "child %s initialized before its parent checkpointed SHARD_END" % e["shard"])
        eq(sorted({e["shard"] for e in ev if e["ev"] == "record" and e["data"].startswith("b-")}), kids,
           "records after the split come from the children")
    with soft("child leases, then the parent lease cleaned up"):
        deadline = time.monotonic() + 15
        parent = None  # the parent lease as last seen; it may be cleaned up before the first look
        while True:
            leases = app.leases()
            if "shardId-000000000000" not in leases or time.monotonic() > deadline:
                break
            parent = leases["shardId-000000000000"]
            time.sleep(0.2)
        for kid in kids:
            eq(leases[kid].get("parentShardId"), ["shardId-000000000000"], "%s parentShardId" % kid)
        check("shardId-000000000000" not in leases,
              "finished parent lease still there: %r" % leases.get("shardId-000000000000"))
        if parent is not None:
            eq(parent["checkpoint"], "SHARD_END", "parent checkpoint before cleanup")
            eq(parent.get("childShardIds"), kids, "parent childShardIds")
    eq(w.stop(), 0, "exit status")


main_with_workers(run)
