"""Durability across restarts: acknowledged records, streams and shards survive SIGTERM and
SIGKILL; sequence numbers keep growing afterwards (DESIGN.md "Shard log", spec §4.4)."""

import os
import random
import shutil
import tempfile
import threading
import time

from kn import (Kinesind, boto3_client, check, create_active, eq, main, read_shard, soft, wait_gone)

M, OTHER, GONE = "r-main", "r-other", "r-gone"


def populate(c, rng):
    """Writes ~300 records; returns {(stream, shard): [(seq, data, pk)]} in write order."""
    create_active(c, M, 3)
    create_active(c, OTHER, 1)
    create_active(c, GONE, 1)
    c.put_record(StreamName=GONE, Data=b"doomed", PartitionKey="x")
    c.delete_stream(StreamName=GONE)
    wait_gone(c, GONE)

    exp = {}

    def add(stream, shard, seq, data, pk):
        lst = exp.setdefault((stream, shard), [])
        if lst:
            check(int(seq) > int(lst[-1][0]), "sequence numbers of %s/%s not increasing: %s after %s"
                  % (stream, shard, seq, lst[-1][0]))
        lst.append((seq, data, pk))

    for b in range(2):
        entries = []
        for i in range(100):
            n = rng.choice([0, 1, 10, 100, 1000, 5000])
            entries.append({"Data": rng.randbytes(n), "PartitionKey": "b%d-%d-%d" % (b, i, rng.randrange(1 << 30))})
        r = c.put_records(StreamName=M, Records=entries)
        eq(r["FailedRecordCount"], 0, "FailedRecordCount")
        for e, res in zip(entries, r["Records"]):
            add(M, res["ShardId"], res["SequenceNumber"], e["Data"], e["PartitionKey"])
    for i in range(100):
        data = ("single-%d-" % i).encode() + rng.randbytes(rng.randrange(200))
        pk = "s-%d" % i
        r = c.put_record(StreamName=M, Data=data, PartitionKey=pk)
        add(M, r["ShardId"], r["SequenceNumber"], data, pk)
    for i in range(5):
        r = c.put_record(StreamName=OTHER, Data=b"other-%d" % i, PartitionKey="o")
        add(OTHER, r["ShardId"], r["SequenceNumber"], b"other-%d" % i, "o")
    eq(sum(len(v) for k, v in exp.items() if k[0] == M), 300, "records written to %s" % M)
    return exp


def snapshot(c):
    out = {}
    for s in (M, OTHER):
        d = c.describe_stream(StreamName=s)["StreamDescription"]
        out[s] = {k: d[k] for k in ("StreamName", "StreamARN", "StreamStatus", "Shards", "RetentionPeriodHours",
                                    "StreamCreationTimestamp")}
    return out


def verify(c, exp, snap, what):
    with soft("%s: streams are listed, the deleted one is not" % what):
        eq(c.list_streams()["StreamNames"], [M, OTHER], "ListStreams")
    with soft("%s: the streams are ACTIVE right away" % what):
        for s in (M, OTHER):
            eq(c.describe_stream_summary(StreamName=s)["StreamDescriptionSummary"]["StreamStatus"], "ACTIVE",
               "status of %s" % s)
    with soft("%s: DescribeStream is unchanged" % what):
        eq(snapshot(c), snap, "DescribeStream")
    for (stream, shard), recs in sorted(exp.items()):
        with soft("%s: %s/%s holds the same %d records" % (what, stream, shard, len(recs))):
            got = read_shard(c, stream, shard)
            got = [(r["SequenceNumber"], r["Data"], r["PartitionKey"]) for r in got]
            if got != recs:
                seqs = [g[0] for g in got]
                missing = [r[0] for r in recs if r[0] not in seqs]
                fail_msg = ("records differ: wrote %d, read %d; %d written ones missing (first %s); "
                            "first difference at %s" % (len(recs), len(got), len(missing), missing[:1],
                                                        next((i for i, (a, b) in enumerate(zip(got, recs)) if a != b),
                                                             min(len(got), len(recs)))))
                raise AssertionError(fail_msg)
    with soft("%s: AT_SEQUENCE_NUMBER with a sequence number from before the restart" % what):
        (stream, shard), recs = max(exp.items(), key=lambda kv: len(kv[1]))
        mid = len(recs) // 2
        it = c.get_shard_iterator(StreamName=stream, ShardId=shard, ShardIteratorType="AT_SEQUENCE_NUMBER",
                                  StartingSequenceNumber=recs[mid][0])["ShardIterator"]
        got = c.get_records(ShardIterator=it)["Records"]
        eq([(r["SequenceNumber"], r["Data"], r["PartitionKey"]) for r in got], recs[mid:], "records from the middle")


def put_more(c, exp, tag):
    """New writes after a restart: larger sequence numbers than before, readable after the old ones."""
    shards = c.list_shards(StreamName=M)["Shards"]
    with soft("%s: new writes get larger sequence numbers" % tag):
        for s in shards:
            data = ("%s-%s" % (tag, s["ShardId"])).encode()
            r = c.put_record(StreamName=M, Data=data, PartitionKey="n",
                             ExplicitHashKey=s["HashKeyRange"]["StartingHashKey"])
            eq(r["ShardId"], s["ShardId"], "shard of ExplicitHashKey")
            old = exp.get((M, s["ShardId"]), [])
            if old:
                check(int(r["SequenceNumber"]) > int(old[-1][0]),
                      "%s: new sequence number %s is not above the last one before the restart %s"
                      % (s["ShardId"], r["SequenceNumber"], old[-1][0]))
            exp.setdefault((M, s["ShardId"]), []).append((r["SequenceNumber"], data, "n"))
        entries = [{"Data": b"%s-batch-%d" % (tag.encode(), i), "PartitionKey": "nb-%d" % i} for i in range(30)]
        r = c.put_records(StreamName=M, Records=entries)
        eq(r["FailedRecordCount"], 0, "FailedRecordCount")
        for e, res in zip(entries, r["Records"]):
            lst = exp.setdefault((M, res["ShardId"]), [])
            check(int(res["SequenceNumber"]) > int(lst[-1][0]), "batch sequence number not increasing")
            lst.append((res["SequenceNumber"], e["Data"], e["PartitionKey"]))
        for s in shards:
            got = read_shard(c, M, s["ShardId"])
            eq([(x["SequenceNumber"], x["Data"], x["PartitionKey"]) for x in got], exp[(M, s["ShardId"])],
               "%s after new writes" % s["ShardId"])


def variant(how, seed):
    rng = random.Random(seed)
    data_dir = tempfile.mkdtemp(prefix="kn-restart-%s-" % how)
    try:
        kd = Kinesind(data_dir=os.path.join(data_dir, "d"))
        with kd:
            c = boto3_client(kd.endpoint)
            exp = populate(c, rng)
            snap = snapshot(c)
            if how == "SIGTERM":
                rc = kd.stop()
                with soft("SIGTERM: clean exit"):
                    check(rc in (0, -15), "exit status after SIGTERM: %r" % rc)
            else:
                kd.kill()

            kd.start()  # same port, same data dir
            c = boto3_client(kd.endpoint)
            verify(c, exp, snap, "after %s" % how)
            put_more(c, exp, "after-%s" % how)

            # a second restart recovers the recovered log plus the new writes
            kd.kill() if how == "SIGKILL" else kd.stop()
            kd.start()
            c = boto3_client(kd.endpoint)
            verify(c, exp, snap, "after a second %s" % how)
            check(kd.alive(), "kinesind died")
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def under_load():
    """SIGKILL while 4 writers are busy: every acknowledged record is there after the restart;
    records whose acknowledgement was lost may be there too, but only whole and in order."""
    data_dir = tempfile.mkdtemp(prefix="kn-restart-load-")
    try:
        with Kinesind(data_dir=os.path.join(data_dir, "d")) as kd:
            c = boto3_client(kd.endpoint)
            create_active(c, M, 3)
            acked, attempted, errors = {}, {}, []
            stop = threading.Event()

            def writer(w):
                cw = boto3_client(kd.endpoint, read_timeout=5)
                n = 0
                while not stop.is_set():
                    entries = [{"Data": b"w%d-%d" % (w, n + i), "PartitionKey": "w%d-%d" % (w, n + i)}
                               for i in range(20)]
                    for e in entries:
                        attempted[e["Data"]] = e["PartitionKey"]
                    n += 20
                    try:
                        r = cw.put_records(StreamName=M, Records=entries)
                    except Exception:
                        return  # the server went away mid-request
                    if r["FailedRecordCount"]:
                        errors.append(r)
                    for e, res in zip(entries, r["Records"]):
                        if "SequenceNumber" in res:
                            acked[e["Data"]] = (res["ShardId"], res["SequenceNumber"])

            threads = [threading.Thread(target=writer, args=(w,), daemon=True) for w in range(4)]
            for t in threads:
                t.start()
            deadline = time.monotonic() + 10
            while len(acked) < 400 and time.monotonic() < deadline:
                time.sleep(0.01)
            kd.kill()
            stop.set()
            for t in threads:
                t.join(10)
            check(len(acked) >= 400, "only %d records acknowledged before the kill" % len(acked))
            eq(errors, [], "PutRecords partial failures")
            kd.start()
            c = boto3_client(kd.endpoint)
            with soft("under load: every acknowledged record survives SIGKILL"):
                eq(c.describe_stream_summary(StreamName=M)["StreamDescriptionSummary"]["StreamStatus"], "ACTIVE",
                   "status")
                seen = {}
                for s in c.list_shards(StreamName=M)["Shards"]:
                    got = read_shard(c, M, s["ShardId"])
                    seqs = [int(r["SequenceNumber"]) for r in got]
                    eq(seqs, sorted(set(seqs)), "%s: sequence numbers strictly increasing" % s["ShardId"])
                    for r in got:
                        check(r["Data"] in attempted and attempted[r["Data"]] == r["PartitionKey"],
                              "%s: record %r/%r was never written" % (s["ShardId"], r["Data"], r["PartitionKey"]))
                        seen[r["Data"]] = (s["ShardId"], r["SequenceNumber"])
                missing = [d for d in acked if d not in seen]
                check(not missing, "%d of %d acknowledged records missing after SIGKILL, e.g. %r"
                      % (len(missing), len(acked), missing[:3]))
                wrong = [d for d in acked if d in seen and seen[d] != acked[d]]
                check(not wrong, "%d records came back with another shard/sequence number, e.g. %r: acked %r, read %r"
                      % (len(wrong), wrong[:1], [acked[d] for d in wrong[:1]], [seen[d] for d in wrong[:1]]))
            with soft("under load: new writes after the restart get larger sequence numbers"):
                for s in c.list_shards(StreamName=M)["Shards"]:
                    last = max((int(v[1]) for v in seen.values() if v[0] == s["ShardId"]), default=0)
                    r = c.put_record(StreamName=M, Data=b"after", PartitionKey="a",
                                     ExplicitHashKey=s["HashKeyRange"]["StartingHashKey"])
                    check(int(r["SequenceNumber"]) > last, "%s: %s is not above %d"
                          % (s["ShardId"], r["SequenceNumber"], last))
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def test():
    variant("SIGTERM", 1)
    variant("SIGKILL", 2)
    under_load()


main(test)
