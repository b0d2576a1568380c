"""SubscribeToShard (enhanced fan-out) with boto3 over HTTP/1.1 chunked event streams: the
initial-response, records as they arrive, heartbeats, ContinuationSequenceNumber that resumes
exactly where the last event ended (also on an empty shard), one subscription per consumer and
shard, and the end of a closed shard with ChildShards (spec Part C)."""

import threading
import time

from kn import Kinesind, boto3_client, check, create_active, eq, expect_error, main, soft


def consumer(c, stream):
    arn = c.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamARN"]
    carn = c.register_stream_consumer(StreamARN=arn, ConsumerName="fan")["Consumer"]["ConsumerARN"]
    for _ in range(100):
        if c.describe_stream_consumer(ConsumerARN=carn)["ConsumerDescription"]["ConsumerStatus"] == "ACTIVE":
            return carn
        time.sleep(0.05)
    raise AssertionError("consumer never became ACTIVE")


def events(c, carn, shard, until, **position):
    """Yields SubscribeToShardEvent payloads until `until(event)` says stop or the stream ends."""
    r = c.subscribe_to_shard(ConsumerARN=carn, ShardId=shard, StartingPosition=position)
    for ev in r["EventStream"]:
        e = ev["SubscribeToShardEvent"]
        yield e
        if until(e):
            return


def test():
    kd = Kinesind(update_ms=50).start()
    c = boto3_client(kd.endpoint, read_timeout=30)
    create_active(c, "fan", 1)
    carn = consumer(c, "fan")
    shard = "shardId-000000000000"

    with soft("an empty shard: heartbeats carry a continuation that resumes at the first record"):
        t0 = time.time()
        first = next(events(c, carn, shard, lambda e: True, Type="TRIM_HORIZON"))
        eq(first["Records"], [], "records of an empty shard")
        cont = first["ContinuationSequenceNumber"]
        check(cont and cont.isdigit(), "ContinuationSequenceNumber %r" % cont)
        check(time.time() - t0 < 3, "the first event came within the heartbeat interval")
        time.sleep(5.1)  # a new subscription for the same consumer and shard needs 5 s
        c.put_record(StreamName="fan", Data=b"r0", PartitionKey="k")
        got = next(events(c, carn, shard, lambda e: e["Records"], Type="AFTER_SEQUENCE_NUMBER",
                          SequenceNumber=cont))
        eq([r["Data"] for r in got["Records"]], [b"r0"], "AFTER_SEQUENCE_NUMBER of the continuation")

    with soft("live records, one subscription per consumer and shard, resuming after the last event"):
        time.sleep(5.1)
        put = []

        def writer():
            time.sleep(0.3)
            for i in range(1, 6):
                put.append(c.put_record(StreamName="fan", Data=b"r%d" % i, PartitionKey="k")["SequenceNumber"])
                time.sleep(0.05)

        t = threading.Thread(target=writer)
        t.start()
        seen = []
        stream = events(c, carn, shard, lambda e: len(seen) >= 6, Type="TRIM_HORIZON")
        for e in stream:
            seen += [r["Data"] for r in e["Records"]]
            if len(seen) == 1:
                expect_error(c.subscribe_to_shard, "ResourceInUseException", ConsumerARN=carn, ShardId=shard,
                             StartingPosition={"Type": "LATEST"})
            last_cont = e["ContinuationSequenceNumber"]
            if len(seen) >= 6:
                break
        t.join()
        eq(seen, [b"r%d" % i for i in range(6)], "records in order")
        eq(last_cont, put[-1], "ContinuationSequenceNumber is the last record sent")

    with soft("the end of a closed shard: null continuation and ChildShards"):
        time.sleep(5.1)
        c.split_shard(StreamName="fan", ShardToSplit=shard, NewStartingHashKey=str(2 ** 127))
        last = None
        for e in events(c, carn, shard, lambda e: False, Type="TRIM_HORIZON"):
            last = e
        check(last is not None, "events before the end")
        check(last.get("ContinuationSequenceNumber") is None, "null continuation at shard end: %r" % last)
        eq(sorted(ch["ShardId"] for ch in last["ChildShards"]), ["shardId-000000000001", "shardId-000000000002"],
           "ChildShards")

    with soft("errors before the stream starts are ordinary AWS errors"):
        expect_error(c.subscribe_to_shard, "ResourceNotFoundException", ConsumerARN=carn + "0", ShardId=shard,
                     StartingPosition={"Type": "LATEST"})
        expect_error(c.subscribe_to_shard, "InvalidArgumentException", ConsumerARN=carn,
                     ShardId="shardId-000000000001", StartingPosition={"Type": "AT_SEQUENCE_NUMBER"})
    kd.stop()


main(test)
