"""The kinesin CLI against kinesind: create/list/describe/delete, put then cat round trip,
cat --follow seeing records put after it started and following the children of a SplitShard,
`leases` printing a lease table, exit codes and messages."""

import json
import os
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from kn import Kinesind, boto3_client, check, eq, fail, main, soft


def kinesin_bin():
    return os.path.join(os.environ.get("KN_BIN") or os.path.join(os.environ["KN_SRC"], "build", "bin"), "kinesin")


def cli(endpoint, *args, input=None, env=None, timeout=50):
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run([kinesin_bin(), "--endpoint", endpoint] + list(args), input=input, capture_output=True,
                       text=True, timeout=timeout, env=e)
    return p.returncode, p.stdout, p.stderr


def ok(endpoint, *args, **kw):
    rc, out, err = cli(endpoint, *args, **kw)
    if rc != 0:
        fail("kinesin %s failed (rc %d): %s" % (" ".join(args), rc, err))
    return out


class FakeDynamoDB(BaseHTTPRequestHandler):
    """Answers Scan on table 'app' with a KCL lease table written as boto3 writes it, in two
    pages (LastEvaluatedKey), and records the requests it saw."""
    seen = []
    ITEMS = [
        {"leaseKey": {"S": "shardId-000000000001"}, "leaseOwner": {"S": "worker-b"},
         "checkpoint": {"S": "49650000000000000000000000000000000000000000000000000001"},
         "leaseCounter": {"N": "17"}, "ownerSwitchesSinceCheckpoint": {"N": "0"},
         "checkpointSubSequenceNumber": {"N": "0"}},
        {"leaseKey": {"S": "shardId-000000000000"}, "leaseOwner": {"S": "worker-a"},
         "checkpoint": {"S": "TRIM_HORIZON"}, "leaseCounter": {"N": "4"}},
        {"leaseKey": {"S": "shardId-000000000002"}, "checkpoint": {"S": "SHARD_END"}, "leaseCounter": {"N": "9"},
         "parentShardId": {"SS": ["shardId-000000000000"]}},
    ]

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeDynamoDB.seen.append((self.headers.get("X-Amz-Target"), self.headers.get("Content-Type"),
                                  self.headers.get("Authorization"), body))
        if body.get("TableName") != "app":
            out, status = {"__type": "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException",
                           "message": "Requested resource not found"}, 400
        elif "ExclusiveStartKey" not in body:
            out, status = {"Items": self.ITEMS[:2], "Count": 2, "ScannedCount": 2,
                           "LastEvaluatedKey": {"leaseKey": self.ITEMS[1]["leaseKey"]}}, 200
        else:
            out, status = {"Items": self.ITEMS[2:], "Count": 1, "ScannedCount": 1}, 200
        data = json.dumps(out).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *a):
        pass


def test():
    with Kinesind() as kd:
        ep = kd.endpoint
        c = boto3_client(ep)

        with soft("create-stream --wait, list, describe"):
            out = ok(ep, "create-stream", "lines", "--shards", "2", "--wait")
            check("lines" in out, "create output %r" % out)
            eq(ok(ep, "list").split(), ["lines"], "list")
            eq(json.loads(ok(ep, "--output", "json", "list")), ["lines"], "list --output json")
            d = json.loads(ok(ep, "describe", "lines", "--output", "json"))
            eq((d["StreamStatus"], len(d["Shards"])), ("ACTIVE", 2), "describe status and shards")

        with soft("put then cat round trip"):
            lines = ['{"user":"u%d","n":%d}' % (i % 7, i) for i in range(3000)]
            ok(ep, "put", "lines", "--key-field", "user", input="\n".join(lines) + "\n")
            got = ok(ep, "cat", "lines").splitlines()
            eq(sorted(got), sorted(lines), "cat returns every line once")
            for u in range(7):
                mine = [json.loads(x)["n"] for x in got if json.loads(x)["user"] == "u%d" % u]
                eq(mine, sorted(mine), "order of key u%d" % u)
            recs = [json.loads(x) for x in ok(ep, "cat", "lines", "--output", "json").splitlines()]
            eq(len(recs), 3000, "cat --output json count")
            check(all(r["PartitionKey"].startswith("u") and len(r["SequenceNumber"]) == 56 for r in recs),
                  "json records carry key and sequence number: %r" % recs[0])

        with soft("cat --follow sees new records and follows a SplitShard"):
            ok(ep, "create-stream", "tail", "--shards", "1", "--wait")
            ok(ep, "put", "tail", "--key", "k", input="before\n")
            p = subprocess.Popen([kinesin_bin(), "--endpoint", ep, "cat", "tail", "--follow"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            seen = []

            def reader():
                for line in p.stdout:
                    seen.append(line.rstrip("\n"))
            t = threading.Thread(target=reader, daemon=True)
            t.start()

            def wait_for(n, what):
                deadline = time.monotonic() + 15
                while len(seen) < n and time.monotonic() < deadline:
                    time.sleep(0.05)
                check(len(seen) >= n, "%s: follow saw %r" % (what, seen))
            wait_for(1, "record put before cat started")
            ok(ep, "put", "tail", "--key", "k", input="after-1\nafter-2\n")
            wait_for(3, "records put after cat started")
            c.split_shard(StreamName="tail", ShardToSplit="shardId-000000000000",
                          NewStartingHashKey=str(2 ** 127))
            deadline = time.monotonic() + 10
            while c.describe_stream_summary(StreamName="tail")["StreamDescriptionSummary"]["StreamStatus"] != "ACTIVE":
                check(time.monotonic() < deadline, "split did not finish")
                time.sleep(0.05)
            children = ["x-%d" % i for i in range(20)]
            ok(ep, "put", "tail", input="\n".join(children) + "\n")
            wait_for(23, "records in the children after the split")
            p.terminate()
            p.wait(5)
            eq(seen[:3], ["before", "after-1", "after-2"], "follow order before the split")
            eq(sorted(seen[3:]), sorted(children), "records of the child shards")

        with soft("errors and exit codes"):
            rc, out, err = cli(ep, "describe", "nope")
            eq(rc, 1, "exit code for a missing stream")
            eq(err.strip(), "kinesin: ResourceNotFoundException: Stream nope under account 000000000000 not found.",
               "message for a missing stream")
            rc, out, err = cli(ep, "create-stream", "x")
            eq(rc, 2, "exit code for a usage error (%s)" % err)
            rc, out, err = cli(ep, "frobnicate")
            eq(rc, 2, "exit code for an unknown command")
            home = tempfile.mkdtemp()
            rc, out, err = cli(ep, "list", env={"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "HOME": home,
                                                 "AWS_SHARED_CREDENTIALS_FILE": "", "AWS_CONFIG_FILE": ""})
            eq(rc, 3, "exit code without credentials")
            check("no AWS credentials found" in err, "message without credentials: %r" % err)
            with open(os.path.join(home, "creds"), "w") as f:
                f.write("[other]\naws_access_key_id = AKPROFILE\naws_secret_access_key = s3cret\n")
            rc, out, err = cli(ep, "--profile", "other", "list",
                               env={"AWS_SHARED_CREDENTIALS_FILE": os.path.join(home, "creds"), "HOME": home})
            eq((rc, out.split()), (0, ["lines", "tail"]), "credentials from a named profile (%s)" % err)
            rc, out, err = cli("http://127.0.0.1:1", "list")
            eq(rc, 4, "exit code for an unreachable endpoint (%s)" % err)
            rc, out, err = cli(ep, "delete-stream", "lines")
            eq(rc, 0, "delete-stream")
            ok(ep, "--help")

        with soft("leases prints a lease table kinesind keeps, written by boto3"):
            import boto3
            d = boto3.client("dynamodb", endpoint_url=ep, region_name="us-east-1")
            d.create_table(TableName="kclapp", KeySchema=[{"AttributeName": "leaseKey", "KeyType": "HASH"}],
                           AttributeDefinitions=[{"AttributeName": "leaseKey", "AttributeType": "S"}],
                           BillingMode="PAY_PER_REQUEST")
            d.get_waiter("table_exists").wait(TableName="kclapp", WaiterConfig={"Delay": 0.1, "MaxAttempts": 100})
            d.put_item(TableName="kclapp", Item={
                "leaseKey": {"S": "shardId-000000000000"}, "leaseOwner": {"S": "worker-a"},
                "checkpoint": {"S": "TRIM_HORIZON"}, "leaseCounter": {"N": "4"}, "ownerSwitchesSinceCheckpoint": {"N": "0"},
                "checkpointSubSequenceNumber": {"N": "0"}})
            d.put_item(TableName="kclapp", Item={
                "leaseKey": {"S": "shardId-000000000001"}, "checkpoint": {"S": "SHARD_END"},
                "leaseCounter": {"N": "9"}, "parentShardId": {"SS": ["shardId-000000000000"]},
                "checkpointSubSequenceNumber": {"N": "0"}, "entityType": {"S": "LEASE"}})
            # KCL 3.5 rows that are not leases (leases/EntityType.java) are not printed
            d.put_item(TableName="kclapp", Item={"leaseKey": {"S": "Leader"}, "entityType": {"S": "LEADER"},
                                                 "ownerName": {"S": "worker-a"}})
            out = ok(ep, "leases", "kclapp").splitlines()
            eq(out[0].split(), ["SHARD", "OWNER", "CHECKPOINT", "COUNTER", "PARENTS"], "header")
            eq([l.split() for l in out[1:]],
               [["shardId-000000000000", "worker-a", "TRIM_HORIZON", "4", "-"],
                ["shardId-000000000001", "-", "SHARD_END", "9", "shardId-000000000000"]], "lease rows")

    with soft("leases prints the lease table (recorded DynamoDB fake)"):
        srv = ThreadingHTTPServer(("127.0.0.1", 0), FakeDynamoDB)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        dep = "http://127.0.0.1:%d" % srv.server_address[1]
        try:
            out = ok(dep, "leases", "app").splitlines()
            eq(out[0].split(), ["SHARD", "OWNER", "CHECKPOINT", "COUNTER", "PARENTS"], "header")
            eq([l.split() for l in out[1:]],
               [["shardId-000000000000", "worker-a", "TRIM_HORIZON", "4", "-"],
                ["shardId-000000000001", "worker-b", "49650000000000000000000000000000000000000000000000000001",
                 "17", "-"],
                ["shardId-000000000002", "-", "SHARD_END", "9", "shardId-000000000000"]], "lease rows")
            target, ct, auth, body = FakeDynamoDB.seen[0]
            eq((target, ct), ("DynamoDB_20120810.Scan", "application/x-amz-json-1.0"), "DynamoDB protocol")
            check("/dynamodb/aws4_request" in auth, "signed for dynamodb: %s" % auth)
            eq(FakeDynamoDB.seen[1][3].get("ExclusiveStartKey"), {"leaseKey": {"S": "shardId-000000000000"}},
               "second page starts after the first")
            rc, out, err = cli(dep, "leases", "missing")
            eq((rc, err.strip()), (1, "kinesin: ResourceNotFoundException: Requested resource not found"),
               "missing lease table")
        finally:
            srv.shutdown()


main(test)
