"""GET /metrics: exact traffic counters, requests and errors per operation, shard labels only
under enhanced monitoring, KCL lease lag from a lease table, promtool-clean text, and off under
--auth sigv4 unless --dashboard on."""

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.request

from kn import (Kinesind, boto3_client, check, create_active, eq, fail, kinesis_headers, main, next_whole_second, raw,
                read_shard, soft)
from kn_ddb import ddb_client, wait_table_active

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def scrape(kd):
    with urllib.request.urlopen(kd.endpoint + "/metrics", timeout=10) as r:
        eq(r.status, 200, "/metrics status")
        ct = r.headers.get("Content-Type")
        check(ct.startswith("text/plain; version=0.0.4"), "Content-Type %r" % ct)
        return r.read().decode("utf-8")


def samples(text):
    """{(name, frozenset(labels)): value}"""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        check(m is not None, "unparsable sample line %r" % line)
        labels = frozenset(LABEL.findall(m.group(3) or ""))
        out[(m.group(1), labels)] = float(m.group(4))
    return out


def value(s, name, **labels):
    return s.get((name, frozenset(labels.items())))


def promtool_check(text, what):
    p = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True,
                       timeout=60)
    check(p.returncode == 0, "%s: promtool check metrics failed (%d):\n%s%s"
          % (what, p.returncode, p.stdout, p.stderr))


def test():
    if not shutil.which("promtool"):
        fail("promtool not found (scripts/install-deps.sh test installs the prometheus package)")
    with Kinesind() as kd:
        c = boto3_client(kd.endpoint, read_timeout=30)
        create_active(c, "m1", 2)
        before = samples(scrape(kd))

        n, size = 37, 100
        with soft("put N records of B bytes: incoming counters rise by exactly N and N*B"):
            for i in range(7):
                c.put_record(StreamName="m1", PartitionKey="pk-%d" % i, Data=bytes([i]) * size)
            recs = [{"PartitionKey": "pk-%d" % i, "Data": bytes([i % 256]) * size} for i in range(n - 7)]
            r = c.put_records(StreamName="m1", Records=recs)
            eq(r["FailedRecordCount"], 0, "FailedRecordCount")
            s = samples(scrape(kd))
            eq(value(s, "kinesin_incoming_records_total", stream="m1")
               - (value(before, "kinesin_incoming_records_total", stream="m1") or 0), n, "records delta")
            eq(value(s, "kinesin_incoming_bytes_total", stream="m1")
               - (value(before, "kinesin_incoming_bytes_total", stream="m1") or 0), n * size, "bytes delta")
            eq(value(s, "kinesin_requests_total", service="kinesis", operation="PutRecord"), 7, "PutRecord count")
            eq(value(s, "kinesin_requests_total", service="kinesis", operation="PutRecords"), 1, "PutRecords")
            eq(value(s, "kinesin_request_duration_seconds_count", service="kinesis", operation="PutRecord"), 7,
               "PutRecord histogram count")
            eq(value(s, "kinesin_request_duration_seconds_bucket", service="kinesis", operation="PutRecord",
                     le="+Inf"), 7, "PutRecord +Inf bucket")
            check(value(s, "kinesin_fsync_duration_seconds_count") >= 1, "no fsync observed")
            eq(value(s, "kinesin_shards", stream="m1", state="open"), 2, "open shards")
            check(value(s, "kinesin_storage_bytes", stream="m1") >= n * size, "storage bytes below the data")
            check(value(s, "kinesin_disk_free_bytes") > 0, "disk free")

        with soft("GetRecords: outgoing counters rise by what was read"):
            got = 0
            for sh in c.list_shards(StreamName="m1")["Shards"]:
                got += len(read_shard(c, "m1", sh["ShardId"]))
            eq(got, n, "records read back")
            s = samples(scrape(kd))
            eq(value(s, "kinesin_get_records_records_total", stream="m1"), n, "GetRecords.Records")
            eq(value(s, "kinesin_get_records_bytes_total", stream="m1"), n * size, "GetRecords.Bytes")
            eq(value(s, "kinesin_outgoing_records_total", stream="m1"), n, "OutgoingRecords")

        with soft("SubscribeToShard: live subscriptions, records pushed, MillisBehindLatest"):
            arn = c.describe_stream_summary(StreamName="m1")["StreamDescriptionSummary"]["StreamARN"]
            carn = c.register_stream_consumer(StreamARN=arn, ConsumerName="efo")["Consumer"]["ConsumerARN"]
            for _ in range(100):
                if c.describe_stream_consumer(ConsumerARN=carn)["ConsumerDescription"]["ConsumerStatus"] == "ACTIVE":
                    break
                time.sleep(0.05)
            shard0 = len(read_shard(c, "m1", "shardId-000000000000"))
            r = c.subscribe_to_shard(ConsumerARN=carn, ShardId="shardId-000000000000",
                                     StartingPosition={"Type": "TRIM_HORIZON"})
            stream = r["EventStream"]
            got = 0
            for ev in stream:
                got += len(ev["SubscribeToShardEvent"]["Records"])
                if got >= shard0:
                    break
            s = samples(scrape(kd))  # the subscription is still open
            stream.close()
            eq(value(s, "kinesin_fanout_subscriptions", stream="m1"), 1, "live subscriptions")
            eq(value(s, "kinesin_subscribe_to_shard_event_records_total", stream="m1"), shard0, "records pushed")
            check(value(s, "kinesin_fanout_behind_latest_seconds", stream="m1", consumer="efo") is not None,
                  "no behind-latest sample for the consumer")
            eq(value(s, "kinesin_stream_consumers", stream="m1"), 1, "consumers")

        with soft("errors are counted per operation and code"):
            for _ in range(3):
                try:
                    c.describe_stream(StreamName="nope")
                except c.exceptions.ResourceNotFoundException:
                    pass
            r = raw(kd.port, body="{}", headers=[("Content-Type", "application/x-amz-json-1.1"),
                                                  ("X-Amz-Target", "Kinesis_20131202.NoSuchOperation")])
            eq(r.status, 400, "unknown operation status")
            # CBOR errors ({"StreamName": "nope"}) and XML ones (a bad content type) are read too
            cbor = b"\xa1\x6aStreamName\x64nope"
            r = raw(kd.port, body=cbor, headers=kinesis_headers("DescribeStream", ct="application/x-amz-cbor-1.1"))
            eq(r.status, 400, "CBOR DescribeStream status")
            r = raw(kd.port, body="{}", headers=kinesis_headers("ListStreams", ct="text/plain"))
            eq(r.status, 404, "bad content type status")
            s = samples(scrape(kd))
            eq(value(s, "kinesin_request_errors_total", service="kinesis", operation="DescribeStream",
                     code="ResourceNotFoundException"), 4, "DescribeStream errors (3 JSON, 1 CBOR)")
            eq(value(s, "kinesin_request_errors_total", service="kinesis", operation="ListStreams",
                     code="UnknownOperationException"), 1, "XML error")
            eq(value(s, "kinesin_request_errors_total", service="kinesis", operation="unknown",
                     code="UnknownOperationException"), 1, "unknown operation error")
            check(not any(k[0] == "kinesin_requests_total" and ("operation", "NoSuchOperation") in k[1]
                          for k in s), "a made-up operation name became a label")

        with soft("shard labels only with enhanced monitoring"):
            s = samples(scrape(kd))
            check(not any(k[0].startswith("kinesin_shard_") for k in s), "shard series without enhanced monitoring")
            c.enable_enhanced_monitoring(StreamName="m1", ShardLevelMetrics=["IncomingRecords"])
            s = samples(scrape(kd))
            per_shard = {dict(k[1])["shard"]: v for k, v in s.items() if k[0] == "kinesin_shard_incoming_records_total"}
            eq(len(per_shard), 2, "shard series (%r)" % per_shard)
            eq(sum(per_shard.values()), n, "shard series sum")
            check(not any(k[0] == "kinesin_shard_incoming_bytes_total" for k in s), "IncomingBytes was not asked")

        with soft("lease table: lag of a checkpoint at record k of n is n-k"):
            next_whole_second()  # m1's and m2's shards must not share a creation second
            create_active(c, "m2", 1)
            seqs = [c.put_record(StreamName="m2", PartitionKey="p", Data=b"x%d" % i)["SequenceNumber"]
                    for i in range(10)]
            k = 4
            d = ddb_client(kd.endpoint)
            d.create_table(TableName="app-lag", KeySchema=[{"AttributeName": "leaseKey", "KeyType": "HASH"}],
                           AttributeDefinitions=[{"AttributeName": "leaseKey", "AttributeType": "S"}],
                           BillingMode="PAY_PER_REQUEST")
            wait_table_active(d, "app-lag")
            d.put_item(TableName="app-lag", Item={
                "leaseKey": {"S": "shardId-000000000000"}, "checkpoint": {"S": seqs[k - 1]},
                "checkpointSubSequenceNumber": {"N": "0"}, "leaseOwner": {"S": "worker-a"},
                "leaseCounter": {"N": "3"}, "ownerSwitchesSinceCheckpoint": {"N": "0"}})
            s = samples(scrape(kd))
            eq(value(s, "kinesin_lease_lag_records", application="app-lag", lease="shardId-000000000000"), 10 - k,
               "lag records")
            eq(value(s, "kinesin_lease_owner", application="app-lag", lease="shardId-000000000000",
                     owner="worker-a"), 1, "owner")
            eq(value(s, "kinesin_kcl_workers", application="app-lag"), 1, "workers")
            eq(value(s, "kinesin_kcl_worker_leases", application="app-lag", worker="worker-a"), 1, "leases held")
            check(value(s, "kinesin_lease_lag_seconds", application="app-lag", lease="shardId-000000000000") >= 0,
                  "lag seconds")
            d.update_item(TableName="app-lag", Key={"leaseKey": {"S": "shardId-000000000000"}},
                          AttributeUpdates={"checkpoint": {"Action": "PUT", "Value": {"S": seqs[-1]}}})
            s = samples(scrape(kd))
            eq(value(s, "kinesin_lease_lag_records", application="app-lag", lease="shardId-000000000000"), 0,
               "lag after checkpointing the last record")

        with soft("promtool check metrics passes on a full scrape"):
            text = scrape(kd)
            check("kinesin_lease_lag_records{" in text and "kinesin_request_duration_seconds_bucket{" in text,
                  "scrape lacks the families under test")
            promtool_check(text, "scrape")

        with soft("an unknown GET path keeps AWS's 403"):
            r = raw(kd.port, "GET", "/no-such-page")
            eq(r.status, 403, "GET of an unknown path keeps AWS's answer")

    tmp = tempfile.mkdtemp(prefix="kn-metrics-")
    try:
        creds = os.path.join(tmp, "creds")
        with open(creds, "w") as f:
            f.write("AKIAKINESINTEST kinesin-test-secret\n")
        with soft("--auth sigv4: /metrics and the dashboard are off"):
            with Kinesind(args=("--auth", "sigv4", "--credentials", creds)) as kd:
                eq(raw(kd.port, "GET", "/metrics").status, 403, "/metrics under sigv4")
                eq(raw(kd.port, "GET", "/").status, 403, "/ under sigv4")
                eq(raw(kd.port, "GET", "/api/overview").status, 403, "/api/overview under sigv4")
        with soft("--auth sigv4 --dashboard on: served"):
            with Kinesind(args=("--auth", "sigv4", "--credentials", creds, "--dashboard", "on")) as kd:
                r = raw(kd.port, "GET", "/metrics")
                eq(r.status, 200, "/metrics with --dashboard on")
                promtool_check(r.body.decode(), "sigv4 scrape")
                eq(json.loads(raw(kd.port, "GET", "/api/overview").body)["streams"], 0, "overview")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main(test)
