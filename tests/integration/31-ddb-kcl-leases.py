"""The KCL lease life cycle replayed with boto3 exactly as spec Part A.2 says the Java KCL sends
it: create the table, create leases with Expected leaseKey Exists:false, take, renew with the
leaseCounter compare-and-set, checkpoint, list (paged, parallel, per stream), the 3.x owner
index and query, graceful handoff, assign, evict, meta-info update and delete; each race's
losing side gets ConditionalCheckFailedException. Also the leader lock's expressions (A.3)."""

from kn import Kinesind, check, eq, main, soft
from kn_ddb import DDB_ARGS, ddb_client, ddb_error, expect_ddb_error, wait_table_active

T = "kcl-app"
CCF = "ConditionalCheckFailedException"


def lease_record(shard, stream=None):
    item = {"leaseKey": {"S": shard}, "leaseCounter": {"N": "0"}, "ownerSwitchesSinceCheckpoint": {"N": "0"},
            "checkpoint": {"S": "TRIM_HORIZON"}, "checkpointSubSequenceNumber": {"N": "0"},
            "startingHashKey": {"S": "0"}, "endingHashKey": {"S": "340282366920938463463374607431768211455"},
            "entityType": {"S": "LEASE"}}
    if shard != "shardId-000000000000":
        item["parentShardId"] = {"SS": ["shardId-000000000000"]}
    if stream:
        item["streamName"] = {"S": stream}
    return item


def key(shard):
    return {"leaseKey": {"S": shard}}


def counter(d, shard):
    return int(d.get_item(TableName=T, Key=key(shard), ConsistentRead=True)["Item"]["leaseCounter"]["N"])


def create_table(d):
    with soft("createLeaseTableIfNotExists + waitUntilLeaseTableExists"):
        expect_ddb_error(d.describe_table, "ResourceNotFoundException", TableName=T)
        d.create_table(TableName=T, KeySchema=[{"AttributeName": "leaseKey", "KeyType": "HASH"}],
                       AttributeDefinitions=[{"AttributeName": "leaseKey", "AttributeType": "S"}],
                       DeletionProtectionEnabled=False, Tags=[], BillingMode="PAY_PER_REQUEST")
        # a second worker racing the creation is told the table exists, which KCL accepts
        expect_ddb_error(d.create_table, "ResourceInUseException", TableName=T,
                         KeySchema=[{"AttributeName": "leaseKey", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "leaseKey", "AttributeType": "S"}],
                         BillingMode="PAY_PER_REQUEST")
        t = wait_table_active(d, T)
        eq(t["BillingModeSummary"]["BillingMode"], "PAY_PER_REQUEST", "billing mode")
        check(t["TableArn"].endswith(":table/" + T), "TableArn")


def create_leases(d):
    with soft("createLeaseIfNotExists: Expected leaseKey Exists:false; the second creator loses"):
        for i in range(6):
            shard = "shardId-%012d" % i
            d.put_item(TableName=T, Item=lease_record(shard, "stream-a" if i < 4 else "stream-b"),
                       Expected={"leaseKey": {"Exists": False}})
        expect_ddb_error(d.put_item, CCF, "The conditional request failed", TableName=T,
                         Item=lease_record("shardId-000000000000"), Expected={"leaseKey": {"Exists": False}})
        eq(d.get_item(TableName=T, Key=key("shardId-000000000007")).get("Item"), None, "getLease of a missing lease")


def take(d, shard, owner, c):
    return d.update_item(TableName=T, Key=key(shard), Expected={"leaseCounter": {"Value": {"N": str(c)}}},
                         AttributeUpdates={"leaseCounter": {"Action": "PUT", "Value": {"N": str(c + 1)}},
                                           "leaseOwner": {"Action": "PUT", "Value": {"S": owner}},
                                           "checkpointOwner": {"Action": "DELETE"},
                                           "ownerSwitchesSinceCheckpoint": {"Action": "ADD", "Value": {"N": "1"}}})


def renew(d, shard, c, handoff_guard=True):
    expected = {"leaseCounter": {"Value": {"N": str(c)}}}
    if handoff_guard:
        expected["checkpointOwner"] = {"Exists": False}
    return d.update_item(TableName=T, Key=key(shard), Expected=expected,
                         AttributeUpdates={"leaseCounter": {"Action": "PUT", "Value": {"N": str(c + 1)}},
                                           "throughputKBps": {"Action": "PUT", "Value": {"N": "1.0E-4"}}},
                         ReturnValuesOnConditionCheckFailure="ALL_OLD")


def take_renew_checkpoint(d):
    s0 = "shardId-000000000000"
    with soft("takeLease: worker-a wins, worker-b with the same stale counter loses"):
        take(d, s0, "worker-a", 0)
        expect_ddb_error(take, CCF, d=d, shard=s0, owner="worker-b", c=0)
        item = d.get_item(TableName=T, Key=key(s0))["Item"]
        eq((item["leaseOwner"], item["leaseCounter"], item["ownerSwitchesSinceCheckpoint"]),
           ({"S": "worker-a"}, {"N": "1"}, {"N": "1"}), "taken lease")
    with soft("renewLease: compare-and-set on leaseCounter; the stale renewer gets the current item"):
        renew(d, s0, 1)
        renew(d, s0, 2)
        resp = expect_ddb_error(renew, CCF, d=d, shard=s0, c=1)
        eq(resp["Item"]["leaseCounter"], {"N": "3"}, "ALL_OLD item with the failure")
        eq(resp["Item"]["throughputKBps"], {"N": "0.0001"}, "Double.toString number normalised")
    with soft("updateLease (checkpoint): Expected leaseCounter; pending fields deleted"):
        d.update_item(TableName=T, Key=key(s0), Expected={"leaseCounter": {"Value": {"N": "3"}}},
                      AttributeUpdates={
                          "leaseCounter": {"Action": "PUT", "Value": {"N": "4"}},
                          "checkpoint": {"Action": "PUT", "Value": {"S": "49590338271490256608559692538361571095921575989136588898"}},
                          "checkpointSubSequenceNumber": {"Action": "PUT", "Value": {"N": "0"}},
                          "ownerSwitchesSinceCheckpoint": {"Action": "PUT", "Value": {"N": "0"}},
                          "pendingCheckpoint": {"Action": "DELETE"},
                          "pendingCheckpointSubSequenceNumber": {"Action": "DELETE"},
                          "pendingCheckpointState": {"Action": "DELETE"}})
        item = d.get_item(TableName=T, Key=key(s0), ConsistentRead=True)["Item"]
        eq(item["checkpoint"]["S"][:8], "49590338", "checkpoint stored")
        eq(item["ownerSwitchesSinceCheckpoint"], {"N": "0"}, "ownerSwitchesSinceCheckpoint reset")
        # KCL 1.x: Value combined with ComparisonOperator NE guards against moving past SHARD_END
        upd = {"leaseCounter": {"Action": "PUT", "Value": {"N": "5"}},
               "checkpoint": {"Action": "PUT", "Value": {"S": "SHARD_END"}}}
        d.update_item(TableName=T, Key=key(s0), AttributeUpdates=upd,
                      Expected={"leaseCounter": {"Value": {"N": "4"}},
                                "checkpoint": {"Value": {"S": "SHARD_END"}, "ComparisonOperator": "NE"}})
        upd["leaseCounter"]["Value"] = {"N": "6"}
        expect_ddb_error(d.update_item, CCF, TableName=T, Key=key(s0), AttributeUpdates=upd,
                         Expected={"leaseCounter": {"Value": {"N": "5"}},
                                   "checkpoint": {"Value": {"S": "SHARD_END"}, "ComparisonOperator": "NE"}})


def listing(d):
    with soft("listLeases: Scan paged on LastEvaluatedKey"):
        seen, start = [], None
        while True:
            kw = {"ExclusiveStartKey": start} if start else {}
            r = d.scan(TableName=T, Limit=4, **kw)
            seen += [i["leaseKey"]["S"] for i in r["Items"]]
            start = r.get("LastEvaluatedKey")
            if not start:
                break
        eq(sorted(seen), ["shardId-%012d" % i for i in range(6)], "every lease once")
    with soft("listLeasesParallely: Segment/TotalSegments"):
        found = []
        for seg in range(3):
            r = d.scan(TableName=T, Segment=seg, TotalSegments=3)
            found += [i["leaseKey"]["S"] for i in r["Items"]]
        eq(sorted(found), ["shardId-%012d" % i for i in range(6)], "segments partition the leases")
    with soft("listLeasesForStream: FilterExpression streamName = :streamName"):
        r = d.scan(TableName=T, FilterExpression="streamName = :streamName",
                   ExpressionAttributeValues={":streamName": {"S": "stream-b"}})
        eq(sorted(i["leaseKey"]["S"] for i in r["Items"]), ["shardId-000000000004", "shardId-000000000005"], "stream-b")
        r = d.scan(TableName=T, ConsistentRead=True, FilterExpression="entityType = :entityType",
                   ExpressionAttributeValues={":entityType": {"S": "LEASE"}})
        eq(r["Count"], 6, "coordinator-state style filter")


def owner_index(d):
    idx = "LeaseOwnerToLeaseKeyIndex"
    with soft("createLeaseOwnerToLeaseKeyIndexIfNotExists + listLeaseKeysForWorker"):
        t = d.describe_table(TableName=T)["Table"]
        check(not t.get("GlobalSecondaryIndexes"), "no index yet")
        r = d.update_table(TableName=T, AttributeDefinitions=[{"AttributeName": "leaseOwner", "AttributeType": "S"},
                                                              {"AttributeName": "leaseKey", "AttributeType": "S"}],
                           GlobalSecondaryIndexUpdates=[{"Create": {
                               "IndexName": idx,
                               "KeySchema": [{"AttributeName": "leaseOwner", "KeyType": "HASH"},
                                             {"AttributeName": "leaseKey", "KeyType": "RANGE"}],
                               "Projection": {"ProjectionType": "KEYS_ONLY"}}}])
        statuses = {g["IndexName"]: str(g["IndexStatus"]) for g in r["TableDescription"]["GlobalSecondaryIndexes"]}
        check(idx in statuses, "the UpdateTable response names the new index (KCL reads its status there)")
        wait_table_active(d, T, index=idx)
        take(d, "shardId-000000000001", "worker-a", 0)
        take(d, "shardId-000000000002", "worker-b", 0)
        keys, start = [], None
        while True:
            kw = {"ExclusiveStartKey": start} if start else {}
            r = d.query(TableName=T, IndexName=idx, KeyConditionExpression="leaseOwner = :leaseOwner",
                        ExpressionAttributeValues={":leaseOwner": {"S": "worker-a"}}, **kw)
            keys += [i["leaseKey"]["S"] for i in r["Items"]]
            start = r.get("LastEvaluatedKey")
            if not start:
                break
        eq(keys, ["shardId-000000000000", "shardId-000000000001"], "leases of worker-a")


def handoff_assign_evict(d):
    s1 = "shardId-000000000001"
    with soft("initiateGracefulLeaseHandoff; the old owner's renew then fails"):
        r = d.update_item(TableName=T, Key=key(s1),
                          Expected={"leaseOwner": {"Value": {"S": "worker-a"}}, "checkpointOwner": {"Exists": False},
                                    "leaseKey": {"Exists": True, "Value": {"S": s1}}},
                          AttributeUpdates={"leaseOwner": {"Action": "PUT", "Value": {"S": "worker-b"}},
                                            "checkpointOwner": {"Action": "PUT", "Value": {"S": "worker-a"}}},
                          ReturnValues="ALL_NEW")
        eq((r["Attributes"]["leaseOwner"], r["Attributes"]["checkpointOwner"]),
           ({"S": "worker-b"}, {"S": "worker-a"}), "ALL_NEW after handoff")
        expect_ddb_error(renew, CCF, d=d, shard=s1, c=counter(d, s1))
        renew(d, s1, counter(d, s1), handoff_guard=False)  # shutdown requested: no checkpointOwner guard
    with soft("assignLease: owner and checkpointOwner expected; the loser sees the current item"):
        exp = {"leaseOwner": {"Value": {"S": "worker-b"}}, "checkpointOwner": {"Value": {"S": "worker-a"}},
               "leaseKey": {"Exists": True, "Value": {"S": s1}}}
        upd = {"leaseOwner": {"Action": "PUT", "Value": {"S": "worker-b"}}, "checkpointOwner": {"Action": "DELETE"},
               "ownerSwitchesSinceCheckpoint": {"Action": "ADD", "Value": {"N": "1"}},
               "leaseCounter": {"Action": "ADD", "Value": {"N": "1"}}}
        before = counter(d, s1)
        r = d.update_item(TableName=T, Key=key(s1), Expected=exp, AttributeUpdates=upd, ReturnValues="ALL_NEW",
                          ReturnValuesOnConditionCheckFailure="ALL_OLD")
        eq(r["Attributes"]["leaseCounter"], {"N": str(before + 1)}, "leaseCounter ADD 1")
        check("checkpointOwner" not in r["Attributes"], "checkpointOwner deleted")
        resp = expect_ddb_error(d.update_item, CCF, TableName=T, Key=key(s1), Expected=exp, AttributeUpdates=upd,
                                ReturnValues="ALL_NEW", ReturnValuesOnConditionCheckFailure="ALL_OLD")
        eq(resp["Item"]["leaseOwner"], {"S": "worker-b"}, "current item with the failure")
    with soft("evictLease; a second eviction loses"):
        exp = {"leaseOwner": {"Value": {"S": "worker-b"}}, "checkpointOwner": {"Exists": False},
               "leaseKey": {"Exists": True, "Value": {"S": s1}}}
        upd = {"leaseOwner": {"Action": "DELETE"}, "checkpointOwner": {"Action": "DELETE"},
               "leaseCounter": {"Action": "ADD", "Value": {"N": "1"}}}
        r = d.update_item(TableName=T, Key=key(s1), Expected=exp, AttributeUpdates=upd, ReturnValues="ALL_NEW")
        check("leaseOwner" not in r["Attributes"], "owner removed")
        expect_ddb_error(d.update_item, CCF, TableName=T, Key=key(s1), Expected=exp, AttributeUpdates=upd)


def meta_and_delete(d):
    s3 = "shardId-000000000003"
    with soft("updateLeaseWithMetaInfo; no upsert of a deleted lease"):
        d.update_item(TableName=T, Key=key(s3), Expected={"leaseKey": {"Exists": True, "Value": {"S": s3}}},
                      AttributeUpdates={"childShardIds": {"Action": "PUT",
                                                          "Value": {"SS": ["shardId-000000000006", "shardId-000000000007"]}}})
        d.delete_item(TableName=T, Key=key(s3))
        expect_ddb_error(d.update_item, CCF, TableName=T, Key=key(s3),
                         Expected={"leaseKey": {"Exists": True, "Value": {"S": s3}}},
                         AttributeUpdates={"childShardIds": {"Action": "PUT", "Value": {"SS": ["x"]}}})
        eq(d.get_item(TableName=T, Key=key(s3)).get("Item"), None, "not recreated")
    with soft("leader lock expressions (amazon-dynamodb-lock-client)"):
        lk = {"leaseKey": {"S": "Leader"}}
        names = {"#pk": "leaseKey", "#on": "ownerName", "#ld": "leaseDuration", "#rvn": "recordVersionNumber",
                 "#ir": "isReleased"}
        d.put_item(TableName=T, Item=dict(lk, ownerName={"S": "worker-a"}, leaseDuration={"S": "10000"},
                                          recordVersionNumber={"S": "v1"}, isReleased={"S": "0"}),
                   ConditionExpression="attribute_not_exists(#pk)", ExpressionAttributeNames={"#pk": "leaseKey"})
        expect_ddb_error(d.put_item, CCF, TableName=T, Item=dict(lk, ownerName={"S": "worker-b"}),
                         ConditionExpression="attribute_not_exists(#pk)", ExpressionAttributeNames={"#pk": "leaseKey"})
        d.update_item(TableName=T, Key=lk, UpdateExpression="SET #ld = :ld, #rvn = :newRvn",
                      ConditionExpression="attribute_exists(#pk) AND #rvn = :rvn AND #ir = :ir AND #on = :on",
                      ExpressionAttributeNames=names,
                      ExpressionAttributeValues={":ld": {"S": "10000"}, ":newRvn": {"S": "v2"}, ":rvn": {"S": "v1"},
                                                 ":ir": {"S": "0"}, ":on": {"S": "worker-a"}})
        expect_ddb_error(d.update_item, CCF, TableName=T, Key=lk, UpdateExpression="SET #ir = :ir",
                         ConditionExpression="attribute_exists(#pk) AND #rvn = :rvn",
                         ExpressionAttributeNames={"#pk": "leaseKey", "#rvn": "recordVersionNumber", "#ir": "isReleased"},
                         ExpressionAttributeValues={":rvn": {"S": "v1"}, ":ir": {"S": "1"}})
        d.update_item(TableName=T, Key=lk, UpdateExpression="SET #k0=:v0, #k1=:v1",
                      ExpressionAttributeNames={"#k0": "a0", "#k1": "a1"},
                      ExpressionAttributeValues={":v0": {"S": "x"}, ":v1": {"B": b"\x01"}})
        d.delete_item(TableName=T, Key=lk, ConditionExpression="#key = :value AND attribute_exists (leaseKey)",
                      ExpressionAttributeNames={"#key": "ownerName"}, ExpressionAttributeValues={":value": {"S": "worker-a"}})
    with soft("deleteAll; isLeaseTableEmpty"):
        for i in range(6):
            d.delete_item(TableName=T, Key=key("shardId-%012d" % i))
        r = d.scan(TableName=T, Limit=1)
        eq(r["Count"], 0, "empty after deleteAll")


def test():
    with Kinesind(args=DDB_ARGS) as kd:
        d = ddb_client(kd.endpoint)
        create_table(d)
        create_leases(d)
        take_renew_checkpoint(d)
        listing(d)
        owner_index(d)
        handoff_assign_evict(d)
        meta_and_delete(d)


main(test)
