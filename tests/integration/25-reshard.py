"""Resharding under load (spec §4.8, §4.6, §4.4, §4.5): a writer keeps putting records (PutRecord
and PutRecords) while the stream is split, merged, scaled up and scaled down; afterwards every
shard is read from TRIM_HORIZON, parents before children, following GetRecords ChildShards, and
every acknowledged record must be read exactly once, from the shard that acknowledged it, in
write order per partition key."""

import collections
import threading
import time

from kn import (Kinesind, boto3_client, check, create_active, eq, expect_error, fail, main, soft,
                wait_active)

S = "reshard"
SHARD = "shardId-%012d"
KEYS = ["pk-%d" % i for i in range(24)]


class Writer(threading.Thread):
    """Puts records until stopped; remembers (shard, seq, data, pk) of every acknowledged one."""

    def __init__(self, endpoint):
        super().__init__(daemon=True)
        self.c = boto3_client(endpoint)
        self.stop_flag = threading.Event()
        self.acked = []          # (shard, seq, data, pk) in acknowledgement order
        self.errors = []         # exceptions / failed entries
        self.counter = collections.Counter()
        self.calls = 0

    def next_record(self, i):
        pk = KEYS[i % len(KEYS)]
        self.counter[pk] += 1
        return pk, ("%s#%06d" % (pk, self.counter[pk])).encode()

    def run(self):
        i = 0
        while not self.stop_flag.is_set():
            try:
                if self.calls % 2 == 0:
                    pk, data = self.next_record(i)
                    i += 1
                    r = self.c.put_record(StreamName=S, Data=data, PartitionKey=pk)
                    self.acked.append((r["ShardId"], r["SequenceNumber"], data, pk))
                else:
                    batch = []
                    for _ in range(7):
                        pk, data = self.next_record(i)
                        i += 1
                        batch.append({"Data": data, "PartitionKey": pk})
                    r = self.c.put_records(StreamName=S, Records=batch)
                    for e, res in zip(batch, r["Records"]):
                        if "ErrorCode" in res:
                            self.errors.append(("PutRecords entry", e, res))
                            # a failed entry leaves a gap in its key's sequence; later ones stay ordered
                            continue
                        self.acked.append((res["ShardId"], res["SequenceNumber"], e["Data"], e["PartitionKey"]))
            except Exception as e:  # noqa: B902 - any failure of a write is reported at the end
                self.errors.append(("exception", repr(e)))
                time.sleep(0.01)
            self.calls += 1
            time.sleep(0.003)


def shards_of(c):
    out, tok = [], None
    while True:
        r = c.list_shards(NextToken=tok) if tok else c.list_shards(StreamName=S)
        out += r["Shards"]
        tok = r.get("NextToken")
        if not tok:
            return out


def open_shards(shards):
    return [s for s in shards if "EndingSequenceNumber" not in s["SequenceNumberRange"]]


def rng(s):
    return int(s["HashKeyRange"]["StartingHashKey"]), int(s["HashKeyRange"]["EndingHashKey"])


def parents_of(s):
    return [p for p in (s.get("ParentShardId"), s.get("AdjacentParentShardId")) if p]


def test():
    with Kinesind(update_ms=100, shard_limit=50) as kd:
        c = boto3_client(kd.endpoint)
        create_active(c, S, 2)
        w = Writer(kd.endpoint)
        w.start()
        try:
            time.sleep(0.3)
            steps = []

            # 1. split shard 0 at its midpoint
            s0 = [s for s in shards_of(c) if s["ShardId"] == SHARD % 0][0]
            a, b = rng(s0)
            c.split_shard(StreamName=S, ShardToSplit=SHARD % 0, NewStartingHashKey=str((a + b) // 2 + 1))
            with soft("while UPDATING, DescribeStream shows the old shards (spec §4.8)"):
                d = c.describe_stream(StreamName=S)["StreamDescription"]
                eq(d["StreamStatus"], "UPDATING", "status right after SplitShard")
                eq([s["ShardId"] for s in d["Shards"]], [SHARD % 0, SHARD % 1], "shards while UPDATING")
            wait_active(c, S)
            steps.append("split")
            time.sleep(0.3)

            # 2. merge two adjacent open shards
            op = sorted(open_shards(shards_of(c)), key=lambda s: rng(s)[0])
            eq(len(op), 3, "open shards after the split")
            x, y = op[1], op[2]
            check(rng(x)[1] + 1 == rng(y)[0], "%s and %s are not adjacent" % (x["ShardId"], y["ShardId"]))
            c.merge_shards(StreamName=S, ShardToMerge=x["ShardId"], AdjacentShardToMerge=y["ShardId"])
            wait_active(c, S)
            steps.append("merge")
            time.sleep(0.3)

            # 3. UpdateShardCount up (2 -> 4 = 2x) and down (4 -> 2 = half)
            n_open = len(open_shards(shards_of(c)))
            eq(n_open, 2, "open shards after the merge")
            r = c.update_shard_count(StreamName=S, TargetShardCount=4, ScalingType="UNIFORM_SCALING")
            eq((r["CurrentShardCount"], r["TargetShardCount"]), (2, 4), "UpdateShardCount up answer")
            wait_active(c, S)
            eq(len(open_shards(shards_of(c))), 4, "open shards after scaling up")
            steps.append("scale up")
            time.sleep(0.3)
            r = c.update_shard_count(StreamName=S, TargetShardCount=2, ScalingType="UNIFORM_SCALING")
            eq((r["CurrentShardCount"], r["TargetShardCount"]), (4, 2), "UpdateShardCount down answer")
            wait_active(c, S)
            eq(len(open_shards(shards_of(c))), 2, "open shards after scaling down")
            steps.append("scale down")
            time.sleep(1.3)   # the last children open 1 s after the change; write into them too
        finally:
            w.stop_flag.set()
            w.join(30)
        check(not w.is_alive(), "writer did not stop")

        with soft("every write was acknowledged"):
            eq(w.errors[:5], [], "writer errors (first 5 of %d)" % len(w.errors))
        check(len(w.acked) > 200, "only %d records acknowledged" % len(w.acked))
        print("acknowledged %d records in %d calls" % (len(w.acked), w.calls))

        shards = shards_of(c)
        by_id = {s["ShardId"]: s for s in shards}
        children = collections.defaultdict(list)
        for s in shards:
            for p in parents_of(s):
                children[p].append(s["ShardId"])

        with soft("lineage: parents closed, children's ranges and sequence numbers"):
            opn = open_shards(shards)
            # open shards tile the key space
            spans = sorted(rng(s) for s in opn)
            eq(spans[0][0], 0, "first open shard starts at 0")
            eq(spans[-1][1], 2 ** 128 - 1, "last open shard ends at 2^128-1")
            for (a1, b1), (a2, b2) in zip(spans, spans[1:]):
                eq(a2, b1 + 1, "open shards tile the key space")
            for s in shards:
                sid = s["ShardId"]
                ps = parents_of(s)
                if children[sid]:
                    check("EndingSequenceNumber" in s["SequenceNumberRange"],
                          "%s has children %s but no EndingSequenceNumber" % (sid, children[sid]))
                    end = int(s["SequenceNumberRange"]["EndingSequenceNumber"])
                    check(end > int(s["SequenceNumberRange"]["StartingSequenceNumber"]), "%s end <= start" % sid)
                for p in ps:
                    check(p in by_id, "%s: parent %s not listed" % (sid, p))
                    pe = by_id[p]["SequenceNumberRange"].get("EndingSequenceNumber")
                    check(pe is not None, "parent %s of %s is not closed" % (p, sid))
                    check(int(s["SequenceNumberRange"]["StartingSequenceNumber"]) > int(pe),
                          "%s StartingSequenceNumber %s is not greater than parent %s EndingSequenceNumber %s"
                          % (sid, s["SequenceNumberRange"]["StartingSequenceNumber"], p, pe))
                if len(ps) == 2:   # merge: child covers both parents
                    (a1, b1), (a2, b2) = rng(by_id[ps[0]]), rng(by_id[ps[1]])
                    eq(b1 + 1, a2, "merge parents %s adjacent" % ps)
                    eq(rng(s), (a1, b2), "merged child %s range" % sid)
            for p, kids in children.items():
                ks = [by_id[k] for k in kids]
                if len(ks) == 2 and all(len(parents_of(k)) == 1 for k in ks):   # split
                    r1, r2 = sorted(rng(k) for k in ks)
                    eq((r1[0], r2[1], r1[1] + 1), (rng(by_id[p])[0], rng(by_id[p])[1], r2[0]),
                       "split children of %s tile its range" % p)

        # ---- read everything, parents before children, following ChildShards ------------------
        read = {}                 # shard -> [(seq, data, pk)]
        child_shards = {}         # shard -> ChildShards of its final GetRecords
        problems = []
        done = set()
        ready = [s["ShardId"] for s in shards if not any(p in by_id for p in parents_of(s))]
        eq(sorted(ready), [SHARD % 0, SHARD % 1], "shards without parents")
        pending = list(ready)
        known_parents = {s["ShardId"]: parents_of(s) for s in shards}
        while pending:
            sid = pending.pop(0)
            it = c.get_shard_iterator(StreamName=S, ShardId=sid, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
            recs = []
            for _ in range(500):
                r = c.get_records(ShardIterator=it)
                recs += [(x["SequenceNumber"], x["Data"], x["PartitionKey"]) for x in r["Records"]]
                nxt = r.get("NextShardIterator")
                if not nxt:
                    child_shards[sid] = r.get("ChildShards")
                    break
                if r.get("ChildShards"):
                    problems.append("%s: ChildShards %r together with a NextShardIterator" % (sid, r["ChildShards"]))
                if not r["Records"] and "EndingSequenceNumber" not in by_id[sid]["SequenceNumberRange"]:
                    child_shards[sid] = None   # an open shard's tip
                    break
                it = nxt
            else:
                fail("%s: no end after 500 GetRecords calls" % sid)
            read[sid] = recs
            done.add(sid)
            for ch in (child_shards.get(sid) or []):
                cid = ch["ShardId"]
                if cid in done or cid in pending:
                    continue
                # a child is read once all its parents are done
                ps = ch.get("ParentShards") or known_parents.get(cid, [])
                if all(p in done for p in ps):
                    pending.append(cid)

        with soft("GetRecords at the end of each closed shard: no NextShardIterator, ChildShards"):
            for s in shards:
                sid = s["ShardId"]
                closed = "EndingSequenceNumber" in s["SequenceNumberRange"]
                cs = child_shards.get(sid)
                if closed:
                    check(cs, "closed shard %s ended without ChildShards: %r" % (sid, cs))
                    eq(sorted(x["ShardId"] for x in cs), sorted(children[sid]), "ChildShards of %s" % sid)
                    for x in cs:
                        k = by_id[x["ShardId"]]
                        eq(sorted(x["ParentShards"]), sorted(parents_of(k)), "ChildShards ParentShards of %s"
                           % x["ShardId"])
                        eq(x["HashKeyRange"], k["HashKeyRange"], "ChildShards HashKeyRange of %s" % x["ShardId"])
                else:
                    check(cs is None, "open shard %s: %r" % (sid, cs))
            eq(problems, [], "ChildShards next to a NextShardIterator")

        with soft("every shard was reached by following ChildShards"):
            eq(sorted(done), sorted(by_id), "shards read")

        with soft("every acknowledged record is read exactly once, from its shard"):
            seen = collections.Counter(seq for recs in read.values() for seq, _, _ in recs)
            dup = [s for s, n in seen.items() if n > 1]
            eq(dup[:5], [], "sequence numbers read more than once")
            where = {seq: sid for sid, recs in read.items() for seq, _, _ in recs}
            missing = [a for a in w.acked if a[1] not in where]
            eq(missing[:5], [], "acknowledged records never read (%d of %d)" % (len(missing), len(w.acked)))
            wrong = [(a[0], where[a[1]], a[1]) for a in w.acked if a[1] in where and where[a[1]] != a[0]]
            eq(wrong[:5], [], "records read from another shard than the one that acknowledged them")
            content = {seq: (d, pk) for recs in read.values() for seq, d, pk in recs}
            bad = [(a, content[a[1]]) for a in w.acked if a[1] in content and content[a[1]] != (a[2], a[3])]
            eq(bad[:5], [], "data / partition key of the records read")
            acked_seqs = {a[1] for a in w.acked}
            extra = [s for s in seen if s not in acked_seqs]
            if not w.errors:
                eq(extra[:5], [], "records read that were never acknowledged")

        with soft("sequence numbers increase within each shard; children's above parents'"):
            for sid, recs in read.items():
                seqs = [int(s) for s, _, _ in recs]
                eq(seqs, sorted(seqs), "read order of %s" % sid)
                start = int(by_id[sid]["SequenceNumberRange"]["StartingSequenceNumber"])
                end = by_id[sid]["SequenceNumberRange"].get("EndingSequenceNumber")
                check(all(q >= start for q in seqs), "%s has records below its StartingSequenceNumber" % sid)
                if end is not None:
                    check(all(q < int(end) for q in seqs), "%s has records above its EndingSequenceNumber" % sid)
                for p in parents_of(by_id[sid]):
                    if read.get(p) and recs:
                        check(int(recs[0][0]) > int(read[p][-1][0]),
                              "first record of %s not above the last of its parent %s" % (sid, p))

        with soft("per partition key, records are read in write order"):
            got = collections.defaultdict(list)
            for sid in read:   # dicts keep insertion order: the order the shards were read in
                for _, d, pk in read[sid]:
                    got[pk].append(d)
            want = collections.defaultdict(list)
            for _, _, d, pk in w.acked:
                want[pk].append(d)
            for pk in KEYS:
                eq(got[pk], want[pk], "records of partition key %s in read order" % pk)

        with soft("each partition key's records moved along one lineage (parent -> descendant)"):
            def ancestors(sid):
                out, todo = set(), list(parents_of(by_id[sid]))
                while todo:
                    p = todo.pop()
                    if p not in out:
                        out.add(p)
                        todo += parents_of(by_id[p])
                return out
            for pk in KEYS:
                chain = [sid for sid, recs in read.items() if any(p == pk for _, _, p in recs)]
                check(chain, "no records of %s" % pk)
                for a, b in zip(chain, chain[1:]):
                    check(a in ancestors(b), "records of %s in %s and then %s, which does not descend from it"
                          % (pk, a, b))

        closed = [s for s in shards if "EndingSequenceNumber" in s["SequenceNumberRange"]]
        with soft("AFTER_SEQUENCE_NUMBER with a closed shard's EndingSequenceNumber (spec §4.5)"):
            for s in closed[:3]:
                expect_error(c.get_shard_iterator, "InvalidArgumentException",
                             "Invalid SequenceNumber for ShardIteratorType AFTER_SEQUENCE_NUMBER, SequenceNumber has "
                             "reached max possible value for the shard.",
                             StreamName=S, ShardId=s["ShardId"], ShardIteratorType="AFTER_SEQUENCE_NUMBER",
                             StartingSequenceNumber=s["SequenceNumberRange"]["EndingSequenceNumber"])

        with soft("AFTER_SEQUENCE_NUMBER of a closed shard's last record: end of shard with ChildShards"):
            sid = next(s["ShardId"] for s in closed if read.get(s["ShardId"]))
            it = c.get_shard_iterator(StreamName=S, ShardId=sid, ShardIteratorType="AFTER_SEQUENCE_NUMBER",
                                      StartingSequenceNumber=read[sid][-1][0])["ShardIterator"]
            r = c.get_records(ShardIterator=it)
            eq(r["Records"], [], "records after the last one")
            check("NextShardIterator" not in r, "NextShardIterator at the end of closed %s: %r" % (sid, r))
            eq(sorted(x["ShardId"] for x in r.get("ChildShards") or []), sorted(children[sid]),
               "ChildShards of %s" % sid)

        with soft("LATEST on a closed shard: end of shard with ChildShards"):
            sid = closed[0]["ShardId"]
            it = c.get_shard_iterator(StreamName=S, ShardId=sid, ShardIteratorType="LATEST")["ShardIterator"]
            r = c.get_records(ShardIterator=it)
            eq(r["Records"], [], "records from LATEST of a closed shard")
            check("NextShardIterator" not in r, "NextShardIterator from LATEST of closed %s: %r" % (sid, r))
            check(r.get("ChildShards"), "no ChildShards from LATEST of closed %s: %r" % (sid, r))

        with soft("writes after resharding go to open shards only"):
            opn = {s["ShardId"] for s in open_shards(shards)}
            for pk in KEYS[:6]:
                r = c.put_record(StreamName=S, Data=b"late", PartitionKey=pk)
                check(r["ShardId"] in opn, "record routed to %s, open are %s" % (r["ShardId"], sorted(opn)))

        with soft("summary after resharding"):
            s = wait_active(c, S)
            eq(s["OpenShardCount"], 2, "OpenShardCount")
            check(not any(len(recs) == 0 for sid, recs in read.items() if sid in (SHARD % 0, SHARD % 1)),
                  "an initial shard got no records")

        check(kd.alive(), "kinesind died")


main(test)
