"""libkinesin's kn_consumer (the KCL in-process) as applications run it: worker processes of
tests/tools/kn_consumer_worker, which checkpoint each batch at its last record.

Two processes split a 4-shard stream 2/2 and process every record, plain and KPL-aggregated
(de-aggregated, with subsequence numbers). One is SIGKILLed: after failoverTimeMillis the other
takes its leases and resumes each shard after the dead worker's last checkpoint (nothing it had
checkpointed is processed again). Then a kinesin-kcl worker (aws-kcl seed processor) joins the
same application: the lease table is one engine's, so it takes its fair share from the
kn_consumer worker and records put afterwards are processed by both. SIGTERM ends each worker
with status 0."""
import time

from kn import boto3_client, check, create_active, eq, soft
from kn_kcl import KclApp, main_with_workers, put, put_aggregated


def esn(seq, sub):
    return (int(seq), int(sub or 0))


def run(kd):
    k = boto3_client(kd.endpoint)
    create_active(k, "lib", 4)
    first = put(k, "lib", "plain", 200)
    agg = put_aggregated(kd, "lib", "agg", 800)

    app = KclApp(kd, "lib", "libapp", failover_ms=3000)
    a = app.lib_worker("a")
    b = app.lib_worker("b")
    app.wait_owners(lambda o: len(o) == 4 and sorted(o.values()) == ["a", "a", "b", "b"], 30,
                    "two kn_consumer workers holding two shards each")
    app.wait_records(first + agg, timeout=30)
    with soft("aggregated records arrive de-aggregated, with subsequence numbers"):
        subs = [e for e in app.processed() if e["data"].startswith("agg-")]
        check(any(e["sub"] > 0 for e in subs), "some aggregated records have a subsequence number above 0")

    # SIGKILL a: b takes a's shards after failoverTimeMillis and resumes at the checkpoints in
    # the lease table (where a, or b before a stole the lease, left them).
    a.kill()
    leases = app.leases()
    owned_by_a = [s for s, l in leases.items() if l.get("leaseOwner") == "a"]
    checkpoints = {s: esn(l["checkpoint"], l.get("checkpointSubSequenceNumber")) for s, l in leases.items()
                   if s in owned_by_a and l["checkpoint"].isdigit()}
    seen_before = len(app.events())
    more = put(k, "lib", "after-kill", 200)
    app.wait_owners(lambda o: sorted(o.values()) == ["b"] * 4, 30, "b holding all four shards after a's SIGKILL")
    app.wait_records(more, timeout=30)
    with soft("b resumes a's shards after their last checkpoints"):
        check(owned_by_a and set(owned_by_a) == set(checkpoints), "a held checkpointed leases: %r" % leases)
        for e in app.events()[seen_before:]:
            if e["ev"] == "record" and e["shard"] in checkpoints:
                check(esn(e["seq"], e["sub"]) > checkpoints[e["shard"]],
                      "%s: %s/%s processed again though %r was checkpointed" % (e["shard"], e["seq"], e["sub"],
                                                                                 checkpoints[e["shard"]]))

    # A kinesin-kcl worker joins the application: one lease table, one engine.
    w = app.worker("kcl")
    owners = app.wait_owners(lambda o: sorted(o.values()) == ["b", "b", "kcl", "kcl"], 40,
                             "kinesin-kcl taking its fair share from the kn_consumer worker")
    time.sleep(2.5)  # b's renewer notices a stolen lease within failoverTimeMillis / 3
    last = put(k, "lib", "shared", 400)
    app.wait_records(last, timeout=30)
    with soft("each kind processes the records of the shards it holds"):
        for shard, owner in owners.items():
            pids = {e["pid"] for e in app.processed() if e["data"].startswith("shared-") and e["shard"] == shard}
            if owner == "b":
                check(b.proc.pid in pids, "%s (b's) processed by b: %r" % (shard, pids))
            else:
                check(pids - {b.proc.pid}, "%s (kinesin-kcl's) processed by a kinesin-kcl child: %r" % (shard, pids))
    with soft("lease items"):
        for s, l in app.leases().items():
            for attr in ("leaseKey", "leaseOwner", "leaseCounter", "checkpoint", "checkpointSubSequenceNumber",
                         "ownerSwitchesSinceCheckpoint"):
                check(attr in l, "%s has %s: %r" % (s, attr, l))

    for x in (b, w):
        eq(x.stop(), 0, "exit status of %s after SIGTERM" % x.worker_id)
    ev = [e["ev"] for e in app.events() if e.get("pid") == b.proc.pid]
    check("shutdownRequested" in ev and "leaseLost" in ev, "b's processors heard shutdownRequested, then leaseLost")
    owners = app.owners()
    eq(sorted(owners.values()), [""] * 4, "leases released by the graceful shutdowns")


main_with_workers(run)
