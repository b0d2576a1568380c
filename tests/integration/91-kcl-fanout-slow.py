"""kinesin-kcl in FANOUT mode with a slow record processor and a large backlog: memory stays
bounded. A shard holds ~60 MB of records; the seed processor takes 1.5 s per batch, so almost
all of it is still pending while the test watches. SubscribeToShard's events are taken one
batch at a time (the next only after processRecords completes); meanwhile the transfer is
paused and HTTP/2 flow control stops kinesind. The daemon's peak RSS (VmHWM) must stay far
below the backlog; without flow control it would hold the whole stream's events.
millisBehindLatest reaches the processor from the events."""
import os
import time

from kn import boto3_client, check, create_active, eq, soft, vm_hwm_mb
from kn_kcl import KclApp, main_with_workers

RECORDS = 300000
SIZE = 200
BOUND_MB = 64


def sanitized():
    """True under make asan: freed memory sits in ASan's quarantine, so the bound is for a build
    that returns memory, and the sanitized run gets a small quarantine and a wider bound."""
    cache = os.path.join(os.environ.get("KN_BIN", ""), "..", "CMakeCache.txt")
    try:
        with open(cache) as f:
            return "KN_SANITIZE:BOOL=ON" in f.read()
    except OSError:
        return False


def run(kd):
    k = boto3_client(kd.endpoint)
    create_active(k, "slow", 1)
    data = b"s" * SIZE
    for i in range(0, RECORDS, 500):
        r = k.put_records(StreamName="slow", Records=[{"Data": data, "PartitionKey": "p"} for _ in range(500)])
        check(r["FailedRecordCount"] == 0, "PutRecords failed")
    backlog_mb = RECORDS * SIZE / 1e6
    os.environ["KCL_SLOW_MS"] = "1500"
    bound = BOUND_MB
    if sanitized():
        os.environ["ASAN_OPTIONS"] = os.environ.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=16"
        bound = 3 * BOUND_MB
    app = KclApp(kd, "slow", "slowapp", extra={"retrievalMode": "FANOUT"})
    w = app.worker("w1")
    deadline = time.monotonic() + 60
    batches = []
    while time.monotonic() < deadline:
        batches = [e for e in app.events() if e["ev"] == "batch"]
        if len(batches) >= 8:
            break
        time.sleep(0.5)
    check(len(batches) >= 8, "8 slow batches processed within 60 s (got %d)" % len(batches))
    hwm = vm_hwm_mb(w.proc.pid)
    done = sum(e["n"] for e in batches)
    print("kinesin-kcl VmHWM %.1f MB with %.0f MB in the stream; %d of %d records processed in %d batches"
          % (hwm, backlog_mb, done, RECORDS, len(batches)))
    with soft("bounded memory while most of the stream is pending"):
        check(done < RECORDS / 2, "the backlog is still there (%d of %d processed)" % (done, RECORDS))
        check(hwm < bound, "kinesin-kcl's peak RSS %.1f MB exceeds %d MB" % (hwm, bound))
        check(max(b["n"] for b in batches) <= 10000, "batches hold at most one event's records")
    with soft("millisBehindLatest comes from the events"):
        mbls = [b["mbl"] for b in batches]
        check(all(isinstance(m, int) and m >= 0 for m in mbls), "millisBehindLatest values: %r" % mbls)
        check(any(m > 0 for m in mbls), "the processor is told it is behind: %r" % mbls)
    eq(w.stop(), 0, "exit status")


main_with_workers(run, in_memory=True)
