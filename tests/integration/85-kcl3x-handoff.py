"""Two kinesin-kcl workers in KCL 3.x mode balance four leases through the leader's lease
assignment manager, and each lease moves by a graceful hand-off: the leader sets leaseOwner to the
new worker and checkpointOwner to the old one (leases/dynamodb/DynamoDBLeaseRefresher.java
initiateGracefulLeaseHandoff); the old owner's record processor hears shutdownRequested, checkpoints,
then leaseLost; the old owner assigns the lease on (assignLease clears checkpointOwner,
lifecycle/LeaseGracefulShutdownHandler.java), and the new owner, which ignored the lease while
checkpointOwner was set (DynamoDBLeaseDiscoverer.java), resumes after that checkpoint.

The record processor (kcl_v2_processor.js) checkpoints only when asked to shut down, so a lease moved
without the hand-off would be processed again from TRIM_HORIZON by its new owner: the test requires
that no record is processed twice. The old owner learns of the hand-off at its next renewal (every
failoverTimeMillis / 3), as the Java renewer does, and keeps renewing meanwhile: no lease expires."""
import collections
import time

from kn import boto3_client, check, create_active, eq
from kn_kcl import KclApp, main_with_workers, put

FAILOVER = 9000
V3 = {
    "clientVersionConfig": "CLIENT_VERSION_CONFIG_3X",
    "executableName": "node kcl_v2_processor.js",
    "leaseAssignmentIntervalMillis": "1000",
    "varianceBalancingFrequency": "1",
    "workerMetricsReporterFreqInMillis": "1000",
    "inMemoryWorkerMetricsCaptureFrequencyMillis": "200",
    "disableWorkerMetrics": "true",  # the default throughput metric: balance by throughput / lease count
    "dynamoDbLockBasedLeaderLeaseDurationInMillis": "5000",
    "dynamoDbLockBasedLeaderHeartbeatPeriodInMillis": "500",
    "gracefulLeaseHandoffTimeoutMillis": "20000",
}


def run(kd):
    k = boto3_client(kd.endpoint)
    create_active(k, "h3", 4)
    first = put(k, "h3", "a", 400)
    app = KclApp(kd, "h3", "h3app", failover_ms=FAILOVER, extra=V3)
    w1 = app.worker("w1")
    app.wait_records(first, timeout=30)
    shards = sorted(s["ShardId"] for s in k.list_shards(StreamName="h3")["Shards"])
    app.wait_owners(lambda o: [o.get(s) for s in shards] == ["w1"] * 4, 20, "w1 holding every lease")

    w2 = app.worker("w2")
    t0 = time.monotonic()
    owners = app.wait_owners(lambda o: sorted(o.get(s) for s in shards) == ["w1", "w1", "w2", "w2"], 40,
                             "two leases per worker")
    moved = [s for s in shards if owners[s] == "w2"]
    deadline = time.monotonic() + 30
    while True:
        items = {s: app.ddb.get_item(TableName="h3app", Key={"leaseKey": {"S": s}}, ConsistentRead=True)["Item"]
                 for s in shards}
        started = [s for s in moved if [e["ev"] for e in app.events() if e.get("shard") == s].count("initialize") == 2]
        if not any("checkpointOwner" in i for i in items.values()) and len(started) == len(moved):
            break
        check(time.monotonic() < deadline, "hand-offs not finished within 30 s: %r" % items)
        time.sleep(0.2)
    print("balanced and handed off after %.1f s (failoverTimeMillis %d): %r" % (time.monotonic() - t0, FAILOVER,
                                                                              owners))
    second = put(k, "h3", "b", 400)
    app.wait_records(second, timeout=30)
    ev = app.events()
    by_shard = collections.defaultdict(list)
    for e in ev:
        if e["ev"] != "record":
            by_shard[e["shard"]].append(e["ev"])
    for s in moved:
        # On w1: initialize, shutdownRequested (checkpointed), leaseLost; then w2: initialize.
        eq(by_shard[s], ["initialize", "shutdownRequested", "leaseLost", "initialize"], "%s lifecycle" % s)
    eq([e["err"] for e in ev if e["ev"] == "shutdownRequested"], [None] * len(moved),
       "checkpoint errors in shutdownRequested")
    counts = collections.Counter(e["data"] for e in ev if e["ev"] == "record")
    dup = sorted(d for d, c in counts.items() if c > 1)
    eq(dup, [], "records processed twice")
    eq(sorted(counts), sorted(first + second), "records processed")
    check("handed off to w2" in w1.text(), "w1 logged the hand-off")
    check("leader: this worker holds the Leader lock" in w1.text(), "w1 is the leader")
    eq(w2.stop(), 0, "w2 exit status")
    eq(w1.stop(), 0, "w1 exit status")


main_with_workers(run)
