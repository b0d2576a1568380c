"""Crash test: SIGKILL kinesind at random moments while several clients run PutRecords, at
least 20 times, restarting on the same data dir each time; every acknowledged record must be
read back intact, once, and in order (DESIGN.md "Shard log"). Checkpoints run every 64 KiB of
journal, so kills land before, during and after checkpoints and journal truncations. A SIGKILL
leaves the page cache alive, so that part exercises recovery, not power loss; the second part
plays the power loss that matters for the journal: kinesind is killed before any checkpoint,
every segment file (never synced) is deleted, and every acknowledged record must come back
from the journal alone. The vfs unit tests cover power loss at every write and sync."""

import glob
import os
import random
import threading
import time

from kn import Kinesind, boto3_client, check, create_active, eq, main, read_shard

STREAM = "crash"
WRITERS = 4
KILLS = 22


def start_writers(kd, rng, acked, lock, stop, attempts):
    def writer(w):
        cl = boto3_client(kd.endpoint, max_attempts=1, read_timeout=5)
        n = 0
        while not stop.is_set():
            batch = []
            for _ in range(20):
                batch.append((n, b"w%d-%d-" % (w, n) + bytes(rng.randrange(0, 300))))
                n += 1
            try:
                r = cl.put_records(StreamName=STREAM, Records=[
                    {"Data": d, "PartitionKey": "w%d-%d" % (w, i % 5)} for i, d in batch])
            except Exception:
                time.sleep(0.02)  # the server is down or restarting
                continue
            with lock:
                attempts[0] += 1
                for (i, d), rec in zip(batch, r["Records"]):
                    if "SequenceNumber" in rec:
                        acked.append((w, i, rec["ShardId"], rec["SequenceNumber"], d))

    threads = [threading.Thread(target=writer, args=(w,), daemon=True) for w in range(WRITERS)]
    for t in threads:
        t.start()
    return threads


def verify(c, acked, what, minimum):
    """Every acknowledged record is read back once, intact, on its shard, in write order."""
    shards = [s["ShardId"] for s in c.list_shards(StreamName=STREAM)["Shards"]]
    found = {}
    total = 0
    for sid in shards:
        recs = read_shard(c, STREAM, sid, max_calls=2000)
        seqs = [r["SequenceNumber"] for r in recs]
        check(all(int(a) < int(b) for a, b in zip(seqs, seqs[1:])), "%s: sequence numbers out of order" % sid)
        for pos, r in enumerate(recs):
            found[r["SequenceNumber"]] = (sid, pos, bytes(r["Data"]))
        total += len(recs)
    missing = [a for a in acked if a[3] not in found]
    wrong = [a for a in acked if a[3] in found and (found[a[3]][0] != a[2] or found[a[3]][2] != a[4])]
    print("%s: records acknowledged %d, found %d (%d unacknowledged extras)"
          % (what, len(acked), total, total - len(acked) + len(missing)))
    check(len(acked) > minimum, "too few acknowledged records to mean anything: %d" % len(acked))
    eq(missing[:5], [], "%s: acknowledged records missing (%d in all)" % (what, len(missing)))
    eq(wrong[:5], [], "%s: acknowledged records read back with other data or shard" % what)
    # in order: each writer's acknowledged records appear in write order within a shard
    last = {}
    for w, i, sid, seq, d in sorted(acked, key=lambda a: (a[0], a[1])):
        pos = found[seq][1]
        key = (w, sid)
        check(last.get(key, -1) < pos, "%s: writer %d: record %d on %s read back out of order" % (what, w, i, sid))
        last[key] = pos


def kills_with_checkpoints(rng):
    kd = Kinesind(args=("--checkpoint-bytes", "65536")).start()
    c = boto3_client(kd.endpoint)
    create_active(c, STREAM, 4)
    acked, lock, stop, attempts = [], threading.Lock(), threading.Event(), [0]
    threads = start_writers(kd, rng, acked, lock, stop, attempts)
    for k in range(KILLS):
        time.sleep(rng.uniform(0.1, 0.35))
        kd.kill()
        kd.start()
    time.sleep(0.3)
    stop.set()
    for t in threads:
        t.join(15)
    print("kills %d, PutRecords answered %d" % (KILLS, attempts[0]))
    verify(c, acked, "kills", 1000)
    check("journal" in kd.log() and "replayed" in kd.log(), "kinesind replayed its journal at some start")
    kd.stop()


def segments_lost_before_checkpoint(rng):
    kd = Kinesind(args=("--checkpoint-ms", "600000")).start()
    c = boto3_client(kd.endpoint)
    create_active(c, STREAM, 4)
    acked, lock, stop, attempts = [], threading.Lock(), threading.Event(), [0]
    threads = start_writers(kd, rng, acked, lock, stop, attempts)
    time.sleep(1.5)
    kd.kill()
    stop.set()
    for t in threads:
        t.join(15)
    segs = glob.glob(os.path.join(kd.data_dir, "streams", "*", "*", "*.seg"))
    check(len(segs) >= 4, "expected the shards' segments, found %s" % segs)
    for p in segs + glob.glob(os.path.join(kd.data_dir, "streams", "*", "*", "*.idx")):
        os.unlink(p)  # what a power loss takes: nothing was synced but the journal
    kd.start()
    verify(c, acked, "segments lost", 200)
    kd.stop()


def test():
    rng = random.Random(20261125)
    kills_with_checkpoints(rng)
    segments_lost_before_checkpoint(rng)


main(test)
