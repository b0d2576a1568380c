"""The KCL 3.x graceful hand-off reaches an in-process record processor: a libkinesin kn_consumer
worker (tests/tools/kn_consumer_worker) in CLIENT_VERSION_CONFIG_3X mode holds both leases; when a
kinesin-kcl worker joins, the leader moves one lease by initiateGracefulLeaseHandoff
(leases/dynamodb/DynamoDBLeaseRefresher.java) and the kn_consumer's shutdown_requested callback runs
(it checkpoints) before lease_lost; the new owner resumes after that checkpoint
(lifecycle/LeaseGracefulShutdownHandler.java)."""
import collections
import time

from kn import boto3_client, check, create_active, eq
from kn_kcl import KclApp, main_with_workers, put

V3 = {
    "clientVersionConfig": "CLIENT_VERSION_CONFIG_3X",
    "leaseAssignmentIntervalMillis": "1000",
    "varianceBalancingFrequency": "1",
    "workerMetricsReporterFreqInMillis": "1000",
    "disableWorkerMetrics": "true",
    "dynamoDbLockBasedLeaderLeaseDurationInMillis": "5000",
    "dynamoDbLockBasedLeaderHeartbeatPeriodInMillis": "500",
}


def run(kd):
    k = boto3_client(kd.endpoint)
    create_active(k, "c3", 2)
    first = put(k, "c3", "a", 200)
    app = KclApp(kd, "c3", "c3app", failover_ms=6000, extra=V3)
    l1 = app.lib_worker("l1")
    app.wait_records(first, timeout=30)
    shards = sorted(s["ShardId"] for s in k.list_shards(StreamName="c3")["Shards"])
    app.wait_owners(lambda o: [o.get(s) for s in shards] == ["l1", "l1"], 20, "l1 holding both leases")
    w2 = app.worker("w2", extra={"executableName": "node kcl_v2_processor.js"})
    deadline = time.monotonic() + 40
    while True:
        own = app.owners()
        items = [app.ddb.get_item(TableName="c3app", Key={"leaseKey": {"S": s}}, ConsistentRead=True)["Item"]
                 for s in shards]
        moved = [s for s in shards if own.get(s) == "w2"]
        if len(moved) == 1 and not any("checkpointOwner" in i for i in items) and \
                any(e["ev"] == "initialize" and e["shard"] == moved[0] and e["pid"] != l1.proc.pid
                    for e in app.events()):
            break
        check(time.monotonic() < deadline, "one lease handed off to w2: owners %r" % own)
        time.sleep(0.2)
    second = put(k, "c3", "b", 200)
    app.wait_records(second, timeout=30)
    ev = [e for e in app.events() if e["pid"] == l1.proc.pid and e.get("shard") == moved[0]]
    eq([e["ev"] for e in ev if e["ev"] not in ("record", "checkpoint")],
       ["initialize", "shutdownRequested", "leaseLost"], "kn_consumer callbacks for the moved lease")
    counts = collections.Counter(e["data"] for e in app.events() if e["ev"] == "record")
    eq(sorted(d for d, c in counts.items() if c > 1), [], "records processed twice")
    eq(sorted(counts), sorted(first + second), "records processed")
    eq(w2.stop(), 0, "w2 exit status")
    eq(l1.stop(), 0, "l1 exit status")


main_with_workers(run)
