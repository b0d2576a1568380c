"""--enforce-throughput: AWS's per-shard limits (1,000 records or 1 MiB per second in; 5 calls
or 2 MiB per second out) answered with ProvisionedThroughputExceededException, so retry logic
can be tested locally (issue 4, spec §4.13)."""

import time

from kn import Kinesind, boto3_client, check, create_active, eq, expect_error, main, soft


def test():
    kd = Kinesind(args=["--enforce-throughput"]).start()
    c = boto3_client(kd.endpoint)  # one attempt: botocore would retry the throttling itself
    create_active(c, "t", 1)
    msg = "Rate exceeded for shard shardId-000000000000 in stream t under account 000000000000."
    with soft("PutRecords past 1,000 records per second: the rest fail per record"):
        results = []
        t0 = time.monotonic()
        for _ in range(3):
            r = c.put_records(StreamName="t", Records=[{"Data": b"x", "PartitionKey": "k"}] * 500)
            results += r["Records"]
        elapsed = time.monotonic() - t0  # the bucket refills 1,000 records a second meanwhile
        ok = [x for x in results if "SequenceNumber" in x]
        bad = [x for x in results if "ErrorCode" in x]
        check(900 <= len(ok) <= 1100 + 1000 * elapsed,
              "about 1,000 accepted in the first second, got %d in %.2f s" % (len(ok), elapsed))
        eq(len(ok) + len(bad), 1500, "one result per record")
        eq({(x["ErrorCode"], x["ErrorMessage"]) for x in bad}, {("ProvisionedThroughputExceededException", msg)},
           "the failed entries")
    with soft("PutRecord past 1 MiB per second -> ProvisionedThroughputExceededException"):
        time.sleep(1.1)
        big = b"z" * 700000
        c.put_record(StreamName="t", Data=big, PartitionKey="k")
        expect_error(c.put_record, "ProvisionedThroughputExceededException", msg, StreamName="t", Data=big,
                     PartitionKey="k")
    with soft("the limit refills: a second later writes go through"):
        time.sleep(1.1)
        c.put_record(StreamName="t", Data=b"y", PartitionKey="k")
    with soft("GetRecords past 5 calls per second"):
        it = c.get_shard_iterator(StreamName="t", ShardId="shardId-000000000000",
                                  ShardIteratorType="LATEST")["ShardIterator"]
        for _ in range(5):
            c.get_records(ShardIterator=it)
        expect_error(c.get_records, "ProvisionedThroughputExceededException", msg, ShardIterator=it)
        time.sleep(1.1)
        c.get_records(ShardIterator=it)
    kd.stop()


main(test)
