"""kinesind --fault / --fault-file (docs/faults.md) seen through boto3: every kind of rule
(error=throttle, internal, unavailable, expired-iterator; latency; reset; partial PutRecords
failures), per-operation and per-stream targeting, every=N / count=N / rate with a seed
repeating exactly, the JSON file reread on change and on SIGHUP (a broken file keeps the old
rules), and bad rules refused at start with a clear message. Without rules nothing is injected
(the rest of the suite runs that way)."""

import json
import os
import signal
import subprocess
import threading
import time

from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError, ReadTimeoutError

from kn import (Kinesind, boto3_client, check, create_active, eq, expect_error, fail, kn_bin, main,
                read_shard)

SHARD0 = "shardId-000000000000"


def outcome(fn, **kw):
    """'ok', or the AWS error code, or 'connection' for a dropped connection."""
    try:
        fn(**kw)
        return "ok"
    except ClientError as e:
        return e.response["Error"]["Code"]
    except (ConnectionClosedError, EndpointConnectionError, ConnectionError):
        return "connection"
    except ReadTimeoutError:
        return "timeout"


def test_errors_and_targets():
    rules = [
        "error=throttle,op=PutRecord,stream=hot,every=2",
        "error=internal,op=DescribeStream,stream=hot,count=2",
        "error=ServiceUnavailable,op=ListShards,stream=hot,count=1",
        "error=expired-iterator,stream=gr,every=3",
    ]
    args = []
    for r in rules:
        args += ["--fault", r]
    with Kinesind(in_memory=True, create_ms=0, args=args) as kd:
        c = boto3_client(kd.endpoint)
        create_active(c, "hot", 1)
        create_active(c, "cold", 1)
        create_active(c, "gr", 1)

        # every=2 on PutRecord for "hot" only: ok, throttled, ok, throttled; "cold" never
        got = [outcome(c.put_record, StreamName="hot", Data=b"h%d" % i, PartitionKey="k") for i in range(4)]
        eq(got, ["ok", "ProvisionedThroughputExceededException"] * 2, "PutRecord outcomes on hot")
        got = [outcome(c.put_record, StreamName="cold", Data=b"c", PartitionKey="k") for _ in range(4)]
        eq(got, ["ok"] * 4, "PutRecord outcomes on cold (not targeted)")
        eq(outcome(c.put_record, StreamName="hot", Data=b"h4", PartitionKey="k"), "ok", "5th PutRecord on hot")
        _, msg, status = expect_error(c.put_record, "ProvisionedThroughputExceededException",
                                      StreamName="hot", Data=b"h5", PartitionKey="k")
        eq(msg, "Rate exceeded for stream hot under account 000000000000.", "throttle message")
        eq(status, 400, "throttle status")
        # the throttled calls stored nothing
        eq([r["Data"] for r in read_shard(c, "hot", SHARD0)], [b"h0", b"h2", b"h4"], "records on hot")
        eq(len(read_shard(c, "cold", SHARD0)), 4, "records on cold")

        # count=2: InternalFailure twice (HTTP 500), then never again
        eq(outcome(c.describe_stream, StreamName="cold"), "ok", "DescribeStream on cold")
        _, _, status = expect_error(c.describe_stream, "InternalFailure", StreamName="hot")
        eq(status, 500, "InternalFailure status")
        eq(outcome(c.describe_stream, StreamName="hot"), "InternalFailure", "2nd DescribeStream")
        eq(outcome(c.describe_stream, StreamName="hot"), "ok", "3rd DescribeStream")
        # the stream may be named by ARN too
        arn = c.describe_stream_summary(StreamName="hot")["StreamDescriptionSummary"]["StreamARN"]
        _, _, status = expect_error(c.list_shards, "ServiceUnavailable", StreamARN=arn)
        eq(status, 503, "ServiceUnavailable status")
        eq(outcome(c.list_shards, StreamARN=arn), "ok", "ListShards after count=1")

        # expired-iterator applies to GetRecords only, and finds the stream inside the iterator
        it = c.get_shard_iterator(StreamName="gr", ShardId=SHARD0, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        got = [outcome(c.get_records, ShardIterator=it) for _ in range(6)]
        eq(got, ["ok", "ok", "ExpiredIteratorException"] * 2, "GetRecords outcomes on gr")
        _, msg, _ = client_error_of(c.get_records, ShardIterator=it)
        check(msg.startswith("Iterator expired. The iterator was created at time "), "expired message: %r" % msg)
        it = c.get_shard_iterator(StreamName="cold", ShardId=SHARD0, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        eq([outcome(c.get_records, ShardIterator=it) for _ in range(3)], ["ok"] * 3, "GetRecords on cold")


def client_error_of(fn, **kw):
    """Calls fn until it fails (at most 5 times); returns (code, message, status)."""
    for _ in range(5):
        try:
            fn(**kw)
        except ClientError as e:
            return (e.response["Error"]["Code"], e.response["Error"]["Message"],
                    e.response["ResponseMetadata"]["HTTPStatusCode"])
    fail("%s never failed" % fn.__name__)


def test_seeded_rate_repeats():
    # the same seed on two streams: the same pattern of failures, and a mixed one
    args = ["--fault", "error=throttle,op=DescribeStreamSummary,stream=a,rate=0.5,seed=42",
            "--fault", "error=throttle,op=DescribeStreamSummary,stream=b,rate=0.5,seed=42",
            "--fault", "error=throttle,op=DescribeStreamSummary,stream=c,rate=0.5,seed=43"]
    with Kinesind(in_memory=True, create_ms=0, args=args) as kd:
        c = boto3_client(kd.endpoint)
        for s in ("a", "b", "c"):
            c.create_stream(StreamName=s, ShardCount=1)
        pats = {s: [outcome(c.describe_stream_summary, StreamName=s) for _ in range(40)] for s in ("a", "b", "c")}
        eq(pats["a"], pats["b"], "failure pattern of two rules with seed 42")
        n = pats["a"].count("ProvisionedThroughputExceededException")
        check(5 <= n <= 35, "rate=0.5 failed %d of 40 calls" % n)
        check(pats["a"] != pats["c"], "seeds 42 and 43 gave the same 40 outcomes")
        check("seed=42" in kd.log(), "the rule with its seed is logged:\n" + kd.log())


def test_latency_does_not_block():
    args = ["--fault", "latency=2500,op=PutRecord,stream=slow"]
    with Kinesind(in_memory=True, create_ms=0, args=args) as kd:
        c = boto3_client(kd.endpoint)
        create_active(c, "slow", 1)
        create_active(c, "fast", 1)
        done = {}

        def slow_put():
            done["slow"] = c2.put_record(StreamName="slow", Data=b"late", PartitionKey="k")
        c2 = boto3_client(kd.endpoint)
        t = threading.Thread(target=slow_put)
        t.start()
        time.sleep(0.3)  # the slow call is parked on kinesind's timer by now
        # other calls, on other connections, are served meanwhile
        for i in range(5):
            c.put_record(StreamName="fast", Data=b"f%d" % i, PartitionKey="k")
        c.list_streams()
        check(t.is_alive(), "the delayed PutRecord answered before the calls made after it")
        t.join(30)
        check(not t.is_alive(), "the delayed PutRecord never answered")
        eq(done["slow"]["ShardId"], SHARD0, "delayed PutRecord's answer")
        # after the delay the handler really ran: the record is there
        eq([r["Data"] for r in read_shard(c, "slow", SHARD0)], [b"late"], "records of the delayed stream")

        # a client that gives up while the call waits does not upset kinesind
        impatient = boto3_client(kd.endpoint, read_timeout=1)
        eq(outcome(impatient.put_record, StreamName="slow", Data=b"gone", PartitionKey="k"), "timeout",
           "a PutRecord delayed past the client's read timeout")
        time.sleep(2.0)  # its timer fires with the client gone
        c.list_streams()


def test_reset():
    args = ["--fault", "reset,op=PutRecord,stream=r,every=2"]
    with Kinesind(in_memory=True, create_ms=0, args=args) as kd:
        c = boto3_client(kd.endpoint)
        create_active(c, "r", 1)
        got = [outcome(c.put_record, StreamName="r", Data=b"%d" % i, PartitionKey="k") for i in range(4)]
        eq(got, ["ok", "connection"] * 2, "PutRecord outcomes with reset every 2nd")
        # the reset calls stored nothing, and kinesind keeps serving
        eq([r["Data"] for r in read_shard(c, "r", SHARD0)], [b"0", b"2"], "records after resets")
        # boto3's own retries get through a reset (the next attempt is not reset)
        retrying = boto3_client(kd.endpoint, max_attempts=3)
        for i in range(4):
            retrying.put_record(StreamName="r", Data=b"again", PartitionKey="k")


def test_partial():
    args = ["--fault", "partial=throttle,stream=p,every=3",
            "--fault", "partial=InternalFailure,stream=p,every=5"]
    with Kinesind(in_memory=True, create_ms=0, args=args) as kd:
        c = boto3_client(kd.endpoint)
        create_active(c, "p", 1)
        create_active(c, "q", 1)
        r = c.put_records(StreamName="p", Records=[{"Data": b"%d" % i, "PartitionKey": "k"} for i in range(15)])
        codes = [e.get("ErrorCode") for e in r["Records"]]
        want = []
        for i in range(1, 16):
            want.append("ProvisionedThroughputExceededException" if i % 3 == 0
                        else "InternalFailure" if i % 5 == 0 else None)
        eq(codes, want, "PutRecords entry ErrorCodes")
        eq(r["FailedRecordCount"], sum(1 for x in want if x), "FailedRecordCount")
        eq(r["ResponseMetadata"]["HTTPStatusCode"], 200, "PutRecords status")
        eq(r["Records"][2]["ErrorMessage"],
           "Rate exceeded for shard %s in stream p under account 000000000000." % SHARD0, "entry message")
        stored = [x["Data"] for x in read_shard(c, "p", SHARD0)]
        eq(stored, [b"%d" % (i - 1) for i in range(1, 16) if want[i - 1] is None], "stored entries")
        r = c.put_records(StreamName="q", Records=[{"Data": b"x", "PartitionKey": "k"}] * 6)
        eq(r["FailedRecordCount"], 0, "PutRecords on an untargeted stream")
        # PutRecord is not touched by partial rules
        for _ in range(4):
            c.put_record(StreamName="p", Data=b"one", PartitionKey="k")


def write_rules(path, rules):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"faults": rules}, f)
    os.replace(tmp, path)


def test_file_reload():
    kd = Kinesind(in_memory=True, create_ms=0)
    path = os.path.join(kd.tmp, "faults.json")
    write_rules(path, [{"error": "throttle", "op": ["ListShards"], "stream": "f"}])
    kd.argv += ["--fault-file", path]
    with kd:
        c = boto3_client(kd.endpoint)
        create_active(c, "f", 1)
        eq(outcome(c.list_shards, StreamName="f"), "ProvisionedThroughputExceededException", "file rule")
        eq(outcome(c.describe_stream_summary, StreamName="f"), "ok", "untargeted op")

        # a new file is picked up within about a second, without a signal
        write_rules(path, [{"error": "internal", "op": "DescribeStreamSummary", "every": 2}])
        deadline = time.monotonic() + 10
        while outcome(c.list_shards, StreamName="f") != "ok":
            check(time.monotonic() < deadline, "the changed file was not reread:\n" + kd.log())
            time.sleep(0.2)
        got = [outcome(c.describe_stream_summary, StreamName="f") for _ in range(4)]
        check(got in (["ok", "InternalFailure"] * 2, ["InternalFailure", "ok"] * 2),
              "every=2 from the reread file: %r" % got)

        # a broken file keeps the rules in force, with the reason logged
        new = json.dumps({"faults": [{"reset": True, "op": "ListStreams", "count": 1}]})
        with open(path, "w") as f:
            f.write('{"faults": [{"error": "nonsense"}]}'.ljust(len(new)))
        time.sleep(1.2)
        c.list_streams()
        deadline = time.monotonic() + 10
        while "keeping the rules in force" not in kd.log():
            check(time.monotonic() < deadline, "no error logged for a broken file:\n" + kd.log())
            c.list_streams()
            time.sleep(0.2)
        check("nonsense" in kd.log(), "the error names the bad value:\n" + kd.log())
        got = [outcome(c.describe_stream_summary, StreamName="f") for _ in range(4)]
        check("InternalFailure" in got, "the old rules stopped with a broken file: %r" % got)

        # rewritten in place with the same size and mtime, the file looks unchanged: only SIGHUP
        # makes kinesind reread it
        st = os.stat(path)
        with open(path, "r+") as f:
            f.write(new)
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
        time.sleep(1.2)
        eq(outcome(c.list_streams), "ok", "ListStreams before SIGHUP (file looks unchanged)")
        kd.proc.send_signal(signal.SIGHUP)
        eq(outcome(c.list_streams), "connection", "ListStreams after SIGHUP")
        eq(outcome(c.list_streams), "ok", "ListStreams after count=1")
        eq(outcome(c.describe_stream_summary, StreamName="f"), "ok", "old rules gone after reload")
        check(kd.alive(), "kinesind survived SIGHUP")


def test_bad_rules():
    cases = [
        ("--fault", "error=bogus", "error=bogus: not throttle, internal, unavailable or expired-iterator"),
        ("--fault", "op=PutRecord", "no action"),
        ("--fault", "latency=0", "latency=0: not a number of milliseconds"),
        ("--fault", "reset,error=internal", "a rule has one action"),
        ("--fault", "error=throttle,rate=1.5", "rate=1.5: not a probability"),
        ("--fault", "error=throttle,rate=0.5,every=2", "rate and every do not go together"),
        ("--fault", "error=throttle,op=PutRecordz", "'PutRecordz' is not a Kinesis operation"),
        ("--fault", "error=expired-iterator,op=PutRecord", "applies to GetRecords only"),
        ("--fault", "partial=unavailable", "partial=unavailable: not throttle or internal"),
        ("--fault", "error=throttle,colour=red", "unknown key 'colour'"),
        ("--fault-file", "/nonexistent/faults.json", "No such file or directory"),
    ]
    for flag, rule, want in cases:
        p = subprocess.run([kn_bin(), "--in-memory", "--port", "1", flag, rule], capture_output=True,
                           text=True, timeout=10)
        eq(p.returncode, 2, "exit code for %s %s" % (flag, rule))
        check(want in p.stderr, "%s %s: expected %r in stderr, got %r" % (flag, rule, want, p.stderr))


def test():
    test_bad_rules()
    test_errors_and_targets()
    test_seeded_rate_repeats()
    test_partial()
    test_reset()
    test_latency_does_not_block()
    test_file_reload()


main(test)
