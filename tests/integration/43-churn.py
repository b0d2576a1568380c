"""Lifecycle churn: for a few seconds, several clients create and delete streams, put and read
records, reshard, tag and subscribe, all at once and on the same few names, so requests land on
streams that are being created, updated or deleted. kinesind must answer every request with a
result or an AWS-shaped error (never a 5xx, a dropped connection or a crash), and still serve
afterwards. Under `make asan` this is also a use-after-free hunt for the stream lifecycle."""

import random
import threading
import time

from botocore.exceptions import ClientError

from kn import Kinesind, boto3_client, check, eq, main

NAMES = ["churn-a", "churn-b", "churn-c"]
SECONDS = 6


def test():
    kd = Kinesind(create_ms=20, delete_ms=20, update_ms=20).start()
    stop = time.monotonic() + SECONDS
    problems = []
    counts = {"ok": 0, "aws-error": 0}
    lock = threading.Lock()

    def worker(seed):
        rng = random.Random(seed)
        c = boto3_client(kd.endpoint, read_timeout=10)
        while time.monotonic() < stop:
            name = rng.choice(NAMES)
            op = rng.randrange(9)
            try:
                if op == 0:
                    c.create_stream(StreamName=name, ShardCount=rng.randrange(1, 4))
                elif op == 1:
                    c.delete_stream(StreamName=name, EnforceConsumerDeletion=True)
                elif op == 2:
                    c.put_records(StreamName=name, Records=[
                        {"Data": bytes(rng.randrange(200)), "PartitionKey": str(rng.random())} for _ in range(50)])
                elif op == 3:
                    c.put_record(StreamName=name, Data=b"x", PartitionKey=str(rng.random()))
                elif op == 4:
                    it = c.get_shard_iterator(StreamName=name, ShardId="shardId-000000000000",
                                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
                    c.get_records(ShardIterator=it)
                elif op == 5:
                    c.split_shard(StreamName=name, ShardToSplit="shardId-%012d" % rng.randrange(3),
                                  NewStartingHashKey=str(rng.randrange(1, 2 ** 128 - 1)))
                elif op == 6:
                    c.update_shard_count(StreamName=name, TargetShardCount=rng.randrange(1, 5),
                                         ScalingType="UNIFORM_SCALING")
                elif op == 7:
                    c.add_tags_to_stream(StreamName=name, Tags={"k%d" % rng.randrange(5): "v"})
                else:
                    arn = c.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]
                    cons = c.register_stream_consumer(StreamARN=arn, ConsumerName="c%d" % seed)["Consumer"]
                    time.sleep(0.03)
                    r = c.subscribe_to_shard(ConsumerARN=cons["ConsumerARN"], ShardId="shardId-000000000000",
                                             StartingPosition={"Type": "TRIM_HORIZON"})
                    for i, _ in enumerate(r["EventStream"]):
                        if i >= 1:
                            break
                with lock:
                    counts["ok"] += 1
            except ClientError as e:
                status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)  # 0: an event-stream frame
                with lock:
                    if status >= 500 or not e.response["Error"].get("Code"):
                        problems.append("%s: %s" % (op, e))
                    counts["aws-error"] += 1
            except Exception as e:  # a dropped connection, a parse error: never acceptable
                with lock:
                    problems.append("%s: %r" % (op, e))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(SECONDS + 30)
    print("requests answered: %(ok)d results, %(aws-error)d AWS errors" % counts)
    eq(problems[:5], [], "5xx answers, dropped connections or unparseable answers")
    check(counts["ok"] > 50, "too few successful requests to mean anything: %r" % counts)
    check(kd.alive(), "kinesind died")
    c = boto3_client(kd.endpoint)
    c.list_streams()
    eq(kd.stop(), 0, "kinesind exit status after the churn")


main(test)
