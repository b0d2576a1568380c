"""kinesin-kcl failover: SIGKILL one of two workers; the survivor takes its shard within
failoverTimeMillis plus one renewal interval, and every record put afterwards is processed.
The killed worker's record processor sees EOF on stdin and exits (no orphan)."""
import time

from kn import boto3_client, check, create_active
from kn_kcl import KclApp, main_with_workers, put

FAILOVER = 3000
RENEW = FAILOVER / 3 - 25


def run(kd):
    k = boto3_client(kd.endpoint)
    create_active(k, "fo", 2)
    before = put(k, "fo", "a", 100)
    app = KclApp(kd, "fo", "foapp", failover_ms=FAILOVER)
    w1 = app.worker("w1")
    app.wait_records(before[:1], timeout=20)
    w2 = app.worker("w2")
    app.wait_owners(lambda o: sorted(o.values()) == ["w1", "w2"], 15, "one shard per worker")
    app.wait_records(before, timeout=20)
    w1_children = [e["pid"] for e in app.events() if e["ev"] == "initialize" and is_child_of(e["pid"], w1.proc.pid)]
    check(w1_children, "w1 runs a record processor")

    w1.kill()
    t0 = time.monotonic()
    app.wait_owners(lambda o: sorted(o.values()) == ["w2", "w2"], 15, "w2 holding both shards")
    took = (time.monotonic() - t0) * 1000
    print("takeover after %.0f ms (failover %d + renewal interval %d)" % (took, FAILOVER, RENEW))
    check(took <= FAILOVER + RENEW + 300, "takeover took %.0f ms" % took)

    after = put(k, "fo", "b", 200)
    app.wait_records(after, timeout=30)
    check(w2.alive(), "w2 still running")

    # The killed worker's record processors see EOF on stdin and exit.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(running(p) for p in w1_children):
        time.sleep(0.1)
    check(not any(running(p) for p in w1_children), "orphaned record processors: %r" % w1_children)
    w2.stop()


def running(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def is_child_of(pid, parent):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return int(f.read().split(")")[-1].split()[1]) == parent
    except OSError:
        return False


main_with_workers(run)
