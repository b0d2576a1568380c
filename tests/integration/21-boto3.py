"""boto3 against kinesind: lifecycle, routing, sequence numbers, iterators, paging, StreamARN,
errors and the shard limit (spec §2.2-§2.4, §3.5, §4.1-§4.7)."""

import datetime
import hashlib

from botocore.exceptions import ClientError

from kn import (ACCOUNT, Kinesind, boto3_client, check, create_active, eq, expect_error, fail, main,
                next_whole_second, read_shard, soft, stream_arn, wait_active, wait_gone)

SHARD = "shardId-%012d"
THIRD = 2 ** 128 // 3
RANGES_3 = [("0", "113427455640312821154458202477256070484"),
            ("113427455640312821154458202477256070485", "226854911280625642308916404954512140969"),
            ("226854911280625642308916404954512140970", "340282366920938463463374607431768211455")]


def md5int(key):
    return int.from_bytes(hashlib.md5(key.encode("utf-8")).digest(), "big")


def shard_of(shards, h):
    for s in shards:
        if int(s["HashKeyRange"]["StartingHashKey"]) <= h <= int(s["HashKeyRange"]["EndingHashKey"]):
            return s["ShardId"]
    fail("no shard covers hash %d" % h)


def check_seq(seq, shard_index, what):
    check(isinstance(seq, str) and len(seq) == 56 and seq.isdigit(),
          "%s: sequence number %r is not a 56-digit string" % (what, seq))
    h = "%047x" % int(seq)
    check(len(h) == 47 and h[0] == "2" and h[-1] == "2", "%s: %s is not a version-2 sequence number (hex %s)"
          % (what, seq, h))
    eq(int(h[38:46], 16), shard_index, "%s: shard index encoded in %s" % (what, seq))


def test():
    with Kinesind(shard_limit=100) as kd:
        c = boto3_client(kd.endpoint)
        now = datetime.datetime.now(datetime.timezone.utc)

        # ---- lifecycle ----------------------------------------------------------------------
        M = "b-main"
        c.create_stream(StreamName=M, ShardCount=3)
        with soft("status right after CreateStream is CREATING or ACTIVE"):
            st = c.describe_stream_summary(StreamName=M)["StreamDescriptionSummary"]["StreamStatus"]
            check(st in ("CREATING", "ACTIVE"), "status %r" % st)
        summ = wait_active(c, M)
        with soft("DescribeStreamSummary"):
            eq(summ["StreamName"], M, "StreamName")
            eq(summ["StreamARN"], stream_arn(M), "StreamARN")
            eq(summ["OpenShardCount"], 3, "OpenShardCount")
            eq(summ["RetentionPeriodHours"], 24, "RetentionPeriodHours")
            ts = summ["StreamCreationTimestamp"]
            check(abs((ts - now).total_seconds()) < 30, "StreamCreationTimestamp %r vs now %r" % (ts, now))

        d = c.describe_stream(StreamName=M)["StreamDescription"]
        shards = d["Shards"]
        with soft("DescribeStream"):
            eq(d["StreamStatus"], "ACTIVE", "StreamStatus")
            eq(d["StreamARN"], "arn:aws:kinesis:us-east-1:%s:stream/%s" % (ACCOUNT, M), "StreamARN")
            eq(d["HasMoreShards"], False, "HasMoreShards")
            eq(d["RetentionPeriodHours"], 24, "RetentionPeriodHours")
            check(isinstance(d["EnhancedMonitoring"], list), "EnhancedMonitoring %r" % d["EnhancedMonitoring"])
            eq([(s["ShardId"], s["HashKeyRange"]["StartingHashKey"], s["HashKeyRange"]["EndingHashKey"])
                for s in shards], [(SHARD % i, a, b) for i, (a, b) in enumerate(RANGES_3)], "shard hash ranges")
            for i, s in enumerate(shards):
                check_seq(s["SequenceNumberRange"]["StartingSequenceNumber"], i, "StartingSequenceNumber")
                check("EndingSequenceNumber" not in s["SequenceNumberRange"], "open shard has an end: %r" % s)
                check("ParentShardId" not in s, "initial shard has a parent: %r" % s)

        with soft("ListShards equals DescribeStream shards"):
            eq(c.list_shards(StreamName=M)["Shards"], shards, "ListShards Shards")

        # ---- routing ---------------------------------------------------------------------------
        expected = {s["ShardId"]: [] for s in shards}   # shard -> [(seq, data, pk)] in write order

        def put_records(entries, **where):
            r = c.put_records(Records=entries, **where)
            eq(r["FailedRecordCount"], 0, "FailedRecordCount")
            eq(len(r["Records"]), len(entries), "PutRecords Records length")
            for e, res in zip(entries, r["Records"]):
                h = int(e["ExplicitHashKey"]) if "ExplicitHashKey" in e else md5int(e["PartitionKey"])
                want = shard_of(shards, h)
                eq(res.get("ShardId"), want, "PutRecords shard for %r" % ({k: e[k] for k in e if k != "Data"},))
                check_seq(res["SequenceNumber"], int(want[-12:]), "PutRecords")
                expected[want].append((res["SequenceNumber"], e["Data"], e["PartitionKey"]))
            return r

        def put_record(**kw):
            where = {"StreamName": M} if "StreamARN" not in kw else {}
            r = c.put_record(**where, **kw)
            h = int(kw["ExplicitHashKey"]) if "ExplicitHashKey" in kw else md5int(kw["PartitionKey"])
            want = shard_of(shards, h)
            eq(r["ShardId"], want, "PutRecord shard for key %r / hash %d" % (kw["PartitionKey"], h))
            check_seq(r["SequenceNumber"], int(want[-12:]), "PutRecord")
            expected[want].append((r["SequenceNumber"], kw["Data"], kw["PartitionKey"]))
            return r

        with soft("spec §4.3 routing examples"):
            for key, ix in [("a", 0), ("b", 1), ("e", 2), ("f", 1)]:
                eq(put_record(Data=b"ex-" + key.encode(), PartitionKey=key)["ShardId"], SHARD % ix,
                   "shard for partition key %r" % key)
            for h, ix in [(2 ** 128 - 1, 2), (2 * THIRD - 1, 1), (2 * THIRD, 2), (0, 0)]:
                eq(put_record(Data=b"ehk", PartitionKey="k", ExplicitHashKey=str(h))["ShardId"], SHARD % ix,
                   "shard for ExplicitHashKey %d" % h)

        with soft("PutRecords: partition keys by MD5, ExplicitHashKey at range edges"):
            entries = [{"Data": ("value-%d" % i).encode() * (i % 5 + 1), "PartitionKey": "user-%d" % i}
                       for i in range(90)]
            for s in shards:
                for edge in ("StartingHashKey", "EndingHashKey"):
                    entries.append({"Data": b"edge", "PartitionKey": "edge",
                                    "ExplicitHashKey": s["HashKeyRange"][edge]})
            entries.append({"Data": bytes(range(256)), "PartitionKey": "binary \u00e9\u4e2d"})
            entries.append({"Data": b"", "PartitionKey": "empty-data"})
            put_records(entries, StreamName=M)

        with soft("PutRecord with ExplicitHashKey 2^128 -> InvalidArgumentException"):
            expect_error(c.put_record, "InvalidArgumentException",
                         "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. "
                         "Specified value was %d" % 2 ** 128,
                         StreamName=M, Data=b"x", PartitionKey="k", ExplicitHashKey=str(2 ** 128))

        # ---- sequence numbers and reads ------------------------------------------------------------
        with soft("sequence numbers increase within each shard"):
            for sid, recs in expected.items():
                seqs = [int(r[0]) for r in recs]
                eq(seqs, sorted(set(seqs)), "sequence numbers of %s in write order" % sid)

        with soft("TRIM_HORIZON reads everything back, in order"):
            for sid, recs in expected.items():
                got = read_shard(c, M, sid)
                eq([(r["SequenceNumber"], r["Data"], r["PartitionKey"]) for r in got], recs,
                   "records of %s" % sid)
                for r in got:
                    age = (datetime.datetime.now(datetime.timezone.utc) - r["ApproximateArrivalTimestamp"])
                    check(-2 < age.total_seconds() < 60, "ApproximateArrivalTimestamp %r" %
                          r["ApproximateArrivalTimestamp"])

        sid = max(expected, key=lambda k: len(expected[k]))
        recs = expected[sid]
        check(len(recs) >= 10, "need 10+ records on %s" % sid)

        def it_for(typ, **kw):
            return c.get_shard_iterator(StreamName=M, ShardId=sid, ShardIteratorType=typ, **kw)["ShardIterator"]

        def view(rs):
            return [(r["SequenceNumber"], r["Data"], r["PartitionKey"]) for r in rs]

        with soft("GetRecords Limit pages through the shard"):
            it = it_for("TRIM_HORIZON")
            got = []
            for _ in range(100):
                r = c.get_records(ShardIterator=it, Limit=3)
                check(len(r["Records"]) <= 3, "Limit 3 returned %d records" % len(r["Records"]))
                check(isinstance(r.get("MillisBehindLatest"), int) and r["MillisBehindLatest"] >= 0,
                      "MillisBehindLatest %r" % r.get("MillisBehindLatest"))
                check(r.get("NextShardIterator"), "NextShardIterator missing on an open shard: %r" % r)
                got += r["Records"]
                it = r["NextShardIterator"]
                if not r["Records"]:
                    break
            eq(view(got), recs, "records read with Limit 3")
            # at the tip: empty page, still a NextShardIterator
            r = c.get_records(ShardIterator=it)
            eq(r["Records"], [], "records at the tip")
            check(r.get("NextShardIterator"), "NextShardIterator missing at the tip: %r" % r)
            check("MillisBehindLatest" in r, "MillisBehindLatest missing at the tip: %r" % r)
            tip = r["NextShardIterator"]
            new = put_record(Data=b"after-tip", PartitionKey="t",
                             ExplicitHashKey=[s for s in shards if s["ShardId"] == sid][0]["HashKeyRange"]["StartingHashKey"])
            r = c.get_records(ShardIterator=tip)
            eq(view(r["Records"]), [(new["SequenceNumber"], b"after-tip", "t")], "record put after the tip")

        recs = expected[sid]
        with soft("an iterator can be reused and gives the same records"):
            it = it_for("TRIM_HORIZON")
            a = c.get_records(ShardIterator=it, Limit=5)
            b = c.get_records(ShardIterator=it, Limit=5)
            eq(view(b["Records"]), view(a["Records"]), "records of a reused iterator")
            eq(view(a["Records"]), recs[:5], "first 5 records")
            c2 = c.get_records(ShardIterator=a["NextShardIterator"], Limit=5)
            eq(view(c2["Records"]), recs[5:10], "records 5..9 from NextShardIterator")
            c3 = c.get_records(ShardIterator=a["NextShardIterator"], Limit=5)
            eq(view(c3["Records"]), recs[5:10], "records 5..9 from a reused NextShardIterator")

        with soft("AT_SEQUENCE_NUMBER / AFTER_SEQUENCE_NUMBER"):
            eq(view(c.get_records(ShardIterator=it_for("AT_SEQUENCE_NUMBER",
                                                       StartingSequenceNumber=recs[3][0]))["Records"]),
               recs[3:], "AT_SEQUENCE_NUMBER records")
            eq(view(c.get_records(ShardIterator=it_for("AFTER_SEQUENCE_NUMBER",
                                                       StartingSequenceNumber=recs[3][0]))["Records"]),
               recs[4:], "AFTER_SEQUENCE_NUMBER records")
            eq(view(c.get_records(ShardIterator=it_for("AFTER_SEQUENCE_NUMBER",
                                                       StartingSequenceNumber=recs[-1][0]))["Records"]),
               [], "AFTER_SEQUENCE_NUMBER of the last record")

        with soft("LATEST"):
            it = it_for("LATEST")
            r = c.get_records(ShardIterator=it)
            eq(r["Records"], [], "LATEST before new puts")
            new = put_record(Data=b"after-latest", PartitionKey="t",
                             ExplicitHashKey=[s for s in shards if s["ShardId"] == sid][0]["HashKeyRange"]["EndingHashKey"])
            r = c.get_records(ShardIterator=it)
            eq(view(r["Records"]), [(new["SequenceNumber"], b"after-latest", "t")], "LATEST after a put")

        recs = expected[sid]
        with soft("AT_TIMESTAMP"):
            # boto3 sends Timestamp in whole seconds: write the next record just after a boundary
            t = datetime.datetime.fromtimestamp(next_whole_second(), datetime.timezone.utc)
            new = put_record(Data=b"after-ts", PartitionKey="t",
                             ExplicitHashKey=[s for s in shards if s["ShardId"] == sid][0]["HashKeyRange"]["EndingHashKey"])
            eq(view(c.get_records(ShardIterator=it_for("AT_TIMESTAMP", Timestamp=t))["Records"]),
               [(new["SequenceNumber"], b"after-ts", "t")], "AT_TIMESTAMP between puts")
            old = datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc)
            eq(view(c.get_records(ShardIterator=it_for("AT_TIMESTAMP", Timestamp=old))["Records"]),
               expected[sid], "AT_TIMESTAMP before everything")
            r = c.get_records(ShardIterator=it_for("AT_TIMESTAMP", Timestamp=datetime.datetime.now(
                datetime.timezone.utc) - datetime.timedelta(milliseconds=1)))
            check(r.get("NextShardIterator"), "AT_TIMESTAMP at the tip: no NextShardIterator %r" % r)
            future = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
            expect_error(c.get_shard_iterator, "InvalidArgumentException",
                         prefix="The timestampInMillis parameter cannot be greater than the currentTimestampInMillis.",
                         StreamName=M, ShardId=sid, ShardIteratorType="AT_TIMESTAMP", Timestamp=future)
            expect_error(c.get_shard_iterator, "InvalidArgumentException",
                         "Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. "
                         "Current request has no timestamp parameter.",
                         StreamName=M, ShardId=sid, ShardIteratorType="AT_TIMESTAMP")

        with soft("GetShardIterator argument errors (spec §3.5)"):
            pre = ("Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber "
                   "or (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. ")
            expect_error(c.get_shard_iterator, "InvalidArgumentException",
                         pre + "Request specified AT_SEQUENCE_NUMBER and no StartingSequenceNumber.",
                         StreamName=M, ShardId=sid, ShardIteratorType="AT_SEQUENCE_NUMBER")
            expect_error(c.get_shard_iterator, "InvalidArgumentException",
                         pre + "Request specified LATEST and also a StartingSequenceNumber.",
                         StreamName=M, ShardId=sid, ShardIteratorType="LATEST", StartingSequenceNumber=recs[0][0])
            other = SHARD % ((int(sid[-12:]) + 1) % 3)
            expect_error(c.get_shard_iterator, "InvalidArgumentException",
                         "Invalid StartingSequenceNumber. It encodes %s, while it was used in a call to a shard "
                         "with %s" % (sid, other),
                         StreamName=M, ShardId=other, ShardIteratorType="AT_SEQUENCE_NUMBER",
                         StartingSequenceNumber=recs[0][0])
            expect_error(c.get_shard_iterator, "ResourceNotFoundException",
                         "Shard shardId-000000000009 in stream %s under account %s does not exist" % (M, ACCOUNT),
                         StreamName=M, ShardId="shardId-000000000009", ShardIteratorType="TRIM_HORIZON")
            expect_error(c.get_shard_iterator, "ResourceNotFoundException",
                         "Shard shardId-000000000000 in stream nope under account %s does not exist" % ACCOUNT,
                         StreamName="nope", ShardId="shardId-000000000000", ShardIteratorType="TRIM_HORIZON")
            expect_error(c.get_records, "InvalidArgumentException", "Invalid ShardIterator.",
                         ShardIterator="AAAAAAAAAAGJ" * 10)

        with soft("short shard ids resolve (shardId-1)"):
            it = c.get_shard_iterator(StreamName=M, ShardId="shardId-1", ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
            eq(view(c.get_records(ShardIterator=it)["Records"]), expected[SHARD % 1], "records via shardId-1")

        # ---- StreamARN instead of StreamName -----------------------------------------------------
        arn = stream_arn(M)
        with soft("StreamARN accepted instead of StreamName"):
            eq(c.describe_stream_summary(StreamARN=arn)["StreamDescriptionSummary"]["StreamName"], M,
               "DescribeStreamSummary by ARN")
            eq(c.describe_stream(StreamARN=arn)["StreamDescription"]["StreamName"], M, "DescribeStream by ARN")
            eq(len(c.list_shards(StreamARN=arn)["Shards"]), 3, "ListShards by ARN")
            r = put_record(StreamARN=arn, Data=b"by-arn", PartitionKey="a")
            put_records([{"Data": b"by-arn-batch", "PartitionKey": "b"}], StreamARN=arn)
            it = c.get_shard_iterator(StreamARN=arn, ShardId=r["ShardId"], ShardIteratorType="AT_SEQUENCE_NUMBER",
                                      StartingSequenceNumber=r["SequenceNumber"])["ShardIterator"]
            got = c.get_records(ShardIterator=it, StreamARN=arn)["Records"]
            eq([x["Data"] for x in got][:1], [b"by-arn"], "GetRecords by ARN")
            expect_error(c.describe_stream_summary, "ResourceNotFoundException", StreamARN=stream_arn("nope"))

        # ---- paging -------------------------------------------------------------------------------
        names = [M] + ["pg-%d" % i for i in range(5)]
        for n in names[1:]:
            c.create_stream(StreamName=n, ShardCount=1)
        for n in names[1:]:
            wait_active(c, n)
        F = "b-five"
        create_active(c, F, 5)
        names = sorted(names + [F])

        with soft("ListStreams lists all names sorted"):
            eq(c.list_streams()["StreamNames"], names, "ListStreams StreamNames")

        with soft("ListStreams Limit + ExclusiveStartStreamName"):
            got, start = [], None
            for _ in range(10):
                kw = {"Limit": 2}
                if start:
                    kw["ExclusiveStartStreamName"] = start
                r = c.list_streams(**kw)
                check(len(r["StreamNames"]) <= 2, "Limit 2 gave %r" % r["StreamNames"])
                got += r["StreamNames"]
                if not r["HasMoreStreams"]:
                    break
                start = r["StreamNames"][-1]
            eq(got, names, "names paged by ExclusiveStartStreamName")
            eq(c.list_streams(ExclusiveStartStreamName="pg-1a")["StreamNames"], ["pg-2", "pg-3", "pg-4"],
               "ExclusiveStartStreamName of a name that does not exist")

        with soft("ListStreams NextToken"):
            r = c.list_streams(Limit=3)
            eq(r["StreamNames"], names[:3], "first page")
            eq(r["HasMoreStreams"], True, "HasMoreStreams on the first page")
            check(r.get("NextToken"), "no NextToken while HasMoreStreams: %r" % r)
            got = list(r["StreamNames"])
            for _ in range(10):
                r = c.list_streams(NextToken=r["NextToken"], Limit=3)
                got += r["StreamNames"]
                if not r["HasMoreStreams"]:
                    check("NextToken" not in r, "NextToken on the last page: %r" % r)
                    break
                check(r.get("NextToken"), "no NextToken while HasMoreStreams: %r" % r)
            eq(got, names, "names paged by NextToken")
            pages = c.get_paginator("list_streams").paginate(PaginationConfig={"PageSize": 2})
            eq([n for p in pages for n in p["StreamNames"]], names, "names from the boto3 paginator")

        five = [SHARD % i for i in range(5)]
        with soft("ListShards MaxResults + NextToken"):
            r = c.list_shards(StreamName=F, MaxResults=2)
            eq([s["ShardId"] for s in r["Shards"]], five[:2], "first page")
            check(r.get("NextToken"), "no NextToken after the first page: %r" % r)
            got = [s["ShardId"] for s in r["Shards"]]
            for _ in range(10):
                r = c.list_shards(NextToken=r["NextToken"], MaxResults=2)
                got += [s["ShardId"] for s in r["Shards"]]
                if not r.get("NextToken"):
                    break
            eq(got, five, "shards paged by NextToken")
            eq([s["ShardId"] for s in c.list_shards(StreamName=F, ExclusiveStartShardId=five[2])["Shards"]],
               five[3:], "ListShards ExclusiveStartShardId")
            tok = c.list_shards(StreamName=F, MaxResults=1)["NextToken"]
            expect_error(c.list_shards, "InvalidArgumentException",
                         "NextToken and StreamName cannot be provided together.", StreamName=F, NextToken=tok)

        with soft("DescribeStream Limit + ExclusiveStartShardId"):
            r = c.describe_stream(StreamName=F, Limit=2)["StreamDescription"]
            eq([s["ShardId"] for s in r["Shards"]], five[:2], "first page")
            eq(r["HasMoreShards"], True, "HasMoreShards on the first page")
            r = c.describe_stream(StreamName=F, Limit=2, ExclusiveStartShardId=five[1])["StreamDescription"]
            eq([s["ShardId"] for s in r["Shards"]], five[2:4], "second page")
            eq(r["HasMoreShards"], True, "HasMoreShards on the second page")
            r = c.describe_stream(StreamName=F, Limit=2, ExclusiveStartShardId=five[3])["StreamDescription"]
            eq([s["ShardId"] for s in r["Shards"]], five[4:], "last page")
            eq(r["HasMoreShards"], False, "HasMoreShards on the last page")
            pages = c.get_paginator("describe_stream").paginate(StreamName=F, PaginationConfig={"PageSize": 2})
            eq([s["ShardId"] for p in pages for s in p["StreamDescription"]["Shards"]], five,
               "shards from the boto3 describe_stream paginator")

        # ---- errors, delete ------------------------------------------------------------------------
        with soft("CreateStream twice -> ResourceInUseException"):
            expect_error(c.create_stream, "ResourceInUseException",
                         "Stream %s under account %s already exists." % (M, ACCOUNT), StreamName=M, ShardCount=1)

        with soft("DescribeStream of a missing stream"):
            expect_error(c.describe_stream, "ResourceNotFoundException",
                         "Stream nope under account %s not found." % ACCOUNT, StreamName="nope")
            expect_error(c.put_record, "ResourceNotFoundException",
                         "Stream nope under account %s not found." % ACCOUNT, StreamName="nope",
                         Data=b"x", PartitionKey="k")

        with soft("DeleteStream then the stream disappears"):
            c.delete_stream(StreamName="pg-0")
            try:
                st = c.describe_stream_summary(StreamName="pg-0")["StreamDescriptionSummary"]["StreamStatus"]
                eq(st, "DELETING", "status right after DeleteStream")
            except ClientError as e:
                eq(e.response["Error"]["Code"], "ResourceNotFoundException", "error right after DeleteStream")
            eq(wait_gone(c, "pg-0"), "Stream pg-0 under account %s not found." % ACCOUNT, "not-found message")
            check("pg-0" not in c.list_streams()["StreamNames"], "pg-0 still listed after deletion")
            expect_error(c.put_record, "ResourceNotFoundException", StreamName="pg-0", Data=b"x", PartitionKey="k")
            expect_error(c.delete_stream, "ResourceNotFoundException",
                         "Stream pg-0 under account %s not found." % ACCOUNT, StreamName="pg-0")

        with soft("a deleted name can be created again, empty"):
            create_active(c, "pg-0", 1)
            eq(read_shard(c, "pg-0", SHARD % 0), [], "records of the re-created stream")

        check(kd.alive(), "kinesind died")

    # ---- shard limit -----------------------------------------------------------------------------
    with Kinesind(shard_limit=3, create_ms=300) as kd:
        c = boto3_client(kd.endpoint)
        lim = ("This request would exceed the shard limit for the account %s in us-east-1. Current shard count for "
               "the account: %d. Limit: 3. Number of additional shards that would have resulted from this request: "
               "%d. Refer to the AWS Service Limits page (http://docs.aws.amazon.com/general/latest/gr/"
               "aws_service_limits.html) for current limits and how to request higher limits.")
        with soft("--shard-limit 3: a 4-shard stream -> LimitExceededException"):
            expect_error(c.create_stream, "LimitExceededException", lim % (ACCOUNT, 0, 4),
                         StreamName="big", ShardCount=4)
            check("big" not in c.list_streams()["StreamNames"], "the refused stream was created")

        with soft("CREATING is observable; writes during CREATING -> ResourceNotFoundException"):
            c.create_stream(StreamName="three", ShardCount=3)
            eq(c.describe_stream_summary(StreamName="three")["StreamDescriptionSummary"]["StreamStatus"],
               "CREATING", "status right after CreateStream with --create-stream-ms 300")
            expect_error(c.put_record, "ResourceNotFoundException",
                         "Stream three under account %s not found." % ACCOUNT,
                         StreamName="three", Data=b"x", PartitionKey="k")
            wait_active(c, "three")
            c.put_record(StreamName="three", Data=b"x", PartitionKey="k")

        with soft("--shard-limit 3: one more shard -> LimitExceededException"):
            expect_error(c.create_stream, "LimitExceededException", lim % (ACCOUNT, 3, 1),
                         StreamName="one", ShardCount=1)


main(test)
