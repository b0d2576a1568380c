"""Helpers for the DynamoDB integration tests (3N-ddb-*): a boto3 dynamodb client for a
Kinesind, table creation, and error assertions."""

import os
import time

from kn import REGION, check, eq, fail

# kinesind flags for DynamoDB tests: tables become ACTIVE quickly but not at once, so tests
# still see CREATING.
DDB_ARGS = ("--create-table-ms", "100")


def ddb_client(endpoint, max_attempts=1):
    import boto3
    from botocore.config import Config
    cfg = Config(region_name=REGION, retries={"total_max_attempts": max_attempts, "mode": "standard"},
                 connect_timeout=5, read_timeout=20)
    return boto3.client("dynamodb", endpoint_url=endpoint, region_name=REGION,
                        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "AKIAKINESINTEST"),
                        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "secret"),
                        config=cfg)


def wait_table_active(d, name, timeout=10.0, index=None):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        t = d.describe_table(TableName=name)["Table"]
        last = t["TableStatus"]
        if index:
            st = [g["IndexStatus"] for g in t.get("GlobalSecondaryIndexes", []) if g["IndexName"] == index]
            last = (last, st)
            if st == ["ACTIVE"] and t["TableStatus"] == "ACTIVE":
                return t
        elif last == "ACTIVE":
            return t
        time.sleep(0.02)
    fail("table %s not ACTIVE after %.0fs (last %s)" % (name, timeout, last))


def lease_table(d, name, billing="PAY_PER_REQUEST"):
    """Creates a table the way KCL does (hash key leaseKey S) and waits for ACTIVE."""
    kw = {}
    if billing == "PROVISIONED":
        kw["ProvisionedThroughput"] = {"ReadCapacityUnits": 10, "WriteCapacityUnits": 10}
    d.create_table(TableName=name, KeySchema=[{"AttributeName": "leaseKey", "KeyType": "HASH"}],
                   AttributeDefinitions=[{"AttributeName": "leaseKey", "AttributeType": "S"}],
                   BillingMode=billing, **kw)
    return wait_table_active(d, name)


def ddb_error(fn, **kw):
    """Calls fn expecting a ClientError; returns the error response dict."""
    from botocore.exceptions import ClientError
    try:
        r = fn(**kw)
    except ClientError as e:
        return e.response
    fail("%s(%r) succeeded, expected an error; response: %r" % (fn.__name__, kw, r))


def expect_ddb_error(fn, code, message=None, **kw):
    resp = ddb_error(fn, **kw)
    eq(resp["Error"]["Code"], code, "%s error code" % fn.__name__)
    if message is not None:
        eq(resp["Error"]["Message"], message, "%s error message" % fn.__name__)
    check(resp["ResponseMetadata"]["HTTPStatusCode"] == 400, "status 400")
    return resp
