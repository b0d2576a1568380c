"""The DynamoDB subset through boto3, the aws CLI and raw HTTP: tables, items with both
conditional styles, scans with paging and segments, queries on a table and a GSI, batch and
transactional writes, AWS's error types and messages, and the x-amz-crc32 header."""

import json
import zlib

from kn import Kinesind, aws, aws_ok, check, eq, main, raw, soft, AUTH, AMZ_DATE
from kn_ddb import DDB_ARGS, ddb_client, ddb_error, expect_ddb_error, lease_table, wait_table_active

V = "com.amazon.coral.validate#ValidationException"


def tables(d):
    with soft("CreateTable: CREATING, then ACTIVE; duplicate is ResourceInUse"):
        r = d.create_table(TableName="t-basic", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                                           {"AttributeName": "sk", "KeyType": "RANGE"}],
                           AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                                 {"AttributeName": "sk", "AttributeType": "N"}],
                           ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 5})
        td = r["TableDescription"]
        eq(td["TableStatus"], "CREATING", "status right after CreateTable")
        eq(td["TableArn"], "arn:aws:dynamodb:us-east-1:000000000000:table/t-basic", "TableArn")
        eq(td["ProvisionedThroughput"]["ReadCapacityUnits"], 5, "RCU")
        expect_ddb_error(d.get_item, "ResourceNotFoundException", "Requested resource not found",
                         TableName="t-basic", Key={"pk": {"S": "a"}, "sk": {"N": "1"}})
        t = wait_table_active(d, "t-basic")
        eq(t["ItemCount"], 0, "ItemCount")
        expect_ddb_error(d.create_table, "ResourceInUseException", "Table already exists: t-basic",
                         TableName="t-basic", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                         BillingMode="PAY_PER_REQUEST")
    with soft("CreateTable validation messages"):
        ks = [{"AttributeName": "k", "KeyType": "HASH"}]
        ad = [{"AttributeName": "k", "AttributeType": "S"}]
        expect_ddb_error(d.create_table, "ValidationException",
                         "One or more parameter values were invalid: Neither ReadCapacityUnits nor WriteCapacityUnits "
                         "can be specified when BillingMode is PAY_PER_REQUEST",
                         TableName="t-x", KeySchema=ks, AttributeDefinitions=ad, BillingMode="PAY_PER_REQUEST",
                         ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1})
        expect_ddb_error(d.create_table, "ValidationException",
                         "One or more parameter values were invalid: ReadCapacityUnits and WriteCapacityUnits must "
                         "both be specified when BillingMode is PROVISIONED",
                         TableName="t-x", KeySchema=ks, AttributeDefinitions=ad)
        expect_ddb_error(d.create_table, "ValidationException",
                         "Invalid KeySchema: The first KeySchemaElement is not a HASH key type",
                         TableName="t-x", KeySchema=[{"AttributeName": "k", "KeyType": "RANGE"}],
                         AttributeDefinitions=ad, BillingMode="PAY_PER_REQUEST")
        expect_ddb_error(d.create_table, "ValidationException",
                         "One or more parameter values were invalid: Number of attributes in KeySchema does not "
                         "exactly match number of attributes defined in AttributeDefinitions",
                         TableName="t-x", KeySchema=ks, BillingMode="PAY_PER_REQUEST",
                         AttributeDefinitions=ad + [{"AttributeName": "z", "AttributeType": "N"}])
        expect_ddb_error(d.describe_table, "ResourceNotFoundException",
                         "Requested resource not found: Table: nope not found", TableName="nope")
        r = ddb_error(d.describe_table, TableName="ab")
        eq(r["Error"]["Message"], "1 validation error detected: Value 'ab' at 'tableName' failed to satisfy "
                                  "constraint: Member must have length greater than or equal to 3", "short name")
    with soft("ListTables pages"):
        for n in ("t-l1", "t-l2", "t-l3"):
            lease_table(d, n)
        r = d.list_tables(Limit=2)
        eq(r["TableNames"], ["t-basic", "t-l1"], "first page")
        eq(r["LastEvaluatedTableName"], "t-l1", "LastEvaluatedTableName")
        r = d.list_tables(ExclusiveStartTableName="t-l1")
        eq(r["TableNames"], ["t-l2", "t-l3"], "second page")
        check("LastEvaluatedTableName" not in r, "no LastEvaluatedTableName on the last page")


def items(d):
    K = {"pk": {"S": "a"}, "sk": {"N": "1"}}
    with soft("PutItem/GetItem: numbers normalised, sets and documents round-trip"):
        item = dict(K, n={"N": "1.50"}, ns={"NS": ["3", "1e1"]}, m={"M": {"l": {"L": [{"BOOL": True}, {"NULL": True}]}}},
                    b={"B": b"\x00\x01"}, e={"S": ""})
        eq(d.put_item(TableName="t-basic", Item=item).get("Attributes"), None, "PutItem returns nothing by default")
        got = d.get_item(TableName="t-basic", Key=K, ConsistentRead=True)["Item"]
        eq(got["n"], {"N": "1.5"}, "normalised number")
        eq(sorted(got["ns"]["NS"]), ["10", "3"], "normalised number set")
        eq(got["m"], item["m"], "document")
        eq(got["b"], {"B": b"\x00\x01"}, "binary")
        eq(d.get_item(TableName="t-basic", Key={"pk": {"S": "zz"}, "sk": {"N": "1"}}).get("Item"), None, "missing item")
        long_name = "attr-" + "x" * 1000  # attribute names may be far longer than Kinesis's 128-char map keys
        d.put_item(TableName="t-basic", Item={"pk": {"S": "long"}, "sk": {"N": "0"}, long_name: {"S": "v"}})
        got = d.get_item(TableName="t-basic", Key={"pk": {"S": "long"}, "sk": {"N": "0"}})["Item"]
        eq(got.get(long_name), {"S": "v"}, "long attribute name")
        d.delete_item(TableName="t-basic", Key={"pk": {"S": "long"}, "sk": {"N": "0"}})
        expect_ddb_error(d.get_item, "ValidationException", "The provided key element does not match the schema",
                         TableName="t-basic", Key={"pk": {"S": "a"}})
        expect_ddb_error(d.put_item, "ValidationException",
                         "One or more parameter values were invalid: Missing the key sk in the item",
                         TableName="t-basic", Item={"pk": {"S": "a"}})
        expect_ddb_error(d.put_item, "ValidationException",
                         "One or more parameter values were invalid: Type mismatch for key sk expected: N actual: S",
                         TableName="t-basic", Item={"pk": {"S": "a"}, "sk": {"S": "1"}})
        expect_ddb_error(d.put_item, "ValidationException", "Item size has exceeded the maximum allowed size",
                         TableName="t-basic", Item=dict(K, big={"S": "x" * 409600}))
    with soft("legacy Expected + AttributeUpdates"):
        expect_ddb_error(d.put_item, "ConditionalCheckFailedException", "The conditional request failed",
                         TableName="t-basic", Item=K, Expected={"pk": {"Exists": False}})
        r = d.update_item(TableName="t-basic", Key=K, Expected={"n": {"Value": {"N": "1.5"}}},
                          AttributeUpdates={"n": {"Action": "ADD", "Value": {"N": "0.25"}},
                                            "s": {"Value": {"S": "new"}}, "e": {"Action": "DELETE"}},
                          ReturnValues="UPDATED_NEW")
        eq(r["Attributes"], {"n": {"N": "1.75"}, "s": {"S": "new"}}, "UPDATED_NEW")
        r = d.update_item(TableName="t-basic", Key=K,
                          Expected={"n": {"ComparisonOperator": "GT", "AttributeValueList": [{"N": "1"}]},
                                    "zz": {"ComparisonOperator": "NULL"}},
                          AttributeUpdates={"ns": {"Action": "DELETE", "Value": {"NS": ["3"]}}}, ReturnValues="ALL_OLD")
        eq(sorted(r["Attributes"]["ns"]["NS"]), ["10", "3"], "ALL_OLD")
        resp = expect_ddb_error(d.update_item, "ConditionalCheckFailedException", TableName="t-basic", Key=K,
                                Expected={"n": {"Value": {"N": "9"}}, "s": {"Value": {"S": "new"}}},
                                ConditionalOperator="AND", AttributeUpdates={"n": {"Value": {"N": "0"}}},
                                ReturnValuesOnConditionCheckFailure="ALL_OLD")
        eq(resp["Item"]["n"], {"N": "1.75"}, "old item with the error")
        d.update_item(TableName="t-basic", Key=K, Expected={"n": {"Value": {"N": "9"}}, "s": {"Value": {"S": "new"}}},
                      ConditionalOperator="OR", AttributeUpdates={"o": {"Value": {"N": "1"}}})
        expect_ddb_error(d.update_item, "ValidationException",
                         "One or more parameter values were invalid: Value must be provided when Exists is true for "
                         "Attribute: n", TableName="t-basic", Key=K, Expected={"n": {"Exists": True}})
        expect_ddb_error(d.update_item, "ValidationException",
                         "One or more parameter values were invalid: Cannot update attribute pk. This attribute is "
                         "part of the key", TableName="t-basic", Key=K, AttributeUpdates={"pk": {"Value": {"S": "b"}}})
        expect_ddb_error(d.update_item, "ValidationException",
                         "One or more parameter values were invalid: ADD action is not supported for the type S",
                         TableName="t-basic", Key=K, AttributeUpdates={"s": {"Action": "ADD", "Value": {"S": "b"}}})
    with soft("expressions"):
        r = d.update_item(TableName="t-basic", Key=K, UpdateExpression="SET #n = #n + :d, cnt = if_not_exists(cnt, :z)"
                                                                        " REMOVE o ADD tags :t",
                          ConditionExpression="attribute_exists(pk) AND #n BETWEEN :lo AND :hi",
                          ExpressionAttributeNames={"#n": "n"},
                          ExpressionAttributeValues={":d": {"N": "-0.75"}, ":z": {"N": "0"}, ":t": {"SS": ["x"]},
                                                     ":lo": {"N": "1"}, ":hi": {"N": "2"}},
                          ReturnValues="ALL_NEW")
        a = r["Attributes"]
        eq((a["n"], a["cnt"], a["tags"], "o" in a), ({"N": "1"}, {"N": "0"}, {"SS": ["x"]}, False), "ALL_NEW")
        expect_ddb_error(d.delete_item, "ConditionalCheckFailedException", TableName="t-basic", Key=K,
                         ConditionExpression="size(tags) > :one", ExpressionAttributeValues={":one": {"N": "1"}})
        expect_ddb_error(d.update_item, "ValidationException",
                         "Can not use both expression and non-expression parameters in the same request: "
                         "Non-expression parameters: {AttributeUpdates} Expression parameters: {UpdateExpression}",
                         TableName="t-basic", Key=K, UpdateExpression="SET a = :v",
                         AttributeUpdates={"b": {"Value": {"S": "x"}}}, ExpressionAttributeValues={":v": {"S": "x"}})
        expect_ddb_error(d.update_item, "ValidationException",
                         "Invalid UpdateExpression: Attribute name is a reserved keyword; reserved keyword: data",
                         TableName="t-basic", Key=K, UpdateExpression="SET data = :v",
                         ExpressionAttributeValues={":v": {"S": "x"}})
        expect_ddb_error(d.update_item, "ValidationException",
                         "Value provided in ExpressionAttributeValues unused in expressions: keys: {:w}",
                         TableName="t-basic", Key=K, UpdateExpression="SET a = :v",
                         ExpressionAttributeValues={":v": {"S": "x"}, ":w": {"S": "y"}})
        expect_ddb_error(d.put_item, "ValidationException",
                         "ExpressionAttributeValues can only be specified when using expressions: ConditionExpression "
                         "is null", TableName="t-basic", Item=K, ExpressionAttributeValues={":v": {"S": "x"}})
        expect_ddb_error(d.update_item, "ValidationException",
                         "The provided expression refers to an attribute that does not exist in the item",
                         TableName="t-basic", Key=K, UpdateExpression="SET a = nothing")
        r = d.delete_item(TableName="t-basic", Key=K, ConditionExpression="contains(tags, :x)",
                          ExpressionAttributeValues={":x": {"S": "x"}}, ReturnValues="ALL_OLD")
        eq(r["Attributes"]["n"], {"N": "1"}, "DeleteItem ALL_OLD")
        eq(d.get_item(TableName="t-basic", Key=K).get("Item"), None, "deleted")


def scans_and_queries(d):
    with soft("Scan: Limit paging, LastEvaluatedKey, filter counts, segments"):
        with_batch = [{"PutRequest": {"Item": {"pk": {"S": "p%d" % (i % 5)}, "sk": {"N": str(i)},
                                               "odd": {"BOOL": i % 2 == 1}}}} for i in range(25)]
        eq(d.batch_write_item(RequestItems={"t-basic": with_batch})["UnprocessedItems"], {}, "UnprocessedItems")
        seen, key, pages = [], None, 0
        while True:
            kw = {"ExclusiveStartKey": key} if key else {}
            r = d.scan(TableName="t-basic", Limit=7, **kw)
            pages += 1
            check(r["ScannedCount"] <= 7, "Limit bounds ScannedCount")
            seen += [(i["pk"]["S"], int(i["sk"]["N"])) for i in r["Items"]]
            key = r.get("LastEvaluatedKey")
            if not key:
                break
        eq(pages, 4, "pages of 7 over 25 items")
        eq(sorted(seen), sorted(("p%d" % (i % 5), i) for i in range(25)), "every item exactly once")
        r = d.scan(TableName="t-basic", Limit=25)
        check("LastEvaluatedKey" in r, "LastEvaluatedKey when Limit is hit even though nothing remains")
        r = d.scan(TableName="t-basic", FilterExpression="odd = :t", ExpressionAttributeValues={":t": {"BOOL": True}})
        eq((r["Count"], r["ScannedCount"]), (12, 25), "Count after the filter, ScannedCount before")
        r = d.scan(TableName="t-basic", ScanFilter={"sk": {"ComparisonOperator": "LT", "AttributeValueList": [{"N": "5"}]}},
                   Select="COUNT")
        eq((r["Count"], "Items" in r), (5, False), "ScanFilter with Select COUNT")
        union = []
        for seg in range(4):
            key = None
            while True:
                kw = {"ExclusiveStartKey": key} if key else {}
                r = d.scan(TableName="t-basic", Segment=seg, TotalSegments=4, Limit=3, **kw)
                union += [(i["pk"]["S"], i["sk"]["N"]) for i in r["Items"]]
                key = r.get("LastEvaluatedKey")
                if not key:
                    break
            if seg == 0:
                first0 = d.scan(TableName="t-basic", Segment=0, TotalSegments=4, Limit=1)
        eq(len(union), 25, "segments cover every item")
        eq(len(set(union)), 25, "segments are disjoint")
        if "LastEvaluatedKey" in first0:
            for other in range(1, 4):
                r = ddb_error(d.scan, TableName="t-basic", Segment=other, TotalSegments=4,
                              ExclusiveStartKey=first0["LastEvaluatedKey"])
                if r["Error"]["Code"] == "ValidationException":
                    check(r["Error"]["Message"].startswith("The provided starting key is invalid: Invalid "
                                                           "ExclusiveStartKey. Please use ExclusiveStartKey with "
                                                           "correct Segment."), r["Error"]["Message"])
                    break
    with soft("Query on the table: range conditions, order, paging"):
        r = d.query(TableName="t-basic", KeyConditionExpression="pk = :p AND sk BETWEEN :a AND :b",
                    ExpressionAttributeValues={":p": {"S": "p1"}, ":a": {"N": "6"}, ":b": {"N": "16"}})
        eq([int(i["sk"]["N"]) for i in r["Items"]], [6, 11, 16], "ascending BETWEEN")
        r = d.query(TableName="t-basic", KeyConditionExpression="pk = :p", ScanIndexForward=False, Limit=2,
                    ExpressionAttributeValues={":p": {"S": "p1"}})
        eq([int(i["sk"]["N"]) for i in r["Items"]], [21, 16], "descending first page")
        r = d.query(TableName="t-basic", KeyConditionExpression="pk = :p", ScanIndexForward=False,
                    ExclusiveStartKey=r["LastEvaluatedKey"], ExpressionAttributeValues={":p": {"S": "p1"}})
        eq([int(i["sk"]["N"]) for i in r["Items"]], [11, 6, 1], "descending rest")
        r = d.query(TableName="t-basic", KeyConditions={"pk": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "p2"}]},
                                                        "sk": {"ComparisonOperator": "GT", "AttributeValueList": [{"N": "10"}]}})
        eq([int(i["sk"]["N"]) for i in r["Items"]], [12, 17, 22], "legacy KeyConditions")
        expect_ddb_error(d.query, "ValidationException", "Query key condition not supported", TableName="t-basic",
                         KeyConditionExpression="pk = :p OR sk = :a",
                         ExpressionAttributeValues={":p": {"S": "p1"}, ":a": {"N": "1"}})
        expect_ddb_error(d.query, "ValidationException", "Query condition missed key schema element: pk",
                         TableName="t-basic", KeyConditionExpression="sk = :a",
                         ExpressionAttributeValues={":a": {"N": "1"}})
    with soft("GSI: UpdateTable Create lists the index; Query on it; sparse"):
        lease_table(d, "t-gsi")
        for i in range(6):
            item = {"leaseKey": {"S": "shard-%d" % i}}
            if i < 5:
                item["leaseOwner"] = {"S": "w%d" % (i % 2)}
            d.put_item(TableName="t-gsi", Item=item)
        r = d.update_table(TableName="t-gsi", AttributeDefinitions=[{"AttributeName": "leaseOwner", "AttributeType": "S"},
                                                                    {"AttributeName": "leaseKey", "AttributeType": "S"}],
                           GlobalSecondaryIndexUpdates=[{"Create": {
                               "IndexName": "LeaseOwnerToLeaseKeyIndex",
                               "KeySchema": [{"AttributeName": "leaseOwner", "KeyType": "HASH"},
                                             {"AttributeName": "leaseKey", "KeyType": "RANGE"}],
                               "Projection": {"ProjectionType": "KEYS_ONLY"}}}])
        gs = r["TableDescription"]["GlobalSecondaryIndexes"]
        eq([(g["IndexName"], g["IndexStatus"]) for g in gs], [("LeaseOwnerToLeaseKeyIndex", "CREATING")],
           "UpdateTable response lists the new index")
        eq(r["TableDescription"]["TableStatus"], "UPDATING", "table UPDATING while the index builds")
        wait_table_active(d, "t-gsi", index="LeaseOwnerToLeaseKeyIndex")
        keys, key = [], None
        while True:
            kw = {"ExclusiveStartKey": key} if key else {}
            r = d.query(TableName="t-gsi", IndexName="LeaseOwnerToLeaseKeyIndex", Limit=2,
                        KeyConditionExpression="leaseOwner = :o", ExpressionAttributeValues={":o": {"S": "w0"}}, **kw)
            for i in r["Items"]:
                eq(sorted(i), ["leaseKey", "leaseOwner"], "KEYS_ONLY projection")
            keys += [i["leaseKey"]["S"] for i in r["Items"]]
            key = r.get("LastEvaluatedKey")
            if not key:
                break
        eq(keys, ["shard-0", "shard-2", "shard-4"], "index query in range-key order")
        r = d.scan(TableName="t-gsi", IndexName="LeaseOwnerToLeaseKeyIndex")
        eq(r["Count"], 5, "index scan is sparse")
        expect_ddb_error(d.query, "ValidationException", "Consistent reads are not supported on global secondary indexes",
                         TableName="t-gsi", IndexName="LeaseOwnerToLeaseKeyIndex", ConsistentRead=True,
                         KeyConditionExpression="leaseOwner = :o", ExpressionAttributeValues={":o": {"S": "w0"}})


def batches(d):
    with soft("BatchGetItem"):
        keys = [{"pk": {"S": "p0"}, "sk": {"N": "0"}}, {"pk": {"S": "p3"}, "sk": {"N": "8"}},
                {"pk": {"S": "nope"}, "sk": {"N": "1"}}]
        r = d.batch_get_item(RequestItems={"t-basic": {"Keys": keys, "ProjectionExpression": "sk"}})
        eq(sorted(i["sk"]["N"] for i in r["Responses"]["t-basic"]), ["0", "8"], "found items, projected")
        eq(r["UnprocessedKeys"], {}, "UnprocessedKeys")
        expect_ddb_error(d.batch_get_item, "ValidationException", "Provided list of item keys contains duplicates",
                         RequestItems={"t-basic": {"Keys": [keys[0], keys[0]]}})
    with soft("TransactWriteItems: all or nothing, CancellationReasons"):
        K1, K2 = {"pk": {"S": "tx"}, "sk": {"N": "1"}}, {"pk": {"S": "tx"}, "sk": {"N": "2"}}
        d.transact_write_items(TransactItems=[
            {"Put": {"TableName": "t-basic", "Item": dict(K1, v={"N": "1"}),
                     "ConditionExpression": "attribute_not_exists(pk)"}},
            {"Put": {"TableName": "t-basic", "Item": dict(K2, v={"N": "2"})}}])
        resp = expect_ddb_error(d.transact_write_items, "TransactionCanceledException", TransactItems=[
            {"Update": {"TableName": "t-basic", "Key": K1, "UpdateExpression": "SET v = :n",
                        "ExpressionAttributeValues": {":n": {"N": "100"}}}},
            {"ConditionCheck": {"TableName": "t-basic", "Key": K2, "ConditionExpression": "v = :x",
                                "ExpressionAttributeValues": {":x": {"N": "3"}},
                                "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}}])
        eq(resp["Error"]["Message"], "Transaction cancelled, please refer cancellation reasons for specific reasons "
                                     "[None, ConditionalCheckFailed]", "message")
        reasons = resp["CancellationReasons"]
        eq([x["Code"] for x in reasons], ["None", "ConditionalCheckFailed"], "reason codes")
        eq(reasons[1]["Item"]["v"], {"N": "2"}, "old item in the reason")
        eq(d.get_item(TableName="t-basic", Key=K1)["Item"]["v"], {"N": "1"}, "nothing written")
        expect_ddb_error(d.transact_write_items, "ValidationException",
                         "Transaction request cannot include multiple operations on one item", TransactItems=[
                             {"Delete": {"TableName": "t-basic", "Key": K1}}, {"Delete": {"TableName": "t-basic", "Key": K1}}])
        d.transact_write_items(TransactItems=[{"Delete": {"TableName": "t-basic", "Key": K1}},
                                              {"Update": {"TableName": "t-basic", "Key": K2, "UpdateExpression": "ADD v :one",
                                                          "ExpressionAttributeValues": {":one": {"N": "1"}}}}])
        eq(d.get_item(TableName="t-basic", Key=K1).get("Item"), None, "deleted in the transaction")
        eq(d.get_item(TableName="t-basic", Key=K2)["Item"]["v"], {"N": "3"}, "updated in the transaction")


def cli(kd):
    with soft("aws dynamodb CLI"):
        aws_ok(kd.endpoint, "dynamodb", "create-table", "--table-name", "cli-t", "--billing-mode", "PAY_PER_REQUEST",
               "--attribute-definitions", "AttributeName=id,AttributeType=S", "--key-schema",
               "AttributeName=id,KeyType=HASH")
        aws_ok(kd.endpoint, "dynamodb", "wait", "table-exists", "--table-name", "cli-t")
        aws_ok(kd.endpoint, "dynamodb", "put-item", "--table-name", "cli-t", "--item",
               json.dumps({"id": {"S": "one"}, "n": {"N": "7"}}), "--condition-expression", "attribute_not_exists(id)")
        rc, out, err = aws(kd.endpoint, "dynamodb", "put-item", "--table-name", "cli-t", "--item",
                           json.dumps({"id": {"S": "one"}}), "--condition-expression", "attribute_not_exists(id)")
        check(rc != 0 and "ConditionalCheckFailedException" in err, "CLI sees the failed condition: %s" % err)
        out = aws_ok(kd.endpoint, "dynamodb", "update-item", "--table-name", "cli-t", "--key", '{"id":{"S":"one"}}',
                     "--update-expression", "SET n = n + :d", "--expression-attribute-values", '{":d":{"N":"3"}}',
                     "--return-values", "ALL_NEW")
        eq(out["Attributes"]["n"], {"N": "10"}, "CLI update-item")
        out = aws_ok(kd.endpoint, "dynamodb", "scan", "--table-name", "cli-t")
        eq(out["Count"], 1, "CLI scan")
        out = aws_ok(kd.endpoint, "dynamodb", "list-tables")
        check("cli-t" in out["TableNames"], "CLI list-tables")


def wire(kd):
    def post(op, body, ct="application/x-amz-json-1.0", auth=True):
        h = [("Content-Type", ct), ("X-Amz-Target", "DynamoDB_20120810." + op)]
        if auth:
            h += [("Authorization", AUTH), ("X-Amz-Date", AMZ_DATE)]
        return raw(kd.port, body=body, headers=h)

    with soft("wire: crc32, content type, errors"):
        r = post("ListTables", "{}")
        eq(r.status, 200, "status")
        eq(r.header("x-amz-crc32"), str(zlib.crc32(r.body)), "x-amz-crc32 is the CRC32 of the body")
        eq(r.header("content-type"), "application/x-amz-json-1.0", "content type")
        check(r.header("x-amzn-requestid"), "request id")
        r = post("DescribeTable", '{"TableName":"nope-table"}')
        eq(r.json(), {"__type": "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException",
                      "message": "Requested resource not found: Table: nope-table not found"}, "error body")
        eq(r.header("x-amz-crc32"), str(zlib.crc32(r.body)), "crc32 of an error body")
        r = post("DescribeTable", '{"TableName":"x"}')
        eq(r.json()["__type"], V, "validation namespace")
        r = post("Nope", "{}")
        eq(r.json(), {"__type": "com.amazon.coral.service#UnknownOperationException"}, "unknown operation")
        r = post("ListTables", "{", )
        eq(r.json()["__type"], "com.amazon.coral.service#SerializationException", "bad JSON")
        r = post("ListTables", "{}", auth=False)
        eq(r.json(), {"__type": "com.amazon.coral.service#MissingAuthenticationTokenException",
                      "message": "Request is missing Authentication Token"}, "no auth")
        r = post("ListTables", "{}", ct="text/plain")
        eq(r.status, 404, "bad content type")
        r = post("PutItem", '{"TableName":"t-basic","Item":{"pk":{"S":"a","N":"1"}}}')
        eq(r.json(), {"__type": V, "message": "Supplied AttributeValue has more than one datatypes set, must contain "
                                              "exactly one of the supported datatypes"}, "two datatypes")
        r = post("PutItem", '{"TableName":"t-basic","Item":{"pk":{"S":"a"},"sk":{"N":"1e999"}}}')
        eq(r.json()["message"], "Number overflow. Attempting to store a number with magnitude larger than supported "
                                "range", "number overflow")
        r = post("UpdateItem", '{"TableName":"t-basic","Key":{"pk":{"S":"a"},"sk":{"N":"1"}},'
                               '"UpdateExpression":"SET a = (((:v"}', )
        eq(r.json()["__type"], V, "nonsense update expression is a ValidationException")


def test():
    with Kinesind(args=DDB_ARGS) as kd:
        d = ddb_client(kd.endpoint)
        tables(d)
        items(d)
        scans_and_queries(d)
        batches(d)
        cli(kd)
        wire(kd)
        with soft("DeleteTable"):
            eq(d.delete_table(TableName="t-l3")["TableDescription"]["TableStatus"], "DELETING", "status")
            expect_ddb_error(d.describe_table, "ResourceNotFoundException", TableName="t-l3")
        check(kd.alive(), "kinesind survived")


main(test)
