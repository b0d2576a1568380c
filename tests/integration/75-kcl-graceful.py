"""Graceful shutdown with an aws-kcl version-2 processor that checkpoints only in
shutdownRequested: on SIGTERM each child hears shutdownRequested, its checkpoint() lands at the
last record delivered, then leaseLost; the daemon exits 0 and a new worker resumes after that
checkpoint without re-delivering anything."""
from kn import boto3_client, create_active, eq
from kn_kcl import KclApp, last_sequence_numbers, main_with_workers, put


def run(kd):
    k = boto3_client(kd.endpoint)
    create_active(k, "gs", 2)
    app = KclApp(kd, "gs", "gsapp", extra={"executableName": "node kcl_v2_processor.js"})
    first = put(k, "gs", "a", 100)
    w = app.worker("w1")
    app.wait_records(first, timeout=20)
    eq(w.stop(), 0, "exit status after SIGTERM")
    ev = app.events()
    order = {}
    for e in ev:
        if e["ev"] in ("shutdownRequested", "leaseLost"):
            order.setdefault(e["shard"], []).append(e["ev"])
    eq(order, {"shardId-000000000000": ["shutdownRequested", "leaseLost"],
               "shardId-000000000001": ["shutdownRequested", "leaseLost"]}, "shutdown messages per shard")
    eq([e["err"] for e in ev if e["ev"] == "shutdownRequested"], [None, None], "checkpoint errors")
    eq({s: l["checkpoint"] for s, l in app.leases().items()}, last_sequence_numbers(k, "gs"),
       "checkpoints after the graceful shutdown")

    n = len(app.events())
    second = put(k, "gs", "b", 50)
    w2 = app.worker("w2")
    app.wait_records(second, timeout=20)
    eq(sorted(e["data"] for e in app.events()[n:] if e["ev"] == "record" and e["data"].startswith("a-")), [],
       "records re-delivered after the restart")
    eq(w2.stop(), 0, "exit status")


main_with_workers(run)
