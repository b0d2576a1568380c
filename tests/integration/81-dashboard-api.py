"""The dashboard's JSON endpoints (docs/dashboard.md): overview, streams, stream detail with shard
lineage after a split, the record browser (positions, the tail cursor, KPL de-aggregation) and
consumers (fan-out consumers and KCL applications from lease tables); bad input gets 400/404."""

import base64
import hashlib
import json

from kn import (Kinesind, boto3_client, check, create_active, eq, main, next_whole_second, raw, soft,
                wait_active)
from kn_ddb import ddb_client, wait_table_active


def get(kd, path, status=200):
    r = raw(kd.port, "GET", path)
    eq(r.status, status, "GET %s status (%r)" % (path, r.body[:300]))
    check(r.header("Content-Type").startswith("application/json"), "GET %s Content-Type" % path)
    return json.loads(r.body)


def varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def field(num, payload):
    return varint(num << 3 | 2) + varint(len(payload)) + payload


def kpl_aggregate(pairs):
    """A KPL aggregated record of (partition key, data) pairs."""
    keys = sorted({pk for pk, _ in pairs})
    pb = b"".join(field(1, k.encode()) for k in keys)
    for pk, data in pairs:
        rec = varint(1 << 3 | 0) + varint(keys.index(pk)) + field(3, data)
        pb += field(3, rec)
    return b"\xf3\x89\x9a\xc2" + pb + hashlib.md5(pb).digest()


def test():
    with Kinesind() as kd:
        c = boto3_client(kd.endpoint)
        create_active(c, "d1", 1)

        with soft("/api/overview counts streams, shards and traffic"):
            for i in range(5):
                c.put_record(StreamName="d1", PartitionKey="k%d" % i, Data=b"abc")
            o = get(kd, "/api/overview")
            eq((o["streams"], o["openShards"], o["closedShards"]), (1, 1, 0), "streams/shards")
            eq((o["incomingRecords"], o["incomingBytes"]), (5, 15), "incoming")
            check(o["requests"] >= 6, "requests %r" % o["requests"])
            check(o["diskFreeBytes"] > 0 and o["storageBytes"] > 0, "disk/storage %r" % o)
            eq(o["fsync"], "always", "fsync")

        with soft("/api/streams lists each stream with its counters"):
            s = get(kd, "/api/streams")["streams"]
            eq([x["name"] for x in s], ["d1"], "names")
            eq((s[0]["status"], s[0]["openShards"], s[0]["incomingRecords"]), ("ACTIVE", 1, 5), "d1 row")

        with soft("/api/streams/NAME: shards, hash ranges and lineage after a split"):
            c.split_shard(StreamName="d1", ShardToSplit="shardId-000000000000",
                          NewStartingHashKey=str(2 ** 127))
            wait_active(c, "d1")
            d = get(kd, "/api/streams/d1")
            sh = {x["shardId"]: x for x in d["shards"]}
            eq(sorted(sh), ["shardId-000000000000", "shardId-000000000001", "shardId-000000000002"], "shards")
            eq(sh["shardId-000000000000"]["state"], "CLOSED", "parent state")
            eq(sh["shardId-000000000001"].get("parentShardId"), "shardId-000000000000", "child 1 parent")
            eq(sh["shardId-000000000002"].get("parentShardId"), "shardId-000000000000", "child 2 parent")
            eq(sh["shardId-000000000001"]["endingHashKey"], str(2 ** 127 - 1), "child 1 end")
            eq(sh["shardId-000000000002"]["startingHashKey"], str(2 ** 127), "child 2 start")
            eq(sh["shardId-000000000000"]["endOffset"], 5, "parent records")
            get(kd, "/api/streams/nope", 404)
            get(kd, "/api/streams/d1/nothing", 404)
            get(kd, "/api/nothing", 404)

        with soft("records: TRIM_HORIZON, AT_SEQUENCE_NUMBER, the tail cursor, LATEST"):
            r = get(kd, "/api/streams/d1/records?shard=shardId-000000000000&position=TRIM_HORIZON&limit=3")
            eq([x["partitionKey"] for x in r["records"]], ["k0", "k1", "k2"], "first page")
            eq(base64.b64decode(r["records"][0]["data"]), b"abc", "data")
            eq(r["cursor"], "3", "cursor")
            r2 = get(kd, "/api/streams/d1/records?shard=shardId-000000000000&cursor=" + r["cursor"])
            eq([x["partitionKey"] for x in r2["records"]], ["k3", "k4"], "second page")
            eq(r2["shardEnd"], True, "closed parent read to its end")
            seq = r["records"][1]["sequenceNumber"]
            r3 = get(kd, "/api/streams/d1/records?shard=shardId-000000000000&position=AT_SEQUENCE_NUMBER&seq=" + seq)
            eq(r3["records"][0]["partitionKey"], "k1", "AT_SEQUENCE_NUMBER")
            lat = get(kd, "/api/streams/d1/records?shard=shardId-000000000002&position=LATEST")
            eq(lat["records"], [], "LATEST")
            c.put_record(StreamName="d1", PartitionKey="tail", Data=b"new", ExplicitHashKey=str(2 ** 127 + 5))
            t = get(kd, "/api/streams/d1/records?shard=shardId-000000000002&cursor=" + lat["cursor"])
            eq([x["partitionKey"] for x in t["records"]], ["tail"], "tail sees the new record")

        with soft("records: KPL aggregates come de-aggregated"):
            agg = kpl_aggregate([("u1", b'{"a":1}'), ("u2", b"second")])
            c.put_record(StreamName="d1", PartitionKey="agg", Data=agg, ExplicitHashKey=str(2 ** 127 + 6))
            t2 = get(kd, "/api/streams/d1/records?shard=shardId-000000000002&cursor=" + t["cursor"])
            subs = t2["records"][0].get("subRecords")
            check(subs is not None, "no subRecords in %r" % t2["records"][0])
            eq([(x["partitionKey"], base64.b64decode(x["data"])) for x in subs],
               [("u1", b'{"a":1}'), ("u2", b"second")], "sub-records")
            plain = get(kd, "/api/streams/d1/records?shard=shardId-000000000000&limit=1")["records"][0]
            check("subRecords" not in plain, "a plain record has subRecords")

        with soft("records: bad input is a 400"):
            get(kd, "/api/streams/d1/records", 400)
            get(kd, "/api/streams/d1/records?shard=shardId-000000000009", 400)
            get(kd, "/api/streams/d1/records?shard=shardId-000000000000&limit=0", 400)
            get(kd, "/api/streams/d1/records?shard=shardId-000000000000&cursor=x", 400)
            e = get(kd, "/api/streams/d1/records?shard=shardId-000000000000&position=AT_SEQUENCE_NUMBER", 400)
            check("StartingSequenceNumber" in e["message"], "message %r" % e)
            get(kd, "/api/streams/d1/records?shard=shardId-000000000000&position=BOGUS", 400)

        with soft("/api/consumers: fan-out consumers and KCL applications"):
            arn = c.describe_stream_summary(StreamName="d1")["StreamDescriptionSummary"]["StreamARN"]
            c.register_stream_consumer(StreamARN=arn, ConsumerName="efo-1")
            next_whole_second()
            create_active(c, "d2", 2)
            seqs = [c.put_record(StreamName="d2", PartitionKey="p", Data=b"x", ExplicitHashKey="1")["SequenceNumber"]
                    for _ in range(6)]
            for _ in range(3):
                c.put_record(StreamName="d2", PartitionKey="q", Data=b"y", ExplicitHashKey=str(2 ** 127 + 1))
            dd = ddb_client(kd.endpoint)
            dd.create_table(TableName="app-1", KeySchema=[{"AttributeName": "leaseKey", "KeyType": "HASH"}],
                            AttributeDefinitions=[{"AttributeName": "leaseKey", "AttributeType": "S"}],
                            BillingMode="PAY_PER_REQUEST")
            wait_table_active(dd, "app-1")
            dd.put_item(TableName="app-1", Item={"leaseKey": {"S": "shardId-000000000000"},
                                                 "checkpoint": {"S": seqs[1]}, "leaseOwner": {"S": "w1"},
                                                 "leaseCounter": {"N": "7"}})
            dd.put_item(TableName="app-1", Item={"leaseKey": {"S": "shardId-000000000001"},
                                                 "checkpoint": {"S": "TRIM_HORIZON"}, "leaseCounter": {"N": "1"}})
            # KCL 3.5 rows that are not leases (leases/EntityType.java) are not shown as leases
            dd.put_item(TableName="app-1", Item={"leaseKey": {"S": "Leader"}, "entityType": {"S": "LEADER"},
                                                 "ownerName": {"S": "w1"}, "leaseDuration": {"S": "120000"},
                                                 "recordVersionNumber": {"S": "r"}})
            dd.put_item(TableName="app-1", Item={"leaseKey": {"S": "w1"}, "entityType": {"S": "WORKER_METRIC_STATS"},
                                                 "lut": {"N": "1"}})
            # a table that is not a lease table is not an application
            dd.create_table(TableName="other", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                            BillingMode="PAY_PER_REQUEST")
            cs = get(kd, "/api/consumers")
            eq([(x["stream"], x["name"]) for x in cs["fanoutConsumers"]], [("d1", "efo-1")], "fan-out consumers")
            eq([a["name"] for a in cs["applications"]], ["app-1"], "applications")
            app = cs["applications"][0]
            eq(app.get("stream"), "d2", "application's stream")
            leases = {x["leaseKey"]: x for x in app["leases"]}
            eq(sorted(leases), ["shardId-000000000000", "shardId-000000000001"], "lease rows")
            eq(leases["shardId-000000000000"]["lagRecords"], 4, "lag of shard 0 (checkpoint at 2 of 6)")
            eq(leases["shardId-000000000000"]["owner"], "w1", "owner")
            eq(leases["shardId-000000000001"]["lagRecords"], 3, "TRIM_HORIZON lag")
            eq(leases["shardId-000000000001"]["unowned"], True, "unowned flagged")
            eq(leases["shardId-000000000000"]["unowned"], False, "owned not flagged")
            eq(app["workers"], [{"id": "w1", "leases": 1}], "workers")
            eq((app["lagRecords"], app["unownedLeases"]), (7, 1), "application totals")


if __name__ == "__main__":
    main(test)
