"""DynamoDB tables, indexes and items live in the catalog: they survive a SIGTERM restart and a
SIGKILL (every acknowledged write was committed with synchronous=FULL before the answer)."""

from kn import Kinesind, check, eq, main, soft
from kn_ddb import ddb_client, expect_ddb_error, lease_table, wait_table_active


def snapshot(d):
    out = {}
    for t in sorted(d.list_tables()["TableNames"]):
        desc = d.describe_table(TableName=t)["Table"]
        items = d.scan(TableName=t, ConsistentRead=True)["Items"]
        out[t] = (desc["TableArn"], desc["TableId"], desc["KeySchema"], desc["TableStatus"],
                  [(g["IndexName"], g["IndexStatus"]) for g in desc.get("GlobalSecondaryIndexes", [])],
                  sorted(items, key=lambda i: i["leaseKey"]["S"]))
    return out


def test():
    with Kinesind(args=("--create-table-ms", "0")) as kd:
        d = ddb_client(kd.endpoint)
        lease_table(d, "app-1")
        lease_table(d, "app-2", billing="PROVISIONED")
        d.update_table(TableName="app-1", AttributeDefinitions=[{"AttributeName": "leaseOwner", "AttributeType": "S"}],
                       GlobalSecondaryIndexUpdates=[{"Create": {
                           "IndexName": "LeaseOwnerToLeaseKeyIndex",
                           "KeySchema": [{"AttributeName": "leaseOwner", "KeyType": "HASH"},
                                         {"AttributeName": "leaseKey", "KeyType": "RANGE"}],
                           "Projection": {"ProjectionType": "KEYS_ONLY"}}}])
        for i in range(20):
            d.put_item(TableName="app-1", Item={"leaseKey": {"S": "shardId-%012d" % i}, "leaseCounter": {"N": str(i)},
                                                "leaseOwner": {"S": "w%d" % (i % 3)}, "n": {"N": "12.500"}})
        d.put_item(TableName="app-2", Item={"leaseKey": {"S": "x"}, "m": {"M": {"a": {"L": [{"NULL": True}]}}}})
        lease_table(d, "doomed")
        d.delete_table(TableName="doomed")
        before = snapshot(d)
        eq(sorted(before), ["app-1", "app-2"], "tables before restart")

        with soft("SIGTERM restart"):
            kd.restart()
            eq(snapshot(ddb_client(kd.endpoint)), before, "tables and items after SIGTERM restart")
        with soft("SIGKILL right after acknowledged writes"):
            d = ddb_client(kd.endpoint)
            for i in range(20):
                d.update_item(TableName="app-1", Key={"leaseKey": {"S": "shardId-%012d" % i}},
                              Expected={"leaseCounter": {"Value": {"N": str(i)}}},
                              AttributeUpdates={"leaseCounter": {"Action": "ADD", "Value": {"N": "100"}}})
            after_writes = snapshot(d)
            kd.kill()
            kd.start()
            d = ddb_client(kd.endpoint)
            eq(snapshot(d), after_writes, "acknowledged writes after SIGKILL")
            r = d.query(TableName="app-1", IndexName="LeaseOwnerToLeaseKeyIndex",
                        KeyConditionExpression="leaseOwner = :o", ExpressionAttributeValues={":o": {"S": "w0"}})
            eq(r["Count"], 7, "index still answers")
            expect_ddb_error(d.describe_table, "ResourceNotFoundException", TableName="doomed")
    with soft("a table still CREATING at shutdown becomes ACTIVE after restart"):
        with Kinesind(args=("--create-table-ms", "300")) as kd2:
            d = ddb_client(kd2.endpoint)
            d.create_table(TableName="slow", KeySchema=[{"AttributeName": "leaseKey", "KeyType": "HASH"}],
                           AttributeDefinitions=[{"AttributeName": "leaseKey", "AttributeType": "S"}],
                           BillingMode="PAY_PER_REQUEST")
            kd2.restart()
            d = ddb_client(kd2.endpoint)
            wait_table_active(d, "slow")
            d.put_item(TableName="slow", Item={"leaseKey": {"S": "a"}})


main(test)
