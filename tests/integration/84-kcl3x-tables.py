"""KCL 3.x lease table written by kinesin-kcl (clientVersionConfig = CLIENT_VERSION_CONFIG_3X),
read back with boto3 and checked against what the Java KCL 3.5 code reads and writes
(amazon-kinesis-client @ 024eb86e, paths relative to
amazon-kinesis-client/src/main/java/software/amazon/kinesis/):

  leases/dynamodb/DynamoDBLeaseSerializer.java   lease attributes: entityType LEASE, throughputKBps N
  leases/dynamodb/DynamoDBLeaseRefresher.java    GSI LeaseOwnerToLeaseKeyIndex (leaseOwner HASH,
                                                 leaseKey RANGE, KEYS_ONLY), listLeaseKeysForWorker
  coordinator/migration/MigrationState.java      item Migration3.0: cv, mb, mts, h (deserialize)
  leases/EntityType.java                         entityType values
  leader/LeaderLock.java + amazon-dynamodb-lock-client AmazonDynamoDBLockClient.java
                                                 item Leader: ownerName, leaseDuration, recordVersionNumber
  worker/metricstats/WorkerMetricStats.java      item <workerId>: lut, sts, opr, sup, slu (isValidWorkerMetric)

A second worker started without clientVersionConfig runs the 3.x algorithms too, because the table
says CLIENT_VERSION_3X (coordinator/migration/MigrationClientVersionStateInitializer.java)."""
import time

from kn import boto3_client, check, create_active, eq
from kn_kcl import KclApp, main_with_workers, put

V3 = {
    "clientVersionConfig": "CLIENT_VERSION_CONFIG_3X",
    "leaseAssignmentIntervalMillis": "1000",
    "workerMetricsReporterFreqInMillis": "1000",
    "inMemoryWorkerMetricsCaptureFrequencyMillis": "200",
    "dynamoDbLockBasedLeaderLeaseDurationInMillis": "3000",
    "dynamoDbLockBasedLeaderHeartbeatPeriodInMillis": "500",
}


def rows(app):
    items, kw = [], {"TableName": app.name, "ConsistentRead": True}
    while True:
        r = app.ddb.scan(**kw)
        items += r["Items"]
        if not r.get("LastEvaluatedKey"):
            return {i["leaseKey"]["S"]: i for i in items}
        kw["ExclusiveStartKey"] = r["LastEvaluatedKey"]


def check_types(item, types, what):
    for name, t in types.items():
        check(name in item, "%s: attribute %s missing: %r" % (what, name, item))
        eq(list(item[name].keys()), [t], "%s: type of %s" % (what, name))


def check_migration(item, cv, mb):
    # MigrationState.deserialize: cv (a ClientVersion name), mb S, mts N, h L of M {cv, mb, mts}
    check_types(item, {"entityType": "S", "cv": "S", "mb": "S", "mts": "N", "h": "L"}, "Migration3.0")
    eq(item["entityType"]["S"], "CLIENT_VERSION_MIGRATION", "Migration3.0 entityType")
    eq(item["cv"]["S"], cv, "Migration3.0 cv")
    eq(item["mb"]["S"], mb, "Migration3.0 mb")
    check(abs(int(item["mts"]["N"]) - time.time() * 1000) < 600000, "mts is epoch milliseconds: %r" % item["mts"])
    h = item["h"]["L"]
    check(1 <= len(h) <= 10, "history of 1..10 entries: %r" % h)
    for e in h:
        check_types(e["M"], {"cv": "S", "mb": "S", "mts": "N"}, "history entry")
    eq(h[-1]["M"]["cv"]["S"], "CLIENT_VERSION_INIT", "the first history entry")


def check_worker_stats(item, wid):
    # WorkerMetricStats (LeaseTableWorkerMetricStats: partition key leaseKey = the worker id)
    check_types(item, {"entityType": "S", "lut": "N", "sts": "M", "opr": "M", "sup": "N", "slu": "N"}, wid)
    eq(item["entityType"]["S"], "WORKER_METRIC_STATS", "%s entityType" % wid)
    lut = int(item["lut"]["N"])
    check(abs(lut - time.time()) < 60, "lut is epoch seconds: %r" % lut)
    eq(item["sup"]["N"], "1", "support code (Features.SINGLE_TABLE_MIGRATION)")
    sts, opr = item["sts"]["M"], item["opr"]["M"]
    eq(sorted(sts), ["C"], "%s metrics (WorkerMetricType CPU = C)" % wid)
    vals = [float(v["N"]) for v in sts["C"]["L"]]
    check(1 <= len(vals) <= 10, "1..noOfPersistedMetricsPerWorkerMetrics values: %r" % vals)
    check(all(v == -1 or 0 <= v <= 100 for v in vals), "CPU percentages: %r" % vals)
    # isValidWorkerMetric: every sts name has an operating range whose first value is not 0
    eq(sorted(opr), sorted(sts), "opr names")
    eq([v["N"] for v in opr["C"]["L"]], ["100"], "operating range of C")
    return lut, vals


def run(kd):
    k = boto3_client(kd.endpoint)
    create_active(k, "t3", 4)
    first = put(k, "t3", "a", 200)
    app = KclApp(kd, "t3", "t3app", extra=V3)
    w1 = app.worker("w1")
    app.wait_records(first, timeout=30)

    t = app.ddb.describe_table(TableName="t3app")["Table"]
    gsi = [g for g in t.get("GlobalSecondaryIndexes", []) if g["IndexName"] == "LeaseOwnerToLeaseKeyIndex"]
    eq(len(gsi), 1, "the LeaseOwnerToLeaseKeyIndex GSI")
    eq(gsi[0]["KeySchema"], [{"AttributeName": "leaseOwner", "KeyType": "HASH"},
                             {"AttributeName": "leaseKey", "KeyType": "RANGE"}], "GSI key schema")
    eq(gsi[0]["Projection"], {"ProjectionType": "KEYS_ONLY"}, "GSI projection")
    eq(gsi[0]["IndexStatus"], "ACTIVE", "GSI status")

    shards = [s["ShardId"] for s in k.list_shards(StreamName="t3")["Shards"]]
    deadline = time.monotonic() + 20
    while True:  # throughputKBps lands with the renewals after the records
        r = rows(app)
        leases = {key: i for key, i in r.items() if key in shards}
        if all("throughputKBps" in i for i in leases.values()) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    eq(sorted(leases), sorted(shards), "one lease per shard")
    for key, i in leases.items():
        check_types(i, {"entityType": "S", "leaseOwner": "S", "leaseCounter": "N", "checkpoint": "S",
                        "throughputKBps": "N"}, key)
        eq(i["entityType"]["S"], "LEASE", "%s entityType" % key)
        eq(i["leaseOwner"]["S"], "w1", "%s owner" % key)
        check("checkpointOwner" not in i, "%s: no hand-off in progress" % key)
        check(float(i["throughputKBps"]["N"]) >= 0, "%s throughputKBps %r" % (key, i["throughputKBps"]))
    check(any(float(i["throughputKBps"]["N"]) > 0 for i in leases.values()),
          "some lease with a positive throughputKBps: %r" % {k2: i["throughputKBps"] for k2, i in leases.items()})

    check_migration(r["Migration3.0"], "CLIENT_VERSION_3X", "w1")
    lock = r["Leader"]
    check_types(lock, {"entityType": "S", "ownerName": "S", "leaseDuration": "S", "recordVersionNumber": "S"}, "Leader")
    eq(lock["entityType"]["S"], "LEADER", "Leader entityType")
    eq(lock["ownerName"]["S"], "w1", "leader")
    eq(lock["leaseDuration"]["S"], "3000", "leader leaseDuration (ms as a string)")
    lut1, _ = check_worker_stats(r["w1"], "w1")
    eq(sorted(r), sorted(shards + ["Migration3.0", "Leader", "w1"]), "rows of the lease table")

    # listLeaseKeysForWorker: the GSI answers with the keys only.
    q = app.ddb.query(TableName="t3app", IndexName="LeaseOwnerToLeaseKeyIndex",
                      KeyConditionExpression="leaseOwner = :leaseOwner",
                      ExpressionAttributeValues={":leaseOwner": {"S": "w1"}})
    eq(sorted(i["leaseKey"]["S"] for i in q["Items"]), sorted(shards), "GSI keys of w1")

    # The leader heartbeats (new recordVersionNumber) and the metrics row is refreshed.
    time.sleep(2.5)
    r2 = rows(app)
    check(r2["Leader"]["recordVersionNumber"]["S"] != lock["recordVersionNumber"]["S"], "leader heartbeat")
    lut2, vals = check_worker_stats(r2["w1"], "w1")
    check(lut2 > lut1 and len(vals) >= 2, "the WorkerMetricStats row is reported periodically: %r %r" % (lut1, lut2))

    # A worker without clientVersionConfig follows the table's CLIENT_VERSION_3X.
    del app.props["clientVersionConfig"]
    w2 = app.worker("w2")
    deadline = time.monotonic() + 20
    while "KCL client version CLIENT_VERSION_3X" not in w2.text() and time.monotonic() < deadline:
        time.sleep(0.2)
    check("KCL client version CLIENT_VERSION_3X" in w2.text(), "w2 runs CLIENT_VERSION_3X")
    eq(w1.stop(), 0, "w1 exit status")
    eq(w2.stop(), 0, "w2 exit status")
    check("Leader" not in rows(app) or rows(app)["Leader"]["ownerName"]["S"] != "w1",
          "the leader lock is released at shutdown")


main_with_workers(run)
