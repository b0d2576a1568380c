"""boto3 (and the AWS CLI) against the operations beyond produce/consume: tags (by stream and by
resource ARN), retention, enhanced monitoring, encryption, stream mode, record size, warm
throughput, DescribeLimits, account settings, resource policies, consumers, ListShards
ShardFilter / paging, SplitShard / MergeShards / UpdateShardCount argument and limit errors
(spec §2, §3.5, §4.8, §4.10-§4.12)."""

import datetime
import json
import re
import time

from botocore.exceptions import ClientError

from kn import (ACCOUNT, Kinesind, aws_ok, boto3_client, call, check, create_active, eq, expect_error, fail,
                main, soft, stream_arn, wait_active, wait_gone)

SHARD = "shardId-%012d"
MAX_HASH = 2 ** 128 - 1
METRICS = ["IncomingBytes", "IncomingRecords", "OutgoingBytes", "OutgoingRecords",
           "WriteProvisionedThroughputExceeded", "ReadProvisionedThroughputExceeded", "IteratorAgeMilliseconds"]
NOT_FOUND = "Stream %s under account " + ACCOUNT + " not found."


def summary(c, name):
    return c.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]


def status(c, name):
    return summary(c, name)["StreamStatus"]


def ids(shards):
    return [s["ShardId"] for s in shards]


def tags_of(c, name, **kw):
    r = c.list_tags_for_stream(StreamName=name, **kw)
    return [(t["Key"], t.get("Value")) for t in r["Tags"]], r["HasMoreTags"]


def wait_consumer(c, arn, want, timeout=10.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = c.describe_stream_consumer(ConsumerARN=arn)["ConsumerDescription"]["ConsumerStatus"]
        if last == want:
            return
        time.sleep(0.02)
    fail("consumer %s not %s after %.0fs (last %s)" % (arn, want, timeout, last))


def wait_consumer_gone(c, arn, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            c.describe_stream_consumer(ConsumerARN=arn)
        except ClientError as e:
            eq(e.response["Error"]["Code"], "ResourceNotFoundException", "error while waiting for deregistration")
            return
        time.sleep(0.02)
    fail("consumer %s still there after %.0fs" % (arn, timeout))


def test():
    with Kinesind(shard_limit=60, update_ms=100) as kd:
        c = boto3_client(kd.endpoint)
        ep = kd.endpoint
        S = "ops"
        ARN = stream_arn(S)

        # ---- tags by stream ----------------------------------------------------------------------
        with soft("CreateStream Tags are set with the stream"):
            c.create_stream(StreamName=S, ShardCount=2, Tags={"created": "yes"})
            wait_active(c, S)
            eq(tags_of(c, S), ([("created", "yes")], False), "tags after CreateStream with Tags")
        wait_active(c, S)

        with soft("AddTagsToStream / overwrite / RemoveTagsFromStream"):
            c.add_tags_to_stream(StreamName=S, Tags={"b": "2", "a": "1", "empty": ""})
            c.add_tags_to_stream(StreamARN=ARN, Tags={"a": "one"})
            eq(tags_of(c, S), ([("a", "one"), ("b", "2"), ("created", "yes"), ("empty", "")], False),
               "tags after adding and overwriting")
            c.remove_tags_from_stream(StreamName=S, TagKeys=["b", "never-there"])
            c.remove_tags_from_stream(StreamARN=ARN, TagKeys=["created"])
            eq(tags_of(c, S), ([("a", "one"), ("empty", "")], False), "tags after removing")
            c.remove_tags_from_stream(StreamName=S, TagKeys=["a", "empty"])
            eq(tags_of(c, S), ([], False), "tags after removing all")

        T = "tag-sort"
        create_active(c, T, 1)
        order = [" ", "+", "/", "0", "=", "@", "Zb", "_", "a", "\u00ff"]
        with soft("ListTagsForStream sorts keys by code unit (spec §4.10)"):
            c.add_tags_to_stream(StreamName=T, Tags={k: "v" + str(i) for i, k in
                                                     enumerate(["a", "=", "\u00ff", "Zb", " ", "0", "_", "@", "/", "+"])})
            got, more = tags_of(c, T)
            eq([k for k, _ in got], order, "tag key order")
            eq(more, False, "HasMoreTags")

        with soft("ListTagsForStream Limit / ExclusiveStartTagKey / HasMoreTags paging"):
            got, more = tags_of(c, T, Limit=3)
            eq(([k for k, _ in got], more), (order[:3], True), "first page of 3")
            got, more = tags_of(c, T, Limit=3, ExclusiveStartTagKey=order[2])
            eq(([k for k, _ in got], more), (order[3:6], True), "second page of 3")
            got, more = tags_of(c, T, Limit=4, ExclusiveStartTagKey=order[5])
            eq(([k for k, _ in got], more), (order[6:10], False), "last page (exactly the rest)")
            got, more = tags_of(c, T, ExclusiveStartTagKey="0a")   # not a key: the keys after it
            eq(([k for k, _ in got], more), (order[4:], False), "ExclusiveStartTagKey that is not a key")
            got, more = tags_of(c, T, ExclusiveStartTagKey="\u00ff")
            eq((got, more), ([], False), "ExclusiveStartTagKey = the last key")
            # paging by hand visits every tag once
            seen, start = [], None
            for _ in range(20):
                kw = {"Limit": 1}
                if start is not None:
                    kw["ExclusiveStartTagKey"] = start
                got, more = tags_of(c, T, **kw)
                seen += got
                if not more:
                    break
                start = got[-1][0]
            eq([k for k, _ in seen], order, "keys paged one at a time")

        with soft("tags with characters AWS refuses (spec §3.5)"):
            bad = "Some tags contain invalid characters. Valid characters: Unicode letters, digits, white space, " \
                  "_ . / = + - % @."
            for tags in ({"semi;colon": "x"}, {"k": "comma,"}, {"tab\t": "x"}, {"k": "new\nline"}):
                expect_error(c.add_tags_to_stream, "InvalidArgumentException", bad, StreamName=T, Tags=tags)
            expect_error(c.remove_tags_from_stream, "InvalidArgumentException", bad, StreamName=T,
                         TagKeys=["semi;colon"])
            pct = ("Failed to %s stream %s under account %s because some tags contained illegal characters. The "
                   "allowed characters are Unicode letters, white-spaces, '_',',','/','=','+','-','@'.")
            expect_error(c.add_tags_to_stream, "InvalidArgumentException", pct % ("add tags to", T, ACCOUNT),
                         StreamName=T, Tags={"100%": "x"})
            expect_error(c.add_tags_to_stream, "InvalidArgumentException", pct % ("add tags to", T, ACCOUNT),
                         StreamName=T, Tags={"k": "50%"})
            expect_error(c.remove_tags_from_stream, "InvalidArgumentException",
                         pct % ("remove tags from", T, ACCOUNT), StreamName=T, TagKeys=["100%"])
            # unicode letters are fine
            c.add_tags_to_stream(StreamName=T, Tags={"\u00e9t\u00e9": "\u4e2d\u6587 ok"})
            c.remove_tags_from_stream(StreamName=T, TagKeys=["\u00e9t\u00e9"])
            eq(len(tags_of(c, T)[0]), 10, "tag count after the refused calls")

        with soft("AddTagsToStream: at most 50 tags per stream"):
            c.add_tags_to_stream(StreamName=T, Tags={"k%02d" % i: str(i) for i in range(40)})   # 50 now
            eq(len(tags_of(c, T, Limit=50)[0]), 50, "50 tags")
            c.add_tags_to_stream(StreamName=T, Tags={"k00": "overwritten"})                      # still 50
            expect_error(c.add_tags_to_stream, "InvalidArgumentException",
                         "Failed to add tags to stream %s under account %s because a given stream cannot have "
                         "more than 10 tags associated with it." % (T, ACCOUNT),
                         StreamName=T, Tags={"one-too-many": "x"})
        with soft("the 51st tag is refused and nothing of the call is applied"):
            got, more = tags_of(c, T, Limit=50)
            eq((len(got), more), (50, False), "tag count after the refused 51st tag")
            check(("k00", "overwritten") in got, "overwrite of k00 lost: %r" % got[:12])

        with soft("ListTagsForStream on a missing stream"):
            expect_error(c.list_tags_for_stream, "ResourceNotFoundException", NOT_FOUND % "nope", StreamName="nope")
            expect_error(c.add_tags_to_stream, "ResourceNotFoundException", NOT_FOUND % "nope", StreamName="nope",
                         Tags={"a": "b"})

        with soft("aws CLI add-tags-to-stream / list-tags-for-stream / remove-tags-from-stream"):
            aws_ok(ep, "kinesis", "add-tags-to-stream", "--stream-name", S, "--tags", "team=data,env=test")
            out = aws_ok(ep, "kinesis", "list-tags-for-stream", "--stream-name", S)
            eq(out, {"Tags": [{"Key": "env", "Value": "test"}, {"Key": "team", "Value": "data"}],
                     "HasMoreTags": False}, "list-tags-for-stream output")
            aws_ok(ep, "kinesis", "remove-tags-from-stream", "--stream-name", S, "--tag-keys", "env", "team")
            eq(aws_ok(ep, "kinesis", "list-tags-for-stream", "--stream-name", S)["Tags"], [], "tags after CLI remove")

        # ---- tags by resource ARN -------------------------------------------------------------------
        with soft("TagResource / UntagResource / ListTagsForResource on a stream ARN"):
            c.tag_resource(ResourceARN=ARN, Tags={"x": "1", "y": "2"})
            eq(c.list_tags_for_resource(ResourceARN=ARN)["Tags"], [{"Key": "x", "Value": "1"}, {"Key": "y", "Value": "2"}],
               "ListTagsForResource")
            eq(tags_of(c, S), ([("x", "1"), ("y", "2")], False), "resource tags seen by ListTagsForStream")
            c.untag_resource(ResourceARN=ARN, TagKeys=["x", "not-there"])
            eq(c.list_tags_for_resource(ResourceARN=ARN)["Tags"], [{"Key": "y", "Value": "2"}], "after UntagResource")
            c.untag_resource(ResourceARN=ARN, TagKeys=["y"])
            eq(c.list_tags_for_resource(ResourceARN=ARN)["Tags"], [], "after untagging everything")
        with soft("TagResource errors"):
            expect_error(c.tag_resource, "ResourceNotFoundException", NOT_FOUND % "nope",
                         ResourceARN=stream_arn("nope"), Tags={"a": "b"})
            expect_error(c.list_tags_for_resource, "ResourceNotFoundException", NOT_FOUND % "nope",
                         ResourceARN=stream_arn("nope"))
            expect_error(c.tag_resource, "InvalidArgumentException",
                         "Some tags contain invalid characters. Valid characters: Unicode letters, digits, white "
                         "space, _ . / = + - % @.", ResourceARN=ARN, Tags={"a;b": "c"})
        with soft("TagResource past 50 tags -> InvalidArgumentException"):
            expect_error(c.tag_resource, "InvalidArgumentException", ResourceARN=stream_arn(T), Tags={"zz": "1"})
            eq(len(c.list_tags_for_resource(ResourceARN=stream_arn(T))["Tags"]), 50, "tags of a full stream")

        # ---- retention -----------------------------------------------------------------------------
        with soft("Increase/DecreaseStreamRetentionPeriod"):
            eq(summary(c, S)["RetentionPeriodHours"], 24, "default retention")
            c.increase_stream_retention_period(StreamName=S, RetentionPeriodHours=48)
            wait_active(c, S)
            eq(summary(c, S)["RetentionPeriodHours"], 48, "retention after increase")
            eq(c.describe_stream(StreamName=S)["StreamDescription"]["RetentionPeriodHours"], 48,
               "DescribeStream retention")
            c.increase_stream_retention_period(StreamName=S, RetentionPeriodHours=48)   # equal: accepted
            c.increase_stream_retention_period(StreamARN=ARN, RetentionPeriodHours=8760)
            wait_active(c, S)
            eq(summary(c, S)["RetentionPeriodHours"], 8760, "retention at the maximum")
            c.decrease_stream_retention_period(StreamName=S, RetentionPeriodHours=8760)  # equal: accepted
            c.decrease_stream_retention_period(StreamName=S, RetentionPeriodHours=48)
            wait_active(c, S)
            eq(summary(c, S)["RetentionPeriodHours"], 48, "retention after decrease")
        with soft("retention errors (spec §3.5)"):
            expect_error(c.increase_stream_retention_period, "InvalidArgumentException",
                         "Requested retention period (30 hours) for stream %s can not be shorter than existing "
                         "retention period (48 hours). Use DecreaseRetentionPeriod API." % S,
                         StreamName=S, RetentionPeriodHours=30)
            expect_error(c.decrease_stream_retention_period, "InvalidArgumentException",
                         "Requested retention period (72 hours) for stream %s can not be longer than existing "
                         "retention period (48 hours). Use IncreaseRetentionPeriod API." % S,
                         StreamName=S, RetentionPeriodHours=72)
            expect_error(c.decrease_stream_retention_period, "InvalidArgumentException",
                         "Minimum allowed retention period is 24 hours. Requested retention period (23 hours) is "
                         "too short.", StreamName=S, RetentionPeriodHours=23)
            expect_error(c.increase_stream_retention_period, "InvalidArgumentException",
                         prefix="Maximum allowed retention period is 8760 hours.",
                         StreamName=S, RetentionPeriodHours=8761)
            expect_error(c.increase_stream_retention_period, "ResourceNotFoundException", NOT_FOUND % "nope",
                         StreamName="nope", RetentionPeriodHours=48)
            eq(summary(c, S)["RetentionPeriodHours"], 48, "retention after the refused calls")
        with soft("aws CLI increase-/decrease-stream-retention-period"):
            eq(aws_ok(ep, "kinesis", "increase-stream-retention-period", "--stream-name", S,
                      "--retention-period-hours", "100"), "", "CLI output")
            wait_active(c, S)
            eq(summary(c, S)["RetentionPeriodHours"], 100, "retention after the CLI increase")
            aws_ok(ep, "kinesis", "decrease-stream-retention-period", "--stream-name", S,
                   "--retention-period-hours", "24")
            wait_active(c, S)
            eq(summary(c, S)["RetentionPeriodHours"], 24, "retention after the CLI decrease")

        # ---- enhanced monitoring -------------------------------------------------------------------
        with soft("Enable/DisableEnhancedMonitoring"):
            eq(summary(c, S)["EnhancedMonitoring"], [{"ShardLevelMetrics": []}], "fresh EnhancedMonitoring")
            r = c.enable_enhanced_monitoring(StreamName=S, ShardLevelMetrics=["IncomingBytes"])
            eq((r["StreamName"], r["StreamARN"], r["CurrentShardLevelMetrics"], r["DesiredShardLevelMetrics"]),
               (S, ARN, [], ["IncomingBytes"]), "enable IncomingBytes")
            wait_active(c, S)
            r = c.enable_enhanced_monitoring(StreamARN=ARN, ShardLevelMetrics=["ALL"])
            eq(r["CurrentShardLevelMetrics"], ["IncomingBytes"], "Current before ALL")
            eq(sorted(r["DesiredShardLevelMetrics"]), sorted(METRICS), "ALL expands to the seven metrics")
            wait_active(c, S)
            eq(sorted(summary(c, S)["EnhancedMonitoring"][0]["ShardLevelMetrics"]), sorted(METRICS),
               "DescribeStreamSummary metrics")
            eq(sorted(c.describe_stream(StreamName=S)["StreamDescription"]["EnhancedMonitoring"][0]
                      ["ShardLevelMetrics"]), sorted(METRICS), "DescribeStream metrics")
            r = c.disable_enhanced_monitoring(StreamName=S, ShardLevelMetrics=["IncomingBytes", "OutgoingBytes"])
            eq(sorted(r["CurrentShardLevelMetrics"]), sorted(METRICS), "Current before disable")
            eq(sorted(r["DesiredShardLevelMetrics"]),
               sorted(set(METRICS) - {"IncomingBytes", "OutgoingBytes"}), "Desired after disable")
            wait_active(c, S)
            r = c.disable_enhanced_monitoring(StreamName=S, ShardLevelMetrics=["ALL"])
            eq(r["DesiredShardLevelMetrics"], [], "Desired after disabling ALL")
            wait_active(c, S)
            eq(summary(c, S)["EnhancedMonitoring"], [{"ShardLevelMetrics": []}], "EnhancedMonitoring after ALL off")
        with soft("EnableEnhancedMonitoring with an unknown metric -> ValidationException"):
            expect_error(c.enable_enhanced_monitoring, "ValidationException",
                         "1 validation error detected: Value '[Bogus, ALL]' at 'shardLevelMetrics' failed to satisfy "
                         "constraint: Member must satisfy constraint: [Member must satisfy enum value set: [%s, ALL]]"
                         % ", ".join(METRICS), StreamName=S, ShardLevelMetrics=["Bogus", "ALL"])
            eq(summary(c, S)["EnhancedMonitoring"], [{"ShardLevelMetrics": []}], "metrics after the refused call")
        with soft("EnableEnhancedMonitoring on a missing stream"):
            expect_error(c.enable_enhanced_monitoring, "ResourceNotFoundException", NOT_FOUND % "nope",
                         StreamName="nope", ShardLevelMetrics=["ALL"])
        with soft("aws CLI enable-enhanced-monitoring"):
            out = aws_ok(ep, "kinesis", "enable-enhanced-monitoring", "--stream-name", S,
                         "--shard-level-metrics", "IncomingRecords", "OutgoingRecords")
            eq((out["StreamName"], out["CurrentShardLevelMetrics"], sorted(out["DesiredShardLevelMetrics"])),
               (S, [], ["IncomingRecords", "OutgoingRecords"]), "CLI output")
            wait_active(c, S)
            c.disable_enhanced_monitoring(StreamName=S, ShardLevelMetrics=["ALL"])
            wait_active(c, S)

        # ---- encryption -----------------------------------------------------------------------------
        with soft("StartStreamEncryption: UPDATING, then KMS + KeyId; writes say EncryptionType KMS"):
            s = summary(c, S)
            eq(s.get("EncryptionType"), "NONE", "EncryptionType before")
            check("KeyId" not in s, "KeyId before encryption: %r" % s)
            r = c.put_record(StreamName=S, Data=b"plain", PartitionKey="p")
            check("EncryptionType" not in r, "PutRecord on an unencrypted stream says %r" % r.get("EncryptionType"))
            c.start_stream_encryption(StreamName=S, EncryptionType="KMS", KeyId="alias/aws/kinesis")
            eq(status(c, S), "UPDATING", "status right after StartStreamEncryption")
            wait_active(c, S)
            s = summary(c, S)
            eq((s.get("EncryptionType"), s.get("KeyId")), ("KMS", "alias/aws/kinesis"), "summary encryption")
            d = c.describe_stream(StreamName=S)["StreamDescription"]
            eq((d.get("EncryptionType"), d.get("KeyId")), ("KMS", "alias/aws/kinesis"), "DescribeStream encryption")
            r = c.put_record(StreamName=S, Data=b"secret", PartitionKey="p")
            eq(r.get("EncryptionType"), "KMS", "PutRecord EncryptionType")
            r = c.put_records(StreamName=S, Records=[{"Data": b"s2", "PartitionKey": "p"}])
            eq(r.get("EncryptionType"), "KMS", "PutRecords EncryptionType")
            it = c.get_shard_iterator(StreamName=S, ShardId=r["Records"][0]["ShardId"],
                                      ShardIteratorType="AT_SEQUENCE_NUMBER",
                                      StartingSequenceNumber=r["Records"][0]["SequenceNumber"])["ShardIterator"]
            recs = c.get_records(ShardIterator=it)["Records"]
            eq([(x["Data"], x.get("EncryptionType")) for x in recs], [(b"s2", "KMS")],
               "records written while encrypted carry EncryptionType KMS")
        with soft("StartStreamEncryption errors"):
            expect_error(c.start_stream_encryption, "InvalidArgumentException", StreamName=S,
                         EncryptionType="NONE", KeyId="alias/aws/kinesis")
            expect_error(c.start_stream_encryption, "ResourceNotFoundException", NOT_FOUND % "nope",
                         StreamName="nope", EncryptionType="KMS", KeyId="alias/aws/kinesis")
        with soft("StopStreamEncryption: UPDATING, then NONE without KeyId"):
            wait_active(c, S)
            c.stop_stream_encryption(StreamName=S, EncryptionType="KMS", KeyId="alias/aws/kinesis")
            eq(status(c, S), "UPDATING", "status right after StopStreamEncryption")
            expect_error(c.start_stream_encryption, "ResourceInUseException", StreamName=S,
                         EncryptionType="KMS", KeyId="alias/aws/kinesis")
            wait_active(c, S)
            s = summary(c, S)
            eq(s.get("EncryptionType"), "NONE", "EncryptionType after stop")
            check("KeyId" not in s, "KeyId after stop: %r" % s)
            r = c.put_record(StreamName=S, Data=b"plain again", PartitionKey="p")
            check("EncryptionType" not in r, "PutRecord after stop says %r" % r.get("EncryptionType"))

        # ---- stream mode, warm throughput, record size ----------------------------------------------
        OD = "od"
        with soft("CreateStream ON_DEMAND without ShardCount: 4 shards"):
            c.create_stream(StreamName=OD, StreamModeDetails={"StreamMode": "ON_DEMAND"})
            s = wait_active(c, OD)
            eq(s["StreamModeDetails"], {"StreamMode": "ON_DEMAND"}, "StreamModeDetails")
            eq(s["OpenShardCount"], 4, "OpenShardCount")
            eq(len(c.list_shards(StreamName=OD)["Shards"]), 4, "ListShards count")
            eq(summary(c, S)["StreamModeDetails"], {"StreamMode": "PROVISIONED"}, "default StreamModeDetails")
        wait_active(c, OD)
        with soft("CreateStream PROVISIONED without ShardCount -> ValidationException"):
            expect_error(c.create_stream, "ValidationException", StreamName="no-count")
            expect_error(c.create_stream, "ValidationException", StreamName="no-count",
                         StreamModeDetails={"StreamMode": "PROVISIONED"})
        with soft("resharding an ON_DEMAND stream -> ValidationException"):
            expect_error(c.split_shard, "ValidationException", StreamName=OD, ShardToSplit=SHARD % 0,
                         NewStartingHashKey=str(2 ** 60))
            expect_error(c.merge_shards, "ValidationException", StreamName=OD, ShardToMerge=SHARD % 0,
                         AdjacentShardToMerge=SHARD % 1)
            expect_error(c.update_shard_count, "ValidationException", StreamName=OD, TargetShardCount=5,
                         ScalingType="UNIFORM_SCALING")
            eq(status(c, OD), "ACTIVE", "status after the refused calls")
        with soft("UpdateStreamWarmThroughput (ON_DEMAND only)"):
            r = c.update_stream_warm_throughput(StreamName=OD, WarmThroughputMiBps=10)
            eq((r["StreamName"], r["StreamARN"], r["WarmThroughput"].get("TargetMiBps")),
               (OD, stream_arn(OD), 10), "UpdateStreamWarmThroughput answer")
            wait_active(c, OD)
            eq(summary(c, OD).get("WarmThroughput", {}).get("TargetMiBps"), 10, "summary WarmThroughput")
            expect_error(c.update_stream_warm_throughput, "ValidationException", StreamName=S,
                         WarmThroughputMiBps=10)
        with soft("UpdateStreamMode PROVISIONED <-> ON_DEMAND"):
            c.update_stream_mode(StreamARN=ARN, StreamModeDetails={"StreamMode": "ON_DEMAND"})
            eq(status(c, S), "UPDATING", "status right after UpdateStreamMode")
            s = wait_active(c, S)
            eq(s["StreamModeDetails"], {"StreamMode": "ON_DEMAND"}, "mode after update")
            eq(c.describe_stream(StreamName=S)["StreamDescription"]["StreamModeDetails"],
               {"StreamMode": "ON_DEMAND"}, "DescribeStream mode")
            expect_error(c.split_shard, "ValidationException", StreamName=S, ShardToSplit=SHARD % 0,
                         NewStartingHashKey=str(2 ** 60))
            c.update_stream_mode(StreamARN=ARN, StreamModeDetails={"StreamMode": "PROVISIONED"})
            s = wait_active(c, S)
            eq(s["StreamModeDetails"], {"StreamMode": "PROVISIONED"}, "mode after going back")
            expect_error(c.update_stream_mode, "ResourceNotFoundException", NOT_FOUND % "nope",
                         StreamARN=stream_arn("nope"), StreamModeDetails={"StreamMode": "ON_DEMAND"})
        with soft("UpdateMaxRecordSize"):
            eq(summary(c, S).get("MaxRecordSizeInKiB"), 1024, "default MaxRecordSizeInKiB")
            c.update_max_record_size(StreamARN=ARN, MaxRecordSizeInKiB=2048)
            wait_active(c, S)
            eq(summary(c, S).get("MaxRecordSizeInKiB"), 2048, "MaxRecordSizeInKiB after update")
            r = call(kd.port, "UpdateMaxRecordSize", {"StreamARN": ARN, "MaxRecordSizeInKiB": 1023})
            eq((r.status, r.json()), (400, {"__type": "ValidationException", "message":
                                             "1 validation error detected: Value '1023' at 'maxRecordSizeInKiB' failed "
                                             "to satisfy constraint: Member must have value greater than or equal to "
                                             "1024"}), "MaxRecordSizeInKiB 1023")
        with soft("a 1.5 MiB record fits a stream with MaxRecordSizeInKiB 2048 (spec §4.7)"):
            wait_active(c, S)
            r = c.put_record(StreamName=S, Data=b"x" * (1536 * 1024), PartitionKey="big")
            check(r.get("SequenceNumber"), "PutRecord of 1.5 MiB: %r" % r)
        with soft("a record above MaxRecordSizeInKiB is refused"):
            big = "1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=%d cap=%d]' at '%s' failed " \
                  "to satisfy constraint: Member must have length less than or equal to %d"
            n = 2048 * 1024 + 1
            expect_error(c.put_record, "ValidationException", big % (n, n, "data", n - 1),
                         StreamName=S, Data=b"x" * n, PartitionKey="big")
            expect_error(c.put_records, "ValidationException", big % (n, n, "records.1.member.data", n - 1),
                         StreamName=S, Records=[{"Data": b"x" * n, "PartitionKey": "big"}])
            c.update_max_record_size(StreamARN=ARN, MaxRecordSizeInKiB=1024)
            wait_active(c, S)
            n = 1024 * 1024 + 1
            expect_error(c.put_record, "ValidationException", big % (n, n, "data", n - 1),
                         StreamName=S, Data=b"x" * n, PartitionKey="big")

        # ---- limits and account settings --------------------------------------------------------------
        with soft("DescribeLimits"):
            r = c.describe_limits()
            open_total = sum(summary(c, n)["OpenShardCount"] for n in c.list_streams()["StreamNames"])
            eq((r["ShardLimit"], r["OpenShardCount"], r["OnDemandStreamCount"]), (60, open_total, 1),
               "ShardLimit / OpenShardCount / OnDemandStreamCount")
            check(isinstance(r["OnDemandStreamCountLimit"], int) and r["OnDemandStreamCountLimit"] >= 1,
                  "OnDemandStreamCountLimit %r" % r.get("OnDemandStreamCountLimit"))
            out = aws_ok(ep, "kinesis", "describe-limits")
            eq(out["ShardLimit"], 60, "CLI describe-limits ShardLimit")
        with soft("DescribeAccountSettings / UpdateAccountSettings"):
            r = c.describe_account_settings()
            eq(r["MinimumThroughputBillingCommitment"]["Status"], "DISABLED", "initial commitment status")
            r = c.update_account_settings(MinimumThroughputBillingCommitment={"Status": "ENABLED"})
            m = r["MinimumThroughputBillingCommitment"]
            eq(m["Status"], "ENABLED", "status after enabling")
            now = datetime.datetime.now(datetime.timezone.utc)
            check(abs((m["StartedAt"] - now).total_seconds()) < 60, "StartedAt %r" % m.get("StartedAt"))
            eq(c.describe_account_settings()["MinimumThroughputBillingCommitment"]["Status"], "ENABLED",
               "described status after enabling")
            r = c.update_account_settings(MinimumThroughputBillingCommitment={"Status": "DISABLED"})
            eq(r["MinimumThroughputBillingCommitment"]["Status"], "DISABLED", "status after disabling")
            expect_error(c.update_account_settings, "ValidationException",
                         MinimumThroughputBillingCommitment={"Status": "SOMETIMES"})

        # ---- resource policies -----------------------------------------------------------------------
        policy = json.dumps({"Version": "2012-10-17", "Statement": [{
            "Sid": "s1", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::%s:root" % ACCOUNT},
            "Action": "kinesis:GetRecords", "Resource": ARN}]})
        with soft("Put/Get/DeleteResourcePolicy on a stream"):
            expect_error(c.get_resource_policy, "ResourceNotFoundException", ResourceARN=ARN)
            c.put_resource_policy(ResourceARN=ARN, Policy=policy)
            eq(c.get_resource_policy(ResourceARN=ARN)["Policy"], policy, "GetResourcePolicy")
            policy2 = policy.replace("s1", "s2")
            c.put_resource_policy(ResourceARN=ARN, Policy=policy2)
            eq(c.get_resource_policy(ResourceARN=ARN)["Policy"], policy2, "policy replaced")
            c.delete_resource_policy(ResourceARN=ARN)
            expect_error(c.get_resource_policy, "ResourceNotFoundException", ResourceARN=ARN)
        with soft("resource policy errors"):
            expect_error(c.put_resource_policy, "InvalidArgumentException", ResourceARN=ARN, Policy="not json")
            expect_error(c.put_resource_policy, "ResourceNotFoundException", NOT_FOUND % "nope",
                         ResourceARN=stream_arn("nope"), Policy=policy)

        # ---- consumers --------------------------------------------------------------------------------
        with soft("RegisterStreamConsumer: CREATING, then ACTIVE"):
            r = c.register_stream_consumer(StreamARN=ARN, ConsumerName="c1", Tags={"role": "reader"})["Consumer"]
            eq((r["ConsumerName"], r["ConsumerStatus"]), ("c1", "CREATING"), "Consumer")
            check(re.fullmatch(re.escape(ARN) + r"/consumer/c1:\d{10}", r["ConsumerARN"]),
                  "ConsumerARN %r" % r["ConsumerARN"])
            age = datetime.datetime.now(datetime.timezone.utc) - r["ConsumerCreationTimestamp"]
            check(-2 < age.total_seconds() < 60, "ConsumerCreationTimestamp %r" % r["ConsumerCreationTimestamp"])
            c1 = r["ConsumerARN"]
            d = c.describe_stream_consumer(StreamARN=ARN, ConsumerName="c1")["ConsumerDescription"]
            eq((d["ConsumerName"], d["ConsumerARN"], d["StreamARN"]), ("c1", c1, ARN), "ConsumerDescription")
            wait_consumer(c, c1, "ACTIVE")
            eq(summary(c, S)["ConsumerCount"], 1, "ConsumerCount")
        consumers = {x["ConsumerName"]: x["ConsumerARN"] for x in c.list_stream_consumers(StreamARN=ARN)["Consumers"]}
        c1 = consumers.get("c1")
        with soft("consumer tags by ARN"):
            eq(c.list_tags_for_resource(ResourceARN=c1)["Tags"], [{"Key": "role", "Value": "reader"}],
               "RegisterStreamConsumer Tags")
            c.tag_resource(ResourceARN=c1, Tags={"team": "x"})
            c.untag_resource(ResourceARN=c1, TagKeys=["role"])
            eq(c.list_tags_for_resource(ResourceARN=c1)["Tags"], [{"Key": "team", "Value": "x"}], "consumer tags")
            eq(tags_of(c, S)[0], [], "stream tags are not consumer tags")
        with soft("resource policy on a consumer ARN"):
            c.put_resource_policy(ResourceARN=c1, Policy=policy)
            eq(c.get_resource_policy(ResourceARN=c1)["Policy"], policy, "consumer policy")
            c.delete_resource_policy(ResourceARN=c1)
            expect_error(c.get_resource_policy, "ResourceNotFoundException", ResourceARN=c1)
        with soft("RegisterStreamConsumer errors"):
            expect_error(c.register_stream_consumer, "ResourceInUseException", StreamARN=ARN, ConsumerName="c1")
            expect_error(c.register_stream_consumer, "ResourceNotFoundException", NOT_FOUND % "nope",
                         StreamARN=stream_arn("nope"), ConsumerName="c1")
            expect_error(c.describe_stream_consumer, "ResourceNotFoundException", StreamARN=ARN,
                         ConsumerName="nobody")
        with soft("ListStreamConsumers paging"):
            for i in range(2, 7):
                c.register_stream_consumer(StreamARN=ARN, ConsumerName="c%d" % i)
            pages, seen, tok = 0, [], None
            for _ in range(10):
                kw = {"StreamARN": ARN, "MaxResults": 2}
                if tok:
                    kw["NextToken"] = tok
                r = c.list_stream_consumers(**kw)
                pages += 1
                check(len(r["Consumers"]) <= 2, "MaxResults 2 gave %d" % len(r["Consumers"]))
                seen += [x["ConsumerName"] for x in r["Consumers"]]
                tok = r.get("NextToken")
                if not tok:
                    break
            eq(sorted(seen), ["c%d" % i for i in range(1, 7)], "consumers over all pages")
            eq(pages, 3, "pages of 2")
            out = aws_ok(ep, "kinesis", "list-stream-consumers", "--stream-arn", ARN, "--page-size", "4")
            eq(sorted(x["ConsumerName"] for x in out["Consumers"]), ["c%d" % i for i in range(1, 7)],
               "CLI list-stream-consumers (paginated)")
            eq(summary(c, S)["ConsumerCount"], 6, "ConsumerCount with 6 consumers")
        with soft("DeregisterStreamConsumer by ARN and by StreamARN + name"):
            consumers = {x["ConsumerName"]: x["ConsumerARN"] for x in
                         c.list_stream_consumers(StreamARN=ARN)["Consumers"]}
            wait_consumer(c, consumers["c6"], "ACTIVE")
            c.deregister_stream_consumer(ConsumerARN=consumers["c6"])
            st6 = c.describe_stream_consumer(ConsumerARN=consumers["c6"])["ConsumerDescription"]["ConsumerStatus"]
            eq(st6, "DELETING", "status right after DeregisterStreamConsumer")
            c.deregister_stream_consumer(StreamARN=ARN, ConsumerName="c5")
            wait_consumer_gone(c, consumers["c6"])
            wait_consumer_gone(c, consumers["c5"])
            eq(sorted(x["ConsumerName"] for x in c.list_stream_consumers(StreamARN=ARN)["Consumers"]),
               ["c1", "c2", "c3", "c4"], "consumers after deregistering two")
            expect_error(c.deregister_stream_consumer, "ResourceNotFoundException", ConsumerARN=consumers["c6"])
        with soft("SubscribeToShard on a shard the stream does not have -> ResourceNotFoundException"):
            expect_error(c.subscribe_to_shard, "ResourceNotFoundException", ConsumerARN=c1,
                         ShardId=SHARD % 99, StartingPosition={"Type": "LATEST"})
        with soft("DeleteStream with consumers needs EnforceConsumerDeletion"):
            expect_error(c.delete_stream, "ResourceInUseException", StreamName=S)
            eq(status(c, S), "ACTIVE", "status after the refused DeleteStream")

        # ---- ListShards ShardFilter and paging; reshard argument errors ---------------------------------
        R = "rs"
        create_active(c, R, 2)
        t_before = datetime.datetime.now(datetime.timezone.utc)
        mid = 2 ** 126
        with soft("SplitShard argument errors (spec §3.5)"):
            expect_error(c.split_shard, "InvalidArgumentException",
                         "NewStartingHashKey 1 used in SplitShard() on shard %s in stream %s under account %s is not "
                         "both greater than one plus the shard's StartingHashKey 0 and less than the shard's "
                         "EndingHashKey %d." % (SHARD % 0, R, ACCOUNT, 2 ** 127 - 1),
                         StreamName=R, ShardToSplit=SHARD % 0, NewStartingHashKey="1")
            expect_error(c.split_shard, "ResourceNotFoundException",
                         "Could not find shard %s in stream %s under account %s." % (SHARD % 9, R, ACCOUNT),
                         StreamName=R, ShardToSplit=SHARD % 9, NewStartingHashKey=str(mid))
            expect_error(c.split_shard, "ResourceNotFoundException", NOT_FOUND % "nope",
                         StreamName="nope", ShardToSplit=SHARD % 0, NewStartingHashKey=str(mid))
            expect_error(c.merge_shards, "InvalidArgumentException",
                         "Shards %s and %s in stream %s under account %s are not an adjacent pair of shards "
                         "eligible for merging" % (SHARD % 1, SHARD % 0, R, ACCOUNT),
                         StreamName=R, ShardToMerge=SHARD % 1, AdjacentShardToMerge=SHARD % 0)
        time.sleep(1.1)
        t_mid = datetime.datetime.now(datetime.timezone.utc)
        time.sleep(1.1)
        c.split_shard(StreamName=R, ShardToSplit=SHARD % 0, NewStartingHashKey=str(mid))
        with soft("SplitShard: UPDATING, and a second change meanwhile is refused"):
            eq(status(c, R), "UPDATING", "status right after SplitShard")
            expect_error(c.split_shard, "ResourceInUseException",
                         "Stream %s under account %s not ACTIVE, instead in state UPDATING" % (R, ACCOUNT),
                         StreamName=R, ShardToSplit=SHARD % 1, NewStartingHashKey=str(2 ** 127 + 5))
            eq(ids(c.list_shards(StreamName=R)["Shards"]), [SHARD % 0, SHARD % 1], "shards while UPDATING")
        wait_active(c, R)
        time.sleep(2.2)   # children open 1 s after the split; boto3 sends whole-second timestamps
        t_after = datetime.datetime.now(datetime.timezone.utc)
        with soft("shards after SplitShard"):
            sh = c.list_shards(StreamName=R)["Shards"]
            eq(ids(sh), [SHARD % i for i in range(4)], "shard ids")
            check("EndingSequenceNumber" in sh[0]["SequenceNumberRange"], "parent not closed: %r" % sh[0])
            eq([(s.get("ParentShardId"), s["HashKeyRange"]["StartingHashKey"], s["HashKeyRange"]["EndingHashKey"])
                for s in sh[2:]], [(SHARD % 0, "0", str(mid - 1)), (SHARD % 0, str(mid), str(2 ** 127 - 1))],
               "children")
            expect_error(c.split_shard, "InvalidArgumentException",
                         "Shard %s in stream %s under account %s has already been merged or split, and thus is not "
                         "eligible for merging or splitting." % (SHARD % 0, R, ACCOUNT),
                         StreamName=R, ShardToSplit=SHARD % 0, NewStartingHashKey=str(mid))
        with soft("ListShards ShardFilter types"):
            def lf(**f):
                return ids(c.list_shards(StreamName=R, ShardFilter=f)["Shards"])
            everything = [SHARD % i for i in range(4)]
            eq(ids(c.list_shards(StreamName=R)["Shards"]), everything, "no filter")
            eq(lf(Type="FROM_TRIM_HORIZON"), everything, "FROM_TRIM_HORIZON")
            eq(lf(Type="AT_TRIM_HORIZON"), [SHARD % 0, SHARD % 1], "AT_TRIM_HORIZON")
            eq(lf(Type="AT_LATEST"), [SHARD % 1, SHARD % 2, SHARD % 3], "AT_LATEST")
            eq(lf(Type="AFTER_SHARD_ID", ShardId=SHARD % 1), [SHARD % 2, SHARD % 3], "AFTER_SHARD_ID 1")
            eq(lf(Type="AT_TIMESTAMP", Timestamp=t_mid), [SHARD % 0, SHARD % 1], "AT_TIMESTAMP before the split")
            eq(lf(Type="AT_TIMESTAMP", Timestamp=t_after), [SHARD % 1, SHARD % 2, SHARD % 3],
               "AT_TIMESTAMP after the split")
            eq(lf(Type="FROM_TIMESTAMP", Timestamp=t_mid), everything, "FROM_TIMESTAMP before the split")
            eq(lf(Type="FROM_TIMESTAMP", Timestamp=t_after), [SHARD % 1, SHARD % 2, SHARD % 3],
               "FROM_TIMESTAMP after the split")
            eq(lf(Type="AT_TIMESTAMP", Timestamp=t_before - datetime.timedelta(hours=1)), [SHARD % 0, SHARD % 1],
               "AT_TIMESTAMP before the stream existed")
        with soft("ListShards ShardFilter errors"):
            expect_error(c.list_shards, "InvalidArgumentException", StreamName=R,
                         ShardFilter={"Type": "AFTER_SHARD_ID"})
            expect_error(c.list_shards, "InvalidArgumentException", StreamName=R, ShardFilter={"Type": "AT_TIMESTAMP"})
            expect_error(c.list_shards, "InvalidArgumentException", StreamName=R,
                         ShardFilter={"Type": "FROM_TIMESTAMP"})
            expect_error(c.list_shards, "ValidationException", StreamName=R, ShardFilter={"Type": "SIDEWAYS"})
        with soft("ListShards MaxResults / NextToken paging"):
            r = c.list_shards(StreamName=R, MaxResults=3)
            eq(ids(r["Shards"]), [SHARD % i for i in range(3)], "first page")
            tok = r["NextToken"]
            r2 = c.list_shards(NextToken=tok, MaxResults=3)
            eq(ids(r2["Shards"]), [SHARD % 3], "second page")
            check("NextToken" not in r2, "NextToken on the last page: %r" % r2.get("NextToken"))
            r = c.list_shards(StreamName=R, MaxResults=1, ShardFilter={"Type": "AT_LATEST"})
            got = ids(r["Shards"])
            while r.get("NextToken"):
                r = c.list_shards(NextToken=r["NextToken"], MaxResults=1)
                got += ids(r["Shards"])
            eq(got, [SHARD % 1, SHARD % 2, SHARD % 3], "AT_LATEST paged one by one (the filter sticks)")
            expect_error(c.list_shards, "InvalidArgumentException",
                         "NextToken and StreamName cannot be provided together.", StreamName=R, NextToken=tok)
            expect_error(c.list_shards, "InvalidArgumentException", "Either NextToken or StreamName should be provided.")
        with soft("aws CLI list-shards --filter"):
            out = aws_ok(ep, "kinesis", "list-shards", "--stream-name", R, "--shard-filter", "Type=AT_LATEST")
            eq(ids(out["Shards"]), [SHARD % 1, SHARD % 2, SHARD % 3], "CLI list-shards AT_LATEST")
        with soft("MergeShards and its errors"):
            expect_error(c.merge_shards, "InvalidArgumentException",
                         "Shards %s and %s in stream %s under account %s are not an adjacent pair of shards "
                         "eligible for merging" % (SHARD % 2, SHARD % 1, R, ACCOUNT),
                         StreamName=R, ShardToMerge=SHARD % 2, AdjacentShardToMerge=SHARD % 1)
            expect_error(c.merge_shards, "InvalidArgumentException",
                         "Shard %s in stream %s under account %s has already been merged or split, and thus is not "
                         "eligible for merging or splitting." % (SHARD % 0, R, ACCOUNT),
                         StreamName=R, ShardToMerge=SHARD % 0, AdjacentShardToMerge=SHARD % 1)
            c.merge_shards(StreamName=R, ShardToMerge=SHARD % 3, AdjacentShardToMerge=SHARD % 1)
            eq(status(c, R), "UPDATING", "status right after MergeShards")
            wait_active(c, R)
            sh = c.list_shards(StreamName=R)["Shards"]
            eq(ids(sh), [SHARD % i for i in range(5)], "shard ids after the merge")
            eq((sh[4].get("ParentShardId"), sh[4].get("AdjacentParentShardId"),
                sh[4]["HashKeyRange"]["StartingHashKey"], sh[4]["HashKeyRange"]["EndingHashKey"]),
               (SHARD % 3, SHARD % 1, str(mid), str(MAX_HASH)), "merged child")
            check("EndingSequenceNumber" in sh[1]["SequenceNumberRange"], "parent 1 not closed: %r" % sh[1])
            check("EndingSequenceNumber" in sh[3]["SequenceNumberRange"], "parent 3 not closed: %r" % sh[3])
        with soft("UpdateShardCount: response, 2x / half rules"):
            r = c.update_shard_count(StreamName=R, TargetShardCount=4, ScalingType="UNIFORM_SCALING")
            eq({k: r[k] for k in ("StreamName", "CurrentShardCount", "TargetShardCount", "StreamARN")},
               {"StreamName": R, "CurrentShardCount": 2, "TargetShardCount": 4, "StreamARN": stream_arn(R)},
               "UpdateShardCount answer")
            eq(status(c, R), "UPDATING", "status right after UpdateShardCount")
            s = wait_active(c, R)
            eq(s["OpenShardCount"], 4, "OpenShardCount after scaling to 4")
            for target, what in ((9, "above double"), (1, "below half")):
                code, msg, _ = client_err(c.update_shard_count, StreamName=R, TargetShardCount=target,
                                          ScalingType="UNIFORM_SCALING")
                check(code in ("LimitExceededException", "InvalidArgumentException"),
                      "UpdateShardCount %s: %s %s" % (what, code, msg))
            expect_error(c.update_shard_count, "ValidationException", StreamName=R, TargetShardCount=3,
                         ScalingType="SIDEWAYS")
        with soft("UpdateShardCount over the shard limit -> LimitExceededException"):
            with Kinesind(shard_limit=3, update_ms=50) as kd2:
                c2 = boto3_client(kd2.endpoint)
                create_active(c2, "small", 2)
                expect_error(c2.update_shard_count, "LimitExceededException", StreamName="small",
                             TargetShardCount=4, ScalingType="UNIFORM_SCALING")
                c2.split_shard(StreamName="small", ShardToSplit=SHARD % 1, NewStartingHashKey=str(2 ** 127 + mid))
                wait_active(c2, "small")
                expect_error(c2.split_shard, "LimitExceededException",
                             "This request would exceed the shard limit for the account %s in us-east-1. Current shard "
                             "count for the account: 3. Limit: 3. Number of additional shards that would have resulted "
                             "from this request: 1. Refer to the AWS Service Limits page (http://docs.aws.amazon.com/"
                             "general/latest/gr/aws_service_limits.html) for current limits and how to request higher "
                             "limits." % ACCOUNT,
                             StreamName="small", ShardToSplit=SHARD % 0, NewStartingHashKey=str(mid))
        with soft("UpdateShardCount: 10 calls per rolling 24 hours"):
            U = "ten"
            create_active(c, U, 1)
            n = 0
            for target in [2, 1] * 5:
                c.update_shard_count(StreamName=U, TargetShardCount=target, ScalingType="UNIFORM_SCALING")
                wait_active(c, U)
                n += 1
            eq(summary(c, U)["OpenShardCount"], 1, "open shards after 10 scalings")
            expect_error(c.update_shard_count, "LimitExceededException", StreamName=U, TargetShardCount=2,
                         ScalingType="UNIFORM_SCALING")

        # ---- cleanup: DeleteStream with EnforceConsumerDeletion -------------------------------------------
        with soft("DeleteStream EnforceConsumerDeletion"):
            c.delete_stream(StreamName=S, EnforceConsumerDeletion=True)
            eq(wait_gone(c, S), NOT_FOUND % S, "not-found message after deletion")
            create_active(c, S, 1)
            eq(c.list_stream_consumers(StreamARN=ARN)["Consumers"], [], "consumers of the re-created stream")
            eq(c.list_tags_for_stream(StreamName=S)["Tags"], [], "tags of the re-created stream")
            eq(summary(c, S)["ConsumerCount"], 0, "ConsumerCount of the re-created stream")

        check(kd.alive(), "kinesind died")


def client_err(fn, **kw):
    try:
        r = fn(**kw)
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["Error"]["Message"], \
            e.response["ResponseMetadata"]["HTTPStatusCode"]
    fail("%s(%r) succeeded: %r" % (fn.__name__, kw, r))


main(test)
