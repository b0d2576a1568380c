"""Workers in CLIENT_VERSION_UPGRADE_FROM_2X (clientVersionConfig =
CLIENT_VERSION_CONFIG_COMPATIBLE_WITH_2X) follow a change of the migration state at run time, as
Java's ClientVersionChangeMonitor does (amazon-kinesis-client, amazon-kinesis-client/src/main/java/
software/amazon/kinesis/coordinator/migration/ClientVersionChangeMonitor.java: every 60 s, the first
read after 60-90 s; MigrationClientVersionUpgradeFrom2xState.java#onClientVersionChange). The test
writes CLIENT_VERSION_3X_WITH_ROLLBACK, as a Java leader's MigrationReadyMonitor would: both workers
switch to the 3.x algorithms without a restart, keep the leases they hold, elect a leader, and keep
processing. Then the test writes CLIENT_VERSION_2X, as the KCL migration script does for a rollback:
both go back to the 2.x algorithms and the leader lock is released."""
import time

from kn import boto3_client, check, create_active, eq
from kn_kcl import KclApp, main_with_workers, put

V2X = {
    "clientVersionConfig": "CLIENT_VERSION_CONFIG_COMPATIBLE_WITH_2X",
    "leaseAssignmentIntervalMillis": "1000",
    "workerMetricsReporterFreqInMillis": "1000",
    "disableWorkerMetrics": "true",
    "dynamoDbLockBasedLeaderLeaseDurationInMillis": "3000",
    "dynamoDbLockBasedLeaderHeartbeatPeriodInMillis": "500",
}


def run(kd):
    k = boto3_client(kd.endpoint)
    create_active(k, "f3", 2)
    shards = sorted(s["ShardId"] for s in k.list_shards(StreamName="f3")["Shards"])
    app = KclApp(kd, "f3", "f3app", extra=V2X)
    c1 = app.worker("c1")
    c2 = app.worker("c2")
    first = put(k, "f3", "a", 100)
    app.wait_records(first, timeout=30)
    app.wait_owners(lambda o: sorted(o.get(s) for s in shards) == ["c1", "c2"], 20, "one lease each (2.x taker)")
    m = app.ddb.get_item(TableName="f3app", Key={"leaseKey": {"S": "Migration3.0"}}, ConsistentRead=True)["Item"]
    eq(m["cv"]["S"], "CLIENT_VERSION_UPGRADE_FROM_2X", "cv")
    app.ddb.update_item(
        TableName="f3app", Key={"leaseKey": {"S": "Migration3.0"}},
        Expected={"cv": {"Value": {"S": "CLIENT_VERSION_UPGRADE_FROM_2X"}}},
        AttributeUpdates={"cv": {"Action": "PUT", "Value": {"S": "CLIENT_VERSION_3X_WITH_ROLLBACK"}},
                          "mb": {"Action": "PUT", "Value": {"S": "java-leader"}},
                          "mts": {"Action": "PUT", "Value": {"N": str(int(time.time() * 1000))}}})
    t0 = time.monotonic()
    deadline = t0 + 120
    switched = "KCL client version CLIENT_VERSION_UPGRADE_FROM_2X -> CLIENT_VERSION_3X_WITH_ROLLBACK"
    while not (switched in c1.text() and switched in c2.text()):
        check(time.monotonic() < deadline, "both workers follow the flip within 120 s")
        time.sleep(0.5)
    print("both workers switched after %.0f s" % (time.monotonic() - t0))
    deadline = time.monotonic() + 20
    while True:
        item = app.ddb.get_item(TableName="f3app", Key={"leaseKey": {"S": "Leader"}}, ConsistentRead=True).get("Item")
        if item and item["ownerName"]["S"] in ("c1", "c2"):
            break
        check(time.monotonic() < deadline, "a leader elected after the flip")
        time.sleep(0.2)
    second = put(k, "f3", "b", 100)
    app.wait_records(second, timeout=30)
    eq(sorted(app.owners().get(s) for s in shards), ["c1", "c2"], "the leases stayed where they were")

    # The KCL migration script's rollback (CLIENT_VERSION_2X): both go back to the 2.x taker and the
    # leader releases the lock (MigrationClientVersion3xWithRollbackState.java#onClientVersionChange).
    app.ddb.update_item(
        TableName="f3app", Key={"leaseKey": {"S": "Migration3.0"}},
        Expected={"cv": {"Value": {"S": "CLIENT_VERSION_3X_WITH_ROLLBACK"}}},
        AttributeUpdates={"cv": {"Action": "PUT", "Value": {"S": "CLIENT_VERSION_2X"}},
                          "mb": {"Action": "PUT", "Value": {"S": "migration-script"}},
                          "mts": {"Action": "PUT", "Value": {"N": str(int(time.time() * 1000))}}})
    back = "KCL client version CLIENT_VERSION_3X_WITH_ROLLBACK -> CLIENT_VERSION_2X"
    deadline = time.monotonic() + 90
    while not (back in c1.text() and back in c2.text()):
        check(time.monotonic() < deadline, "both workers follow the rollback within 90 s")
        time.sleep(0.5)
    deadline = time.monotonic() + 20
    while app.ddb.get_item(TableName="f3app", Key={"leaseKey": {"S": "Leader"}}, ConsistentRead=True).get("Item"):
        check(time.monotonic() < deadline, "the leader lock released after the rollback")
        time.sleep(0.2)
    third = put(k, "f3", "c", 100)
    app.wait_records(third, timeout=30)
    eq(sorted(app.owners().get(s) for s in shards), ["c1", "c2"], "the leases stayed where they were")
    eq(c1.stop(), 0, "c1 exit status")
    eq(c2.stop(), 0, "c2 exit status")


main_with_workers(run)
