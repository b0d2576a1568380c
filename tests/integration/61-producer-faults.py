"""The producer (through `kinesin put`) against kinesind behind a proxy that misbehaves: it
closes some connections before reading them, closes kept-alive connections between requests,
answers some requests with ProvisionedThroughputExceededException without forwarding them, and
fails a random subset of PutRecords entries (forwarding only the rest). 100,000 records with
200 keys must arrive exactly once each and in order per key, and each gets exactly one delivery
report (`--report`), a success naming where it was read back. Faults never hit a request that
reached kinesind, so a duplicate would be the producer's fault, not the network's.

Two passes: records sent plain, then KPL-aggregated (`--aggregate`) into a kinesind that
enforces AWS's per-shard throughput (--enforce-throughput) with the producer's rate limit set
above it (RateLimit=300), so kinesind throttles whole PutRecords entries too."""

import base64
import json
import os
import random
import socket
import subprocess
import threading
import time
import http.client

from kn import Kinesind, boto3_client, check, eq, fail, main, create_active

N, KEYS = 100000, 200
rnd = random.Random(7)
stats = {"dropped": 0, "closed": 0, "throttled": 0, "partial": 0, "forwarded": 0, "entries_failed": 0}
connections = [0]
lock = threading.Lock()


def read_request(f):
    line = f.readline()
    if not line:
        return None
    headers, length = [], 0
    while True:
        h = f.readline()
        if h in (b"\r\n", b"\n", b""):
            break
        k, _, v = h.decode().partition(":")
        headers.append((k.strip(), v.strip()))
        if k.strip().lower() == "content-length":
            length = int(v)
    return line, headers, f.read(length)


def respond(sock, status, body, ctype="application/x-amz-json-1.1"):
    sock.sendall(b"HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n" % (status, ctype.encode(), len(body))
                 + body)


def serve(sock, upstream_port):
    with lock:
        # every 20th connection, starting with the second, is dropped unanswered: deterministic,
        # so the run always has some (a random 5% sometimes gave none: threads reorder the RNG)
        connections[0] += 1
        drop = connections[0] % 20 == 2
    if drop:
        with lock:
            stats["dropped"] += 1
        sock.close()
        return
    up = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=30)
    f = sock.makefile("rb")
    try:
        while True:
            req = read_request(f)
            if req is None:
                return
            line, headers, body = req
            target = dict((k.lower(), v) for k, v in headers).get("x-amz-target", "")
            with lock:
                r = rnd.random()
            if r < 0.03:
                with lock:
                    stats["closed"] += 1
                return
            if r < 0.13:
                with lock:
                    stats["throttled"] += 1
                respond(sock, 400, json.dumps({"__type": "ProvisionedThroughputExceededException",
                                               "message": "Rate exceeded for the proxy"}).encode())
                continue
            fwd_headers = {k: v for k, v in headers if k.lower() not in ("content-length", "host", "connection")}
            failed_idx = set()
            if target.endswith(".PutRecords") and r < 0.30:
                req_json = json.loads(body)
                recs = req_json["Records"]
                with lock:
                    failed_idx = {i for i in range(len(recs)) if rnd.random() < 0.3}
                    stats["partial"] += 1
                    stats["entries_failed"] += len(failed_idx)
                kept = [x for i, x in enumerate(recs) if i not in failed_idx]
                req_json["Records"] = kept
                body = json.dumps(req_json).encode()
                if not kept:
                    out = {"FailedRecordCount": len(recs), "Records": [
                        {"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "Rate exceeded"}
                        for _ in recs]}
                    respond(sock, 200, json.dumps(out).encode())
                    continue
                total = len(recs)
            up.request("POST", "/", body=body, headers=fwd_headers)
            resp = up.getresponse()
            data = resp.read()
            with lock:
                stats["forwarded"] += 1
            if failed_idx and resp.status == 200:
                got = iter(json.loads(data)["Records"])
                merged = []
                for i in range(total):
                    merged.append({"ErrorCode": "ProvisionedThroughputExceededException",
                                   "ErrorMessage": "Rate exceeded for shard"} if i in failed_idx else next(got))
                data = json.dumps({"FailedRecordCount": sum(1 for m in merged if "ErrorCode" in m),
                                   "Records": merged}).encode()
            respond(sock, resp.status, data, resp.getheader("Content-Type") or "application/x-amz-json-1.1")
    except (OSError, ValueError):
        return
    finally:
        up.close()
        try:
            sock.close()
        except OSError:
            pass


def proxy(upstream_port):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(64)

    def loop():
        while True:
            try:
                s, _ = ls.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(s, upstream_port), daemon=True).start()
    threading.Thread(target=loop, daemon=True).start()
    return ls


def reset_stats():
    with lock:
        for k in stats:
            stats[k] = 0
        connections[0] = 0


def run_pass(aggregate):
    reset_stats()
    args = ["--fsync", "never"] + (["--enforce-throughput"] if aggregate else [])
    with Kinesind(args=args) as kd:
        c = boto3_client(kd.endpoint)
        create_active(c, "load", 4)
        ls = proxy(kd.port)
        bin_ = os.path.join(os.environ.get("KN_BIN") or os.path.join(os.environ["KN_SRC"], "build", "bin"), "kinesin")
        lines = "".join('{"k":"key-%d","i":%d}\n' % (i % KEYS, i) for i in range(N))
        extra = ["--aggregate", "--producer-option", "RateLimit=300", "--producer-option", "AggregationMaxSize=8192"] \
            if aggregate else []
        t0 = time.monotonic()
        p = subprocess.run([bin_, "--endpoint", "http://127.0.0.1:%d" % ls.getsockname()[1], "put", "load",
                            "--key-field", "k", "--report"] + extra, input=lines, capture_output=True, text=True,
                           timeout=100)
        secs = time.monotonic() - t0
        eq(p.returncode, 0, "kinesin put exit code (stderr %s)" % p.stderr)
        ls.close()
        check(stats["dropped"] and stats["closed"] and stats["throttled"] and stats["entries_failed"],
              "the proxy injected every kind of fault: %r" % stats)
        reports = {}
        for line in p.stdout.splitlines():
            r = json.loads(line)
            if r["Record"] in reports:
                fail("two delivery reports for record %d: %r and %r" % (r["Record"], reports[r["Record"]], r))
            if "ErrorCode" in r:
                fail("record %d failed: %r" % (r["Record"], r))
            reports[r["Record"]] = r
        eq(len(reports), N, "delivery reports")
        out = subprocess.run([bin_, "--endpoint", kd.endpoint, "--output", "json", "cat", "load"], capture_output=True,
                             text=True, timeout=50)
        eq(out.returncode, 0, "cat exit code (%s)" % out.stderr)
        got = []
        for x in out.stdout.splitlines():
            rec = json.loads(x)
            body = json.loads(base64.b64decode(rec["Data"]))
            rep = reports.get(body["i"] + 1)
            if rep and (rep["SequenceNumber"], rep["SubSequenceNumber"], rep["ShardId"]) != \
                    (rec["SequenceNumber"], rec.get("SubSequenceNumber", 0), rec["ShardId"]):
                fail("record %d: reported %r, read back at %r" % (body["i"], rep, rec))
            got.append(body)
        per_key = {}
        for r in got:
            per_key.setdefault(r["k"], []).append(r["i"])
        eq(len(got), N, "records read back (duplicates or losses)")
        eq(sorted(r["i"] for r in got), list(range(N)), "every record exactly once")
        for k, seq in per_key.items():
            if seq != sorted(seq):
                fail("key %s out of order: %r" % (k, seq[:20]))
        aggregated = sum(1 for r in reports.values() if r["Aggregated"])
        retried = sum(1 for r in reports.values() if r["Attempts"] > 1)
        if aggregate:
            check(aggregated > N / 2, "most records travelled in aggregates (%d of %d)" % (aggregated, N))
        else:
            eq(aggregated, 0, "records in aggregates without --aggregate")
        check(retried > 0, "some records needed more than one attempt")
        print("%s: %d records in %.1f s (%.0f/s), %d retried, through faults %r"
              % ("aggregated" if aggregate else "plain", N, secs, N / secs, retried, stats))


def test():
    run_pass(False)
    run_pass(True)


main(test)
