"""The journal with records nowhere else: kinesind killed before any checkpoint, every segment
file deleted (what a power loss takes, since only the journal was synced). Resharding done after
the writes, and a stream deleted after its writes, must come through: the split's parent serves
its records from the journal replay and its children take new writes; the deleted stream's
journal entries are skipped and it stays gone. A clean stop leaves an empty journal (the last
checkpoint), so the next start replays nothing."""

import glob
import os

from kn import Kinesind, boto3_client, check, create_active, eq, main, read_shard, wait_active, wait_gone

SHARD = "shardId-%012d"


def drop_segments(kd):
    segs = glob.glob(os.path.join(kd.data_dir, "streams", "*", "*", "*.seg"))
    check(segs, "expected segment files")
    for p in segs + glob.glob(os.path.join(kd.data_dir, "streams", "*", "*", "*.idx")):
        os.unlink(p)


def test():
    kd = Kinesind(args=("--checkpoint-ms", "600000")).start()
    c = boto3_client(kd.endpoint)
    create_active(c, "split", 1)
    create_active(c, "gone", 2)
    put = [c.put_record(StreamName="split", Data=b"p-%d" % i, PartitionKey="k%d" % i)["SequenceNumber"]
           for i in range(40)]
    for i in range(20):
        c.put_record(StreamName="gone", Data=b"g-%d" % i, PartitionKey="k%d" % i)
    c.split_shard(StreamName="split", ShardToSplit=SHARD % 0, NewStartingHashKey=str(2 ** 127))
    wait_active(c, "split")
    c.delete_stream(StreamName="gone")
    wait_gone(c, "gone")
    kd.kill()
    drop_segments(kd)
    kd.start()

    recs = read_shard(c, "split", SHARD % 0)
    eq([r["SequenceNumber"] for r in recs], put, "the closed parent's records, replayed from the journal")
    eq([bytes(r["Data"]) for r in recs], [b"p-%d" % i for i in range(40)], "their data")
    shards = c.list_shards(StreamName="split")["Shards"]
    eq(len(shards), 3, "parent and two children")
    check("EndingSequenceNumber" in shards[0]["SequenceNumberRange"], "the parent stays closed")
    for i in range(10):
        c.put_record(StreamName="split", Data=b"c-%d" % i, PartitionKey="k%d" % i)
    got = sum(len(read_shard(c, "split", s["ShardId"])) for s in shards[1:])
    eq(got, 10, "the children take the new writes")
    names = c.list_streams()["StreamNames"]
    check("gone" not in names, "the deleted stream stays deleted: %s" % names)
    check("replayed" in kd.log(), "kinesind replayed the journal")

    # a clean stop checkpoints: nothing to replay at the next start
    kd.stop()
    files = glob.glob(os.path.join(kd.data_dir, "journal", "*.jnl"))
    check(len(files) <= 1, "one journal file at most after a clean stop: %s" % files)
    check(all(os.path.getsize(p) == 32 for p in files), "and it holds no entries")
    kd.start()
    eq(len(read_shard(c, "split", SHARD % 0)), 40, "records after a clean restart")
    kd.stop()


main(test)
