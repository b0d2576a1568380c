"""What an attacker or a careless client sends (issue: eleven correctness bugs found by
adversarial probing). Every case here once got a wrong answer: heap bytes stored as a record,
an unreadable shard, a truncated name addressing another stream, a spinning loop, a 500 where
AWS answers 400, a body that cost 77 times its size. Each answer must now be what AWS gives,
and nothing stored may differ from what validation saw."""

import base64
import hashlib
import json
import math
import os
import resource
import socket
import struct
import subprocess
import tempfile
import time

from kn import (AUTH, AMZ_DATE, JSON_CT, Kinesind, boto3_client, call, check, create_active, eq, kinesis_headers,
                main, raw, read_shard, soft, vm_hwm_mb)
from kn_ddb import DDB_ARGS, ddb_client, lease_table

CBOR_CT = "application/x-amz-cbor-1.1"


# ---- a minimal CBOR encoder (maps, arrays, text, bytes, ints, floats) -----------------------

def _head(major, n):
    if n < 24:
        return bytes([major << 5 | n])
    for info, fmt in ((24, ">B"), (25, ">H"), (26, ">I"), (27, ">Q")):
        if n < 1 << (8 * struct.calcsize(fmt)):
            return bytes([major << 5 | info]) + struct.pack(fmt, n)


def cbor(v):
    if isinstance(v, dict):
        return _head(5, len(v)) + b"".join(cbor(k) + cbor(x) for k, x in v.items())
    if isinstance(v, list):
        # a list of pairs encodes a map with repeated keys: [("k", 1), ("k", 2)] wrapped in Pairs
        return _head(4, len(v)) + b"".join(cbor(x) for x in v)
    if isinstance(v, Pairs):
        return _head(5, len(v.items)) + b"".join(cbor(k) + cbor(x) for k, x in v.items)
    if isinstance(v, RawText):
        return _head(3, len(v.b)) + v.b
    if isinstance(v, str):
        b = v.encode()
        return _head(3, len(b)) + b
    if isinstance(v, bytes):
        return _head(2, len(v)) + v
    if isinstance(v, float):
        return b"\xfb" + struct.pack(">d", v)
    if isinstance(v, int):
        return _head(0, v)
    raise TypeError(v)


class Pairs:
    def __init__(self, *items):
        self.items = items


class RawText:
    """A CBOR text string with exactly these bytes (valid UTF-8 or not)."""

    def __init__(self, b):
        self.b = b


def cbor_call(port, op, body):
    return raw(port, body=body, headers=kinesis_headers(op, ct=CBOR_CT))


def cbor_error(r):
    """The __type of a CBOR error answer (a map with text keys and values)."""
    b = r.body
    i = b.find(b"__type")
    check(i >= 0, "no __type in %r" % r)
    n = b[i + 6] & 0x1f
    return b[i + 7:i + 7 + n].decode()


def error(r):
    try:
        return r.json().get("__type"), r.json().get("message") or r.json().get("Message")
    except Exception:
        return None, r.body[:200]


# ---- 1: duplicate keys, last wins, and it is what validation checks --------------------------

def duplicate_keys(kd, c):
    port = kd.port
    good = base64.b64encode(b"first").decode()
    with soft("PutRecords: a second, invalid Data is validated (no heap bytes stored)"):
        body = ('{"StreamName":"s","Records":[{"PartitionKey":"k","Data":"%s","Data":"!!!!"}]}' % good)
        r = call(port, "PutRecords", body)
        eq(r.status, 400, "status (%r)" % r)
        eq(error(r)[0], "SerializationException", "type")
    with soft("PutRecords: the last Data is the one stored"):
        second = base64.b64encode(b"second").decode()
        body = ('{"StreamName":"s","Records":[{"PartitionKey":"k","Data":"%s","Data":"%s"}]}' % (good, second))
        r = call(port, "PutRecords", body)
        eq(r.status, 200, "status (%r)" % r)
        got = [x["Data"] for x in read_shard(c, "s", "shardId-000000000000")]
        eq(got[-1], b"second", "stored data")
        check(b"first" not in got, "the overridden Data was stored")
    for pk, what in (("", "empty"), ("x" * 1000, "1000-character")):
        with soft("PutRecords: a second %s PartitionKey fails the length rule" % what):
            body = '{"StreamName":"s","Records":[{"PartitionKey":"k","PartitionKey":"%s","Data":"%s"}]}' % (pk, good)
            r = call(port, "PutRecords", body)
            eq((r.status, error(r)[0]), (400, "ValidationException"), "answer (%r)" % r)
    with soft("PutRecord: duplicate StreamName, the last one is addressed"):
        r = call(port, "PutRecord", '{"StreamName":"s","StreamName":"nope","PartitionKey":"k","Data":"%s"}' % good)
        eq((r.status, error(r)[0]), (400, "ResourceNotFoundException"), "answer (%r)" % r)
    with soft("CBOR: duplicate keys follow the same rule"):
        body = cbor(Pairs(("StreamName", "s"), ("Records", [Pairs(("PartitionKey", "k"), ("Data", b"one"),
                                                                    ("Data", b"two"))])))
        r = cbor_call(port, "PutRecords", body)
        eq(r.status, 200, "status (%r)" % r)
        got = [x["Data"] for x in read_shard(c, "s", "shardId-000000000000")]
        eq(got[-1], b"two", "stored data")
        body = cbor(Pairs(("StreamName", "s"), ("PartitionKey", "k"), ("PartitionKey", ""), ("Data", b"z")))
        r = cbor_call(port, "PutRecord", body)
        eq((r.status, cbor_error(r)), (400, "ValidationException"), "empty second key (%r)" % r)


# ---- 6 and 9: invalid UTF-8 and NUL characters --------------------------------------------

def strings(kd, c):
    port = kd.port
    data = base64.b64encode(b"d").decode()
    with soft("invalid UTF-8 in a partition key (JSON) is refused"):
        body = b'{"StreamName":"s","PartitionKey":"\xff\xfe","Data":"' + data.encode() + b'"}'
        r = call(port, "PutRecord", body)
        eq((r.status, error(r)[0]), (400, "SerializationException"), "answer (%r)" % r)
    with soft("invalid UTF-8 in a partition key (CBOR) is refused"):
        body = cbor(Pairs(("StreamName", "s"), ("PartitionKey", RawText(b"\xff\xfe")), ("Data", b"d")))
        r = cbor_call(port, "PutRecord", body)
        eq((r.status, cbor_error(r)), (400, "SerializationException"), "answer (%r)" % r)
    with soft("overlong and surrogate encodings are refused"):
        for bad in (b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe2\x82"):
            body = b'{"StreamName":"s","PartitionKey":"' + bad + b'","Data":"' + data.encode() + b'"}'
            r = call(port, "PutRecord", body)
            eq((r.status, error(r)[0]), (400, "SerializationException"), "%r (%r)" % (bad, r))
    with soft("NUL in a partition key is refused (JSON escape and CBOR)"):
        r = call(port, "PutRecord", '{"StreamName":"s","PartitionKey":"a\\u0000b","Data":"%s"}' % data)
        eq((r.status, error(r)[0]), (400, "SerializationException"), "JSON (%r)" % r)
        r = cbor_call(port, "PutRecord", cbor({"StreamName": "s", "PartitionKey": "a\0b", "Data": b"d"}))
        eq((r.status, cbor_error(r)), (400, "SerializationException"), "CBOR (%r)" % r)
    with soft("NUL in a stream name does not address another stream"):
        r = call(port, "DescribeStreamSummary", '{"StreamName":"s\\u0000anything"}')
        eq((r.status, error(r)[0]), (400, "SerializationException"), "answer (%r)" % r)
    with soft("an escaped backslash before u0000 is just text"):
        r = call(port, "PutRecord", '{"StreamName":"s","PartitionKey":"a\\\\u0000b","Data":"%s"}' % data)
        eq(r.status, 200, "answer (%r)" % r)
    with soft("valid multi-byte UTF-8 keys are stored and read back"):
        c.put_record(StreamName="s", PartitionKey="ключ-🔑", Data=b"utf8")
        recs = read_shard(c, "s", "shardId-000000000000")
        eq(recs[-1]["PartitionKey"], "ключ-🔑", "partition key")
    with soft("the shard is still readable by boto3"):
        check(read_shard(c, "s", "shardId-000000000000"), "records")


# ---- 8 and 10: sequence number "0", timestamps out of range --------------------------------

def positions(kd, c):
    port = kd.port
    with soft("GetShardIterator AT_SEQUENCE_NUMBER 0 is a 400"):
        r = call(port, "GetShardIterator", {"StreamName": "s", "ShardId": "shardId-000000000000",
                                            "ShardIteratorType": "AT_SEQUENCE_NUMBER",
                                            "StartingSequenceNumber": "0"})
        eq(r.status, 400, "status (%r)" % r)
        eq(error(r), ("InvalidArgumentException",
                      "StartingSequenceNumber 0 used in GetShardIterator on shard shardId-000000000000 in stream s "
                      "under account 000000000000 is invalid."), "error")
    with soft("AT_TIMESTAMP 1e300 is later than now, not the epoch"):
        r = call(port, "GetShardIterator", '{"StreamName":"s","ShardId":"shardId-000000000000",'
                                           '"ShardIteratorType":"AT_TIMESTAMP","Timestamp":1e300}')
        eq(r.status, 400, "status (%r)" % r)
        typ, msg = error(r)
        eq(typ, "InvalidArgumentException", "type")
        check("timestampInMillis: 9223372036854775807" in msg, "message %r" % msg)
    with soft("AT_TIMESTAMP NaN and Infinity (CBOR) are SerializationExceptions"):
        for v in (math.nan, math.inf, -math.inf):
            body = cbor({"StreamName": "s", "ShardId": "shardId-000000000000",
                         "ShardIteratorType": "AT_TIMESTAMP", "Timestamp": v})
            r = cbor_call(port, "GetShardIterator", body)
            eq((r.status, cbor_error(r)), (400, "SerializationException"), "%r (%r)" % (v, r))
    with soft("AT_TIMESTAMP -1e300 starts at the oldest record"):
        r = call(port, "GetShardIterator", '{"StreamName":"s","ShardId":"shardId-000000000000",'
                                           '"ShardIteratorType":"AT_TIMESTAMP","Timestamp":-1e300}')
        eq(r.status, 200, "status (%r)" % r)
        recs = c.get_records(ShardIterator=r.json()["ShardIterator"])["Records"]
        first = c.get_records(ShardIterator=c.get_shard_iterator(
            StreamName="s", ShardId="shardId-000000000000", ShardIteratorType="TRIM_HORIZON")["ShardIterator"])
        eq(recs[0]["SequenceNumber"], first["Records"][0]["SequenceNumber"], "first record")


# ---- the parse budget: memory is bounded by the body ---------------------------------------

def budget(kd):
    with soft("a 7 MiB body of tiny values is refused without costing 77 times its size"):
        body = b'{"StreamName":"s","X":[' + b"0," * (3 << 20) + b'0]}'
        r = call(kd.port, "DescribeStreamSummary", body)
        eq((r.status, error(r)[0]), (400, "SerializationException"), "answer (%r)" % r)
        hwm = vm_hwm_mb(kd.proc.pid)
        check(hwm < 160, "kinesind's peak RSS %.0f MB after a %.1f MB body" % (hwm, len(body) / 1e6))
    with soft("deep nesting is refused"):
        body = b'{"StreamName":"s","X":' + b"[" * 500 + b"]" * 500 + b"}"
        r = call(kd.port, "DescribeStreamSummary", body)
        eq((r.status, error(r)[0]), (400, "SerializationException"), "answer (%r)" % r)


# ---- 5 and 11: DynamoDB ---------------------------------------------------------------------

def ddb_call(port, op, payload):
    body = payload if isinstance(payload, (bytes, str)) else json.dumps(payload)
    return raw(port, body=body, headers=[("Content-Type", "application/x-amz-json-1.0"),
                                         ("X-Amz-Target", "DynamoDB_20120810." + op),
                                         ("Authorization", AUTH.replace("/kinesis/", "/dynamodb/")),
                                         ("X-Amz-Date", AMZ_DATE)], timeout=60)


def dynamodb(kd):
    d = ddb_client(kd.endpoint)
    lease_table(d, "leases")
    port = kd.port
    with soft("an item with pk twice is stored under the value clients read (the last)"):
        r = ddb_call(port, "PutItem", '{"TableName":"leases","Item":{"leaseKey":{"S":"a"},"leaseKey":{"S":"b"}}}')
        eq(r.status, 200, "PutItem (%r)" % r)
        eq(d.get_item(TableName="leases", Key={"leaseKey": {"S": "b"}}).get("Item"), {"leaseKey": {"S": "b"}}, "item b")
        eq(d.get_item(TableName="leases", Key={"leaseKey": {"S": "a"}}).get("Item"), None, "no item a")
    with soft("an attribute value with two types after collapsing is judged on the last"):
        r = ddb_call(port, "PutItem", '{"TableName":"leases","Item":{"leaseKey":{"S":"c"},"n":{"N":"x"},"n":{"N":"1"}}}')
        eq(r.status, 200, "PutItem (%r)" % r)
    with soft("a set of 60k members over 400 KB is refused by size"):
        members = ["member-%06d" % i for i in range(60000)]
        r = ddb_call(port, "PutItem", {"TableName": "leases", "Item": {"leaseKey": {"S": "big"}, "ss": {"SS": members}}})
        eq(error(r), ("com.amazon.coral.validate#ValidationException",
                      "Item size has exceeded the maximum allowed size"), "answer")
    with soft("a set of 30k members with a duplicate at the end is found"):
        members = ["m%05d" % i for i in range(30000)] + ["m00000"]
        r = ddb_call(port, "PutItem", {"TableName": "leases", "Item": {"leaseKey": {"S": "dup"}, "ss": {"SS": members}}})
        typ, msg = error(r)
        eq(typ, "com.amazon.coral.validate#ValidationException", "type")
        check("contains duplicates" in (msg or ""), "message %r" % (msg,)[:200])
    with soft("more than 20 GSIs are refused"):
        defs = [{"AttributeName": "leaseKey", "AttributeType": "S"}]
        gsis = []
        for i in range(21):
            defs.append({"AttributeName": "g%d" % i, "AttributeType": "S"})
            gsis.append({"IndexName": "idx%d" % i, "KeySchema": [{"AttributeName": "g%d" % i, "KeyType": "HASH"}],
                         "Projection": {"ProjectionType": "KEYS_ONLY"}})
        r = ddb_call(port, "CreateTable", {"TableName": "many", "BillingMode": "PAY_PER_REQUEST",
                                           "AttributeDefinitions": defs,
                                           "KeySchema": [{"AttributeName": "leaseKey", "KeyType": "HASH"}],
                                           "GlobalSecondaryIndexes": gsis})
        eq(error(r), ("com.amazon.coral.validate#ValidationException",
                      "One or more parameter values were invalid: GlobalSecondaryIndex count exceeds the per-table "
                      "limit of 20"), "answer")


# ---- 2 and 3: SigV4 ------------------------------------------------------------------------

def sigv4():
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    keys = os.path.join(tempfile.mkdtemp(), "keys")
    with open(keys, "w") as f:
        f.write("AKIDPROBE probe-secret\n")
    with Kinesind(args=["--auth", "sigv4", "--credentials", keys]) as kd:
        creds = Credentials("AKIDPROBE", "probe-secret")

        def signed(body, claim=None):
            req = AWSRequest(method="POST", url=kd.endpoint + "/", data=body,
                             headers={"Content-Type": JSON_CT, "X-Amz-Target": "Kinesis_20131202.CreateStream"})
            if claim is not None:
                req.headers["X-Amz-Content-SHA256"] = claim
            SigV4Auth(creds, "kinesis", "us-east-1").add_auth(req)
            return [(k, v) for k, v in req.headers.items()]

        good = b'{"StreamName":"signed","ShardCount":1}'
        with soft("a correctly signed request passes"):
            r = raw(kd.port, body=good, headers=signed(good, hashlib.sha256(good).hexdigest()))
            eq(r.status, 200, "answer (%r)" % r)
        with soft("a captured signed request replayed with another body is refused"):
            other = b'{"StreamName":"evil","ShardCount":1}'
            r = raw(kd.port, body=other, headers=signed(good, hashlib.sha256(good).hexdigest()))
            eq(r.status, 400, "status (%r)" % r)
            eq(error(r)[0], "InvalidSignatureException", "type")
            r = raw(kd.port, body=other, headers=signed(good))
            eq(error(r)[0], "InvalidSignatureException", "without the hash header")
        with soft("UNSIGNED-PAYLOAD is refused (Kinesis signs its bodies)"):
            r = raw(kd.port, body=good, headers=signed(good, "UNSIGNED-PAYLOAD"))
            eq(error(r)[0], "InvalidSignatureException", "type")
        with soft("a valid signature with bytes appended is refused"):
            h = signed(good)
            h = [(k, v + "deadbeef" if k == "Authorization" else v) for k, v in h]
            r = raw(kd.port, body=good, headers=h)
            eq(error(r)[0], "InvalidSignatureException", "type (%r)" % r)
        with soft("an unsigned 7 MiB body is refused before it is parsed"):
            body = b"[" + b"0," * (3 << 20) + b"0]"
            h = [("Content-Type", JSON_CT), ("X-Amz-Target", "Kinesis_20131202.ListStreams"),
                 ("Authorization", AUTH.replace("AKID", "AKIDPROBE")), ("X-Amz-Date", AMZ_DATE)]
            r = raw(kd.port, body=body, headers=h)
            check(error(r)[0] in ("InvalidSignatureException",), "answer %r" % (error(r),))
        c = boto3_client(kd.endpoint)
        names = []
        try:
            import boto3
            k = boto3.client("kinesis", endpoint_url=kd.endpoint, region_name="us-east-1",
                             aws_access_key_id="AKIDPROBE", aws_secret_access_key="probe-secret")
            names = k.list_streams()["StreamNames"]
        except Exception as e:
            names = ["error: %s" % e]
        eq(names, ["signed"], "only the signed stream exists")


# ---- 7: connections ------------------------------------------------------------------------

def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def list_streams_on(sock):
    body = b"{}"
    head = "".join("%s: %s\r\n" % kv for kv in kinesis_headers("ListStreams"))
    sock.sendall(("POST / HTTP/1.1\r\nHost: x\r\n%sContent-Length: 2\r\n\r\n" % head).encode() + body)


def connections():
    with Kinesind(args=["--max-connections", "4"]) as kd:
        with soft("--max-connections: the fifth connection waits until one closes"):
            socks = [socket.create_connection(("127.0.0.1", kd.port)) for _ in range(5)]
            for s in socks[:4]:
                list_streams_on(s)
                s.settimeout(5)
                check(s.recv(4096).startswith(b"HTTP/1.1 200"), "one of the first four")
            list_streams_on(socks[4])
            socks[4].settimeout(0.5)
            try:
                got = socks[4].recv(4096)
            except socket.timeout:
                got = b""
            eq(got, b"", "the fifth connection is not served while four are open")
            socks[0].close()
            socks[4].settimeout(5)
            check(socks[4].recv(4096).startswith(b"HTTP/1.1 200"), "the fifth is served once one closed")
            for s in socks[1:]:
                s.close()

    def low_fd_limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (48, 48))

    kd = Kinesind()
    kd.argv = kd.argv  # the same kinesind, started with a file-descriptor limit of 48
    kd._log = open(kd.log_path, "ab")
    kd.proc = subprocess.Popen(kd.argv, stdin=subprocess.DEVNULL, stdout=kd._log, stderr=kd._log,
                               preexec_fn=low_fd_limit)
    try:
        deadline = time.monotonic() + 10
        while b"listening" not in open(kd.log_path, "rb").read() and time.monotonic() < deadline:
            time.sleep(0.02)
        with soft("out of file descriptors: the loop backs off instead of spinning, and recovers"):
            socks = []
            for _ in range(80):
                try:
                    socks.append(socket.create_connection(("127.0.0.1", kd.port), timeout=2))
                except OSError:
                    break
            t0 = cpu_seconds(kd.proc.pid)
            time.sleep(1.5)
            used = cpu_seconds(kd.proc.pid) - t0
            check(used < 0.5, "kinesind used %.2f s of CPU in 1.5 s while out of descriptors" % used)
            for s in socks:
                s.close()
            time.sleep(0.3)
            r = call(kd.port, "ListStreams", {})
            eq(r.status, 200, "served again once descriptors are free")
            check(b"EMFILE" in open(kd.log_path, "rb").read() or b"Too many open files" in
                  open(kd.log_path, "rb").read(), "the condition is logged")
    finally:
        kd.kill()
        kd.cleanup()


def test():
    with Kinesind(args=list(DDB_ARGS)) as kd:
        c = boto3_client(kd.endpoint)
        create_active(c, "s", 1)
        c.put_record(StreamName="s", PartitionKey="k", Data=b"zero")
        duplicate_keys(kd, c)
        strings(kd, c)
        positions(kd, c)
        dynamodb(kd)
        budget(kd)
    sigv4()
    connections()


main(test)
