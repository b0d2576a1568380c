"""AWS CLI v1 against kinesind: the everyday producer/consumer commands (spec §2.2-§2.4, §4)."""

import base64
import datetime
import hashlib
import json
import time

from kn import ACCOUNT, Kinesind, aws, aws_ok, check, eq, main, next_whole_second, soft, stream_arn

S = "cli-s1"


def shard_of(shards, hash_key):
    for s in shards:
        if int(s["HashKeyRange"]["StartingHashKey"]) <= hash_key <= int(s["HashKeyRange"]["EndingHashKey"]):
            return s["ShardId"]
    raise AssertionError("no shard covers %d" % hash_key)


def md5int(key):
    return int.from_bytes(hashlib.md5(key.encode()).digest(), "big")


def ts_seconds(v):
    """ApproximateArrivalTimestamp as printed by the CLI (epoch number or ISO string)."""
    if isinstance(v, (int, float)):
        return float(v)
    return datetime.datetime.fromisoformat(v.replace("Z", "+00:00")).timestamp()


def test():
    with Kinesind() as kd:
        ep = kd.endpoint

        def records(shard_id, typ, *extra):
            it = aws_ok(ep, "kinesis", "get-shard-iterator", "--stream-name", S, "--shard-id", shard_id,
                        "--shard-iterator-type", typ, *extra)["ShardIterator"]
            r = aws_ok(ep, "kinesis", "get-records", "--shard-iterator", it)
            check(isinstance(r.get("NextShardIterator"), str), "get-records NextShardIterator: %r" % r)
            check(isinstance(r.get("MillisBehindLatest"), int), "get-records MillisBehindLatest: %r" % r)
            return [(base64.b64decode(x["Data"]).decode(), x["PartitionKey"], x["SequenceNumber"], x)
                    for x in r["Records"]]

        out = aws_ok(ep, "kinesis", "create-stream", "--stream-name", S, "--shard-count", "2")
        eq(out, "", "create-stream output")

        status = None
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            status = aws_ok(ep, "kinesis", "describe-stream-summary", "--stream-name", S)[
                "StreamDescriptionSummary"]["StreamStatus"]
            if status == "ACTIVE":
                break
            time.sleep(0.05)
        eq(status, "ACTIVE", "stream status")

        with soft("aws kinesis wait stream-exists"):
            rc, out, err = aws(ep, "kinesis", "wait", "stream-exists", "--stream-name", S)
            eq(rc, 0, "wait stream-exists rc (stderr %s)" % err)

        with soft("describe-stream-summary fields"):
            s = aws_ok(ep, "kinesis", "describe-stream-summary", "--stream-name", S)["StreamDescriptionSummary"]
            eq(s["StreamName"], S, "StreamName")
            eq(s["StreamARN"], stream_arn(S), "StreamARN")
            eq(s["OpenShardCount"], 2, "OpenShardCount")
            eq(s["RetentionPeriodHours"], 24, "RetentionPeriodHours")

        with soft("describe-stream"):
            d = aws_ok(ep, "kinesis", "describe-stream", "--stream-name", S)["StreamDescription"]
            eq(d["StreamStatus"], "ACTIVE", "StreamStatus")
            eq(d["StreamARN"], "arn:aws:kinesis:us-east-1:%s:stream/%s" % (ACCOUNT, S), "StreamARN")
            eq([x["ShardId"] for x in d["Shards"]], ["shardId-000000000000", "shardId-000000000001"], "shard ids")
            # (the CLI paginates describe-stream and drops HasMoreShards from its output)

        eq(aws_ok(ep, "kinesis", "list-streams")["StreamNames"], [S], "list-streams StreamNames")

        shards = aws_ok(ep, "kinesis", "list-shards", "--stream-name", S)["Shards"]
        eq([(x["ShardId"], x["HashKeyRange"]["StartingHashKey"], x["HashKeyRange"]["EndingHashKey"]) for x in shards],
           [("shardId-000000000000", "0", str(2 ** 127 - 1)),
            ("shardId-000000000001", str(2 ** 127), str(2 ** 128 - 1))], "list-shards hash ranges")
        for x in shards:
            check("EndingSequenceNumber" not in x["SequenceNumberRange"], "open shard has EndingSequenceNumber: %r" % x)
            check(len(x["SequenceNumberRange"]["StartingSequenceNumber"]) == 56,
                  "StartingSequenceNumber is not 56 digits: %r" % x)

        # -- writes --------------------------------------------------------------------------------
        expected = {x["ShardId"]: [] for x in shards}
        r = aws_ok(ep, "kinesis", "put-record", "--stream-name", S, "--data", "hello", "--partition-key", "pk1")
        eq(r["ShardId"], shard_of(shards, md5int("pk1")), "put-record ShardId (MD5 routing of 'pk1')")
        check(len(r["SequenceNumber"]) == 56 and r["SequenceNumber"].isdigit(), "SequenceNumber: %r" % r)
        expected[r["ShardId"]].append(("hello", "pk1", r["SequenceNumber"]))

        batch = [{"Data": "rec-%d" % i, "PartitionKey": "key-%d" % i} for i in range(6)]
        batch.append({"Data": "explicit-1", "PartitionKey": "x", "ExplicitHashKey": str(2 ** 127)})
        batch.append({"Data": "explicit-0", "PartitionKey": "x", "ExplicitHashKey": "0"})
        r = aws_ok(ep, "kinesis", "put-records", "--stream-name", S, "--records", json.dumps(batch))
        eq(r["FailedRecordCount"], 0, "put-records FailedRecordCount")
        eq(len(r["Records"]), len(batch), "put-records Records length")
        for e, res in zip(batch, r["Records"]):
            want = shard_of(shards, int(e["ExplicitHashKey"]) if "ExplicitHashKey" in e else md5int(e["PartitionKey"]))
            eq(res.get("ShardId"), want, "put-records shard for %r" % e)
            expected[res["ShardId"]].append((e["Data"], e["PartitionKey"], res["SequenceNumber"]))

        # -- reads -----------------------------------------------------------------------------------
        for sid, exp in expected.items():
            got = records(sid, "TRIM_HORIZON")
            eq([g[:3] for g in got], exp, "TRIM_HORIZON records of %s" % sid)

        sid = "shardId-000000000001"
        exp = expected[sid]
        check(len(exp) >= 2, "need 2+ records on %s, have %r" % (sid, exp))
        with soft("AT_SEQUENCE_NUMBER"):
            got = records(sid, "AT_SEQUENCE_NUMBER", "--starting-sequence-number", exp[1][2])
            eq([g[:3] for g in got], exp[1:], "AT_SEQUENCE_NUMBER records")
        with soft("AFTER_SEQUENCE_NUMBER"):
            got = records(sid, "AFTER_SEQUENCE_NUMBER", "--starting-sequence-number", exp[0][2])
            eq([g[:3] for g in got], exp[1:], "AFTER_SEQUENCE_NUMBER records")
        with soft("LATEST then a new record"):
            it = aws_ok(ep, "kinesis", "get-shard-iterator", "--stream-name", S, "--shard-id", sid,
                        "--shard-iterator-type", "LATEST")["ShardIterator"]
            r = aws_ok(ep, "kinesis", "get-records", "--shard-iterator", it)
            eq(r["Records"], [], "LATEST records before a put")
            t_before = next_whole_second()  # the CLI sends whole seconds
            p = aws_ok(ep, "kinesis", "put-record", "--stream-name", S, "--data", "after-latest",
                       "--partition-key", "z", "--explicit-hash-key", str(2 ** 128 - 1))
            eq(p["ShardId"], sid, "ExplicitHashKey 2^128-1 shard")
            r = aws_ok(ep, "kinesis", "get-records", "--shard-iterator", it)
            eq([base64.b64decode(x["Data"]).decode() for x in r["Records"]], ["after-latest"], "LATEST records")
            got = records(sid, "AT_TIMESTAMP", "--timestamp", str(t_before))
            eq([g[0] for g in got], ["after-latest"], "AT_TIMESTAMP records")
            arrival = ts_seconds(got[0][3]["ApproximateArrivalTimestamp"])
            check(abs(arrival - t_before) < 5, "ApproximateArrivalTimestamp %r far from now %r" % (arrival, t_before))

        with soft("get-records --limit"):
            it = aws_ok(ep, "kinesis", "get-shard-iterator", "--stream-name", S, "--shard-id", sid,
                        "--shard-iterator-type", "TRIM_HORIZON")["ShardIterator"]
            r = aws_ok(ep, "kinesis", "get-records", "--shard-iterator", it, "--limit", "1")
            eq([base64.b64decode(x["Data"]).decode() for x in r["Records"]], [exp[0][0]], "first record with --limit 1")
            r = aws_ok(ep, "kinesis", "get-records", "--shard-iterator", r["NextShardIterator"], "--limit", "1")
            eq([base64.b64decode(x["Data"]).decode() for x in r["Records"]], [exp[1][0]], "second record with --limit 1")

        # -- errors -----------------------------------------------------------------------------------
        with soft("describe-stream on a missing stream"):
            rc, out, err = aws(ep, "kinesis", "describe-stream", "--stream-name", "nope")
            check(rc != 0, "describe-stream nope exited 0: %r" % out)
            check("ResourceNotFoundException" in err, "stderr lacks ResourceNotFoundException: %r" % err)
            check("Stream nope under account 000000000000 not found." in err, "stderr lacks the message: %r" % err)

        with soft("create-stream on an existing stream"):
            rc, out, err = aws(ep, "kinesis", "create-stream", "--stream-name", S, "--shard-count", "1")
            check(rc != 0, "second create-stream exited 0")
            check("ResourceInUseException" in err and
                  "Stream %s under account 000000000000 already exists." % S in err, "stderr: %r" % err)

        with soft("get-records with a bogus iterator"):
            rc, out, err = aws(ep, "kinesis", "get-records", "--shard-iterator", "bogus")
            check(rc != 0, "get-records bogus exited 0")
            check("InvalidArgumentException" in err and "Invalid ShardIterator." in err, "stderr: %r" % err)

        # -- delete ---------------------------------------------------------------------------------
        with soft("delete-stream"):
            eq(aws_ok(ep, "kinesis", "delete-stream", "--stream-name", S), "", "delete-stream output")
            deadline = time.monotonic() + 15
            gone = False
            while time.monotonic() < deadline and not gone:
                rc, out, err = aws(ep, "kinesis", "describe-stream-summary", "--stream-name", S)
                if rc != 0:
                    check("ResourceNotFoundException" in err, "describe after delete: %r" % err)
                    gone = True
                else:
                    check(out["StreamDescriptionSummary"]["StreamStatus"] == "DELETING",
                          "status after delete: %r" % out)
                    time.sleep(0.05)
            check(gone, "stream still there after delete-stream")
            rc, out, err = aws(ep, "kinesis", "wait", "stream-not-exists", "--stream-name", S)
            eq(rc, 0, "wait stream-not-exists rc (stderr %s)" % err)
            eq(aws_ok(ep, "kinesis", "list-streams")["StreamNames"], [], "list-streams after delete")


main(test)
