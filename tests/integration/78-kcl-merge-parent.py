"""kinesin-kcl and a merge whose second parent has no lease (issue 13, parent before child).

Shards 0 and 1 get records and are merged into shard 2, which gets records too. Then a worker
starts on a lease table that a previous run left incomplete:
  * app "mpa": only shard 0 has a lease (as if shard 1 had never been leased);
  * app "mpb": shard 0 and the merged shard 2 (parentShardId [0, 1]) have leases, shard 1 none.
In both, the shard sync must create the missing lease for shard 1 (Java's HierarchicalShardSyncer
leases every parent of a shard below a lease), every record of both parents must be processed,
and the child must not be initialized nor see a record before both parents checkpointed
SHARD_END. A worker that counted a missing parent lease as finished would skip shard 1's records
and start shard 2 as soon as shard 0 ended."""
from kn import boto3_client, check, create_active, eq, wait_active
from kn_kcl import KclApp, main_with_workers, put

P0, P1, CHILD = "shardId-000000000000", "shardId-000000000001", "shardId-000000000002"


def seed_table(app, items):
    app.ddb.create_table(TableName=app.name, KeySchema=[{"AttributeName": "leaseKey", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "leaseKey", "AttributeType": "S"}],
                         BillingMode="PAY_PER_REQUEST")
    app.ddb.get_waiter("table_exists").wait(TableName=app.name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 50})
    for key, parents in items:
        item = {"leaseKey": {"S": key}, "leaseCounter": {"N": "0"}, "ownerSwitchesSinceCheckpoint": {"N": "0"},
                "checkpoint": {"S": "TRIM_HORIZON"}, "checkpointSubSequenceNumber": {"N": "0"}}
        if parents:
            item["parentShardId"] = {"SS": parents}
        app.ddb.put_item(TableName=app.name, Item=item)


def check_order(app):
    events = app.events()
    for p in (P0, P1):
        ended = next((i for i, e in enumerate(events) if e["ev"] == "checkpoint" and e["shard"] == p
                      and e["seq"] == "SHARD_END" and e["err"] is None), None)
        check(ended is not None, "%s: parent %s never checkpointed SHARD_END" % (app.name, p))
        last_rec = max((i for i, e in enumerate(events) if e["ev"] == "record" and e["shard"] == p), default=-1)
        for ev in ("initialize", "record"):
            first = next((i for i, e in enumerate(events) if e["ev"] == ev and e["shard"] == CHILD), None)
            check(first is not None, "%s: no %s event for the child" % (app.name, ev))
            check(first > ended and first > last_rec,
                  "%s: the child's first %s (event %d) came before parent %s ended (SHARD_END at event %d, "
                  "last record at event %d)" % (app.name, ev, first, p, ended, last_rec))


def run(kd):
    k = boto3_client(kd.endpoint)
    create_active(k, "mp", 2)
    before = put(k, "mp", "a", 200)
    k.merge_shards(StreamName="mp", ShardToMerge=P0, AdjacentShardToMerge=P1)
    wait_active(k, "mp")
    shards = {s["ShardId"]: s for s in k.list_shards(StreamName="mp")["Shards"]}
    eq(sorted(p for p in (shards[CHILD].get("ParentShardId"), shards[CHILD].get("AdjacentParentShardId")) if p),
       [P0, P1], "the merged shard's parents")
    after = put(k, "mp", "b", 100)
    per_shard = {}
    for s in (P0, P1):
        it = k.get_shard_iterator(StreamName="mp", ShardId=s, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        per_shard[s] = len(k.get_records(ShardIterator=it, Limit=10000)["Records"])
    check(per_shard[P0] > 0 and per_shard[P1] > 0, "both parents hold records: %r" % per_shard)

    for name, items in (("mpa", [(P0, None)]), ("mpb", [(P0, None), (CHILD, [P0, P1])])):
        app = KclApp(kd, "mp", name)
        seed_table(app, items)
        w = app.worker(name + "-w1")
        app.wait_records(before + after, timeout=40)
        eq(app.leases()[CHILD].get("parentShardId"), [P0, P1], "%s: the child lease's parents" % name)
        check_order(app)
        eq(w.stop(), 0, "%s: exit status" % name)


main_with_workers(run)
