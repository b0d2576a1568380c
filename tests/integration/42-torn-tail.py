"""Torn tail: truncate or corrupt the last bytes of a segment by hand; on start the damaged
record is gone, everything before it is served, and the shard takes new writes. The same for
the journal: kinesind killed before any checkpoint, its segments gone (as a power loss takes
them), the journal's last entry truncated or corrupted: the CRCs cut it off, every record
before it comes back from the journal, and the shard takes new writes."""

import glob
import os

from kn import Kinesind, boto3_client, check, create_active, eq, main, read_shard, soft


def damage(path, how):
    size = os.path.getsize(path)
    if how == "truncate":
        os.truncate(path, size - 5)
    else:
        with open(path, "r+b") as f:
            f.seek(size - 3)
            b = f.read(1)
            f.seek(size - 3)
            f.write(bytes([b[0] ^ 0xFF]))


def test():
    for how in ("truncate", "corrupt"):
        with soft(how):
            kd = Kinesind().start()
            c = boto3_client(kd.endpoint)
            create_active(c, "torn", 1)
            put = [c.put_record(StreamName="torn", Data=b"rec-%d" % i, PartitionKey="k")["SequenceNumber"]
                   for i in range(50)]
            kd.stop()
            segs = sorted(glob.glob(os.path.join(kd.data_dir, "streams", "*", "0", "*.seg")))
            check(len(segs) == 1, "expected one segment, found %s" % segs)
            damage(segs[-1], how)
            kd.start()
            recs = read_shard(c, "torn", "shardId-000000000000")
            eq([r["SequenceNumber"] for r in recs], put[:49], "records served after the damage")
            eq([bytes(r["Data"]) for r in recs], [b"rec-%d" % i for i in range(49)], "their data")
            new = c.put_record(StreamName="torn", Data=b"after", PartitionKey="k")
            check(int(new["SequenceNumber"]) > int(put[48]), "new record numbered after the survivors")
            recs = read_shard(c, "torn", "shardId-000000000000")
            eq(bytes(recs[-1]["Data"]), b"after", "the shard takes new writes")
            eq(len(recs), 50, "record count")
            check("truncating" in kd.log(), "kinesind logs the truncation")
            kd.stop()
    for how in ("truncate", "corrupt"):
        with soft("journal " + how):
            kd = Kinesind(args=("--checkpoint-ms", "600000")).start()
            c = boto3_client(kd.endpoint)
            create_active(c, "torn", 1)
            put = [c.put_record(StreamName="torn", Data=b"rec-%d" % i, PartitionKey="k")["SequenceNumber"]
                   for i in range(50)]
            kd.kill()
            for p in glob.glob(os.path.join(kd.data_dir, "streams", "*", "0", "*")):
                os.unlink(p)
            journal = sorted(glob.glob(os.path.join(kd.data_dir, "journal", "*.jnl")))
            check(len(journal) >= 1, "expected a journal file, found %s" % journal)
            damage(journal[-1], how)
            kd.start()
            recs = read_shard(c, "torn", "shardId-000000000000")
            eq([r["SequenceNumber"] for r in recs], put[:49], "records served from the journal")
            eq([bytes(r["Data"]) for r in recs], [b"rec-%d" % i for i in range(49)], "their data")
            new = c.put_record(StreamName="torn", Data=b"after", PartitionKey="k")
            check(int(new["SequenceNumber"]) > int(put[48]), "new record numbered after the survivors")
            eq(bytes(read_shard(c, "torn", "shardId-000000000000")[-1]["Data"]), b"after",
               "the shard takes new writes")
            check("torn or corrupt bytes" in kd.log(), "kinesind logs the journal truncation")
            kd.stop()


main(test)
