"""A lease table written by kinesin-kcl in 2.x mode migrates to KCL 3.x, following the Java
client-version rules (amazon-kinesis-client, amazon-kinesis-client/src/main/java/software/amazon/
kinesis/coordinator/migration/MigrationClientVersionStateInitializer.java and
AbstractMigrationClientVersionState.java; MigrationState.java for the item):

 1. a1, no clientVersionConfig (COMPATIBLE_WITH_2X_PHASE1): pure 2.x, writes nothing but leases.
 2. a2, CLIENT_VERSION_CONFIG_COMPATIBLE_WITH_2X: no state -> CLIENT_VERSION_UPGRADE_FROM_2X is
    created (history: CLIENT_VERSION_INIT), the LeaseOwnerToLeaseKeyIndex GSI is created and a2
    publishes WorkerMetricStats, while both keep the 2.x taker (a2 steals one lease; no Leader row).
 3. The test writes CLIENT_VERSION_3X_WITH_ROLLBACK as a Java leader's MigrationReadyMonitor would,
    and SIGKILLs a1 and a2.
 4. b1, b2, CLIENT_VERSION_CONFIG_3X: 3X_WITH_ROLLBACK + 3X config -> CLIENT_VERSION_3X is written
    (conditional on the old cv, the old state prepended to the history); a leader is elected; it
    assigns the dead workers' leases once they expire; processing resumes from the 2.x checkpoints.
 5. SIGKILL the leader: the survivor takes the Leader lock after seeing its recordVersionNumber
    unchanged for leaseDuration (the lock client 1.4.0 that Java KCL pins never does: K #1803) and
    assigns itself every lease."""
import time

from kn import boto3_client, check, create_active, eq
from kn_kcl import KclApp, main_with_workers, put

FAST = {
    "leaseAssignmentIntervalMillis": "1000",
    "workerMetricsReporterFreqInMillis": "1000",
    "inMemoryWorkerMetricsCaptureFrequencyMillis": "200",
    "dynamoDbLockBasedLeaderLeaseDurationInMillis": "3000",
    "dynamoDbLockBasedLeaderHeartbeatPeriodInMillis": "500",
    "disableWorkerMetrics": "true",
}


def rows(app):
    r = app.ddb.scan(TableName=app.name, ConsistentRead=True)
    return {i["leaseKey"]["S"]: i for i in r["Items"]}


def wait(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        check(time.monotonic() < deadline, "%s: not within %.0f s" % (what, timeout))
        time.sleep(0.2)


def run(kd):
    k = boto3_client(kd.endpoint)
    create_active(k, "m3", 2)
    shards = sorted(s["ShardId"] for s in k.list_shards(StreamName="m3")["Shards"])
    app = KclApp(kd, "m3", "m3app")
    a1 = app.worker("a1")
    batch_a = put(k, "m3", "a", 100)
    app.wait_records(batch_a, timeout=30)
    eq(sorted(rows(app)), shards, "a 2.x worker writes leases only")

    a2 = app.worker("a2", extra=dict(FAST, clientVersionConfig="CLIENT_VERSION_CONFIG_COMPATIBLE_WITH_2X"))
    m = wait(lambda: rows(app).get("Migration3.0"), 20, "Migration3.0 written by a2")
    eq(m["cv"]["S"], "CLIENT_VERSION_UPGRADE_FROM_2X", "cv after a COMPATIBLE_WITH_2X worker started")
    eq(m["mb"]["S"], "a2", "mb")
    eq([e["M"]["cv"]["S"] for e in m["h"]["L"]], ["CLIENT_VERSION_INIT"], "history")
    st = wait(lambda: rows(app).get("a2"), 20, "a2's WorkerMetricStats")
    eq(st["entityType"]["S"], "WORKER_METRIC_STATS", "a2 row entityType")
    eq((st["sts"]["M"], st["opr"]["M"]), ({}, {}), "disableWorkerMetrics: empty sts/opr (default metric)")
    t = app.ddb.describe_table(TableName="m3app")["Table"]
    eq([g["IndexName"] for g in t.get("GlobalSecondaryIndexes", [])], ["LeaseOwnerToLeaseKeyIndex"], "GSI created")
    app.wait_owners(lambda o: sorted(o.get(s) for s in shards) == ["a1", "a2"], 20, "the 2.x taker evens the load")
    batch_b = put(k, "m3", "b", 100)
    app.wait_records(batch_b, timeout=30)
    check("Leader" not in rows(app), "no leader election in CLIENT_VERSION_UPGRADE_FROM_2X")
    check("2.x lease taking, publishing WorkerMetricStats" in a2.text(), "a2 runs the 2.x algorithms")

    # The Java leader's flip (MigrationReadyMonitor); kinesin-kcl does not perform it.
    m = rows(app)["Migration3.0"]
    app.ddb.update_item(
        TableName="m3app", Key={"leaseKey": {"S": "Migration3.0"}},
        Expected={"cv": {"Value": {"S": "CLIENT_VERSION_UPGRADE_FROM_2X"}}},
        AttributeUpdates={"cv": {"Action": "PUT", "Value": {"S": "CLIENT_VERSION_3X_WITH_ROLLBACK"}},
                          "mb": {"Action": "PUT", "Value": {"S": "java-leader"}},
                          "mts": {"Action": "PUT", "Value": {"N": str(int(time.time() * 1000))}},
                          "h": {"Action": "PUT", "Value": {"L": [{"M": {"cv": m["cv"], "mb": m["mb"], "mts": m["mts"]}}]
                                                                 + m["h"]["L"]}}})
    a1.kill()
    a2.kill()

    v3 = dict(FAST, clientVersionConfig="CLIENT_VERSION_CONFIG_3X")
    b1 = app.worker("b1", extra=v3)
    b2 = app.worker("b2", extra=v3)
    m = wait(lambda: (lambda x: x if x["cv"]["S"] == "CLIENT_VERSION_3X" else None)(rows(app)["Migration3.0"]),
             20, "CLIENT_VERSION_3X written")
    check(m["mb"]["S"] in ("b1", "b2"), "mb %r" % m["mb"])
    eq([e["M"]["cv"]["S"] for e in m["h"]["L"]],
       ["CLIENT_VERSION_3X_WITH_ROLLBACK", "CLIENT_VERSION_UPGRADE_FROM_2X", "CLIENT_VERSION_INIT"], "history")
    eq(m["h"]["L"][0]["M"]["mb"]["S"], "java-leader", "history keeps who flipped")
    owners = app.wait_owners(lambda o: all(o.get(s) in ("b1", "b2") for s in shards), 30,
                             "the dead 2.x workers' leases assigned by the leader")
    batch_c = put(k, "m3", "c", 100)
    app.wait_records(batch_c, timeout=30)
    leader = rows(app)["Leader"]["ownerName"]["S"]
    check(leader in ("b1", "b2"), "a leader: %r" % leader)
    print("after migration: owners %r, leader %s" % ({s: owners[s] for s in shards}, leader))

    (dead, survivor) = (b1, b2) if leader == "b1" else (b2, b1)
    dead.kill()
    wait(lambda: rows(app).get("Leader", {}).get("ownerName", {}).get("S") == survivor.worker_id, 30,
         "%s takes the leader lock of the SIGKILLed %s" % (survivor.worker_id, dead.worker_id))
    check("lock has not been renewed for its leaseDuration; taking it" in survivor.text(), "takeover logged")
    app.wait_owners(lambda o: all(o.get(s) == survivor.worker_id for s in shards), 30,
                    "every lease assigned to %s" % survivor.worker_id)
    batch_d = put(k, "m3", "d", 100)
    app.wait_records(batch_d, timeout=30)
    eq(survivor.stop(), 0, "exit status")


main_with_workers(run)
