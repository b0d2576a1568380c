"""kinesin-kcl restart: stop every worker (SIGTERM), put more records, start again: processing
resumes after the checkpoints: nothing is lost, and nothing checkpointed before the graceful
shutdown is processed again."""
from collections import Counter

import time

from kn import boto3_client, create_active, eq, fail
from kn_kcl import KclApp, last_sequence_numbers, main_with_workers, put


def run(kd):
    k = boto3_client(kd.endpoint)
    create_active(k, "rs", 2)
    app = KclApp(kd, "rs", "rsapp")
    first = put(k, "rs", "a", 150)
    w1, w2 = app.worker("w1"), app.worker("w2")
    app.wait_records(first, timeout=30)
    # Stop only once every shard's checkpoint is at its last record: the two workers may still be
    # settling the lease split (a stolen lease restarts from its last checkpoint, and what it
    # re-reads before checkpointing again may come back after a restart: at-least-once).
    last = last_sequence_numbers(k, "rs")
    deadline = time.monotonic() + 30
    while {s: l.get("checkpoint") for s, l in app.leases().items()} != last:
        if time.monotonic() > deadline:
            fail("checkpoints never reached the last records: %r vs %r" % (app.leases(), last))
        time.sleep(0.1)
    eq(w1.stop(), 0, "w1 exit status")
    eq(w2.stop(), 0, "w2 exit status")
    leases = app.leases()
    eq([l.get("leaseOwner") for l in leases.values()], [None, None], "owners after a graceful stop (released)")

    n_before = len(app.events())
    second = put(k, "rs", "b", 150)
    # Same workerId for one, a new one for the other.
    w1, w3 = app.worker("w1"), app.worker("w3")
    app.wait_records(second, timeout=30)
    counts = Counter(e["data"] for e in app.processed())
    eq(set(counts), set(first + second), "records processed")
    # At-least-once allows duplicates when a lease is stolen mid-batch (two workers starting
    # together); but nothing checkpointed before the stop may come back after the restart.
    again = sorted(e["data"] for e in app.events()[n_before:] if e["ev"] == "record" and e["data"].startswith("a-"))
    eq(again, [], "records of before the stop processed again after the restart")
    inits = [e for e in app.events() if e["ev"] == "initialize"]
    # The restarted processors start from real sequence numbers (the checkpoints), not TRIM_HORIZON.
    eq(sorted(e["seq"] == "TRIM_HORIZON" for e in inits[-2:]), [False, False], "restart positions")
    eq(w1.stop(), 0, "w1 exit status")
    eq(w3.stop(), 0, "w3 exit status")


main_with_workers(run)
