"""A lease table rolled back to KCL 2.x (Migration3.0 cv = CLIENT_VERSION_2X, as the KCL migration
script writes it) still holds the 3.x rows. A kinesin-kcl worker with no clientVersionConfig runs the
2.x algorithms there (coordinator/migration/MigrationClientVersionStateInitializer.java: any config
+ CLIENT_VERSION_2X -> CLIENT_VERSION_2X), leaves the rows that are not leases alone (entityType other
than LEASE, leases/dynamodb/DynamoDBLeaseSerializer.java#fromDynamoRecord), and takes a lease left
mid-hand-off (checkpointOwner set, leases/Lease.java) only once it has expired, deleting
checkpointOwner as takeLease does (DynamoDBLeaseSerializer#getDynamoTakeLeaseUpdate)."""
from kn import boto3_client, check, create_active, eq
from kn_kcl import KclApp, main_with_workers, put

FAILOVER = 3000


def run(kd):
    k = boto3_client(kd.endpoint)
    create_active(k, "r3", 2)
    s0, s1 = sorted(s["ShardId"] for s in k.list_shards(StreamName="r3")["Shards"])
    app = KclApp(kd, "r3", "r3app", failover_ms=FAILOVER)
    d = app.ddb
    d.create_table(TableName="r3app", KeySchema=[{"AttributeName": "leaseKey", "KeyType": "HASH"}],
                   AttributeDefinitions=[{"AttributeName": "leaseKey", "AttributeType": "S"}],
                   BillingMode="PAY_PER_REQUEST")
    d.get_waiter("table_exists").wait(TableName="r3app", WaiterConfig={"Delay": 0.1, "MaxAttempts": 100})
    others = {
        "Migration3.0": {"leaseKey": {"S": "Migration3.0"}, "entityType": {"S": "CLIENT_VERSION_MIGRATION"},
                         "cv": {"S": "CLIENT_VERSION_2X"}, "mb": {"S": "migration-script"},
                         "mts": {"N": "1700000000000"}, "h": {"L": []}},
        "Leader": {"leaseKey": {"S": "Leader"}, "entityType": {"S": "LEADER"}, "ownerName": {"S": "java-1"},
                   "leaseDuration": {"S": "120000"}, "recordVersionNumber": {"S": "rvn"}},
        "java-1": {"leaseKey": {"S": "java-1"}, "entityType": {"S": "WORKER_METRIC_STATS"}, "lut": {"N": "1"},
                   "sts": {"M": {"C": {"L": [{"N": "10"}]}}}, "opr": {"M": {"C": {"L": [{"N": "100"}]}}}},
    }
    for item in others.values():
        d.put_item(TableName="r3app", Item=item)
    for shard, extra in ((s0, {}), (s1, {"leaseOwner": {"S": "java-2"}, "checkpointOwner": {"S": "java-1"}})):
        item = {"leaseKey": {"S": shard}, "leaseCounter": {"N": "5"}, "checkpoint": {"S": "TRIM_HORIZON"},
                "checkpointSubSequenceNumber": {"N": "0"}, "ownerSwitchesSinceCheckpoint": {"N": "0"},
                "entityType": {"S": "LEASE"}}
        item.update(extra)
        d.put_item(TableName="r3app", Item=item)
    datas = put(k, "r3", "a", 200)
    w = app.worker("w1")
    app.wait_owners(lambda o: o.get(s0) == "w1", 15, "the unowned lease taken")
    item = d.get_item(TableName="r3app", Key={"leaseKey": {"S": s1}}, ConsistentRead=True)["Item"]
    eq((item["leaseOwner"]["S"], item["checkpointOwner"]["S"]), ("java-2", "java-1"),
       "the hand-off lease is left alone while it may still be renewed")
    app.wait_owners(lambda o: o.get(s1) == "w1", 20, "the expired hand-off lease taken")
    app.wait_records(datas, timeout=30)
    item = d.get_item(TableName="r3app", Key={"leaseKey": {"S": s1}}, ConsistentRead=True)["Item"]
    check("checkpointOwner" not in item, "takeLease deleted checkpointOwner: %r" % item)
    for key, want in others.items():
        got = d.get_item(TableName="r3app", Key={"leaseKey": {"S": key}}, ConsistentRead=True)["Item"]
        eq(got, want, "%s untouched" % key)
    check("KCL client version CLIENT_VERSION_2X" in w.text(), "w1 runs CLIENT_VERSION_2X")
    eq(w.stop(), 0, "exit status")


main_with_workers(run)
