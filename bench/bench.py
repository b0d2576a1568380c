#!/usr/bin/env python3
"""kinesin benchmark: kinesind and kinesalite under the same load, in one run.

Scenarios (each with 1 and 16 connections, driven by wrk so no client library is measured):
PutRecord 100 B; PutRecords 500 x 100 B; PutRecords 5 x 25 KiB; GetRecords read-out of a
pre-filled shard (Limit 10000). Then put->get latency with a polling reader (one writer, one
reader, plain HTTP). Then kinesind alone, 16 connections, PutRecord 100 B with random partition
keys into streams of 1, 4, 64 and 256 shards under --fsync always, and 4 shards under --fsync
never (what the shared journal is for: the cost of a durable batch must not grow with the shards
it touches). Prints the tables (kinesind/kinesalite ratio per row) and writes them to
docs/benchmarks.md with the machine and the date.

Usage: bench/run [--seconds N] [--prefill N] [--only kinesind|kinesalite] [--scenario all|shards]
KN_BENCH_KINESIND=PATH runs another kinesind build (to compare two builds in one window).
Loopback only; every load is bounded in time."""

import argparse
import base64
import datetime
import http.client
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WRK_SCRIPT = os.path.join(ROOT, "bench", "wrk", "kinesis.lua")
HEADERS = {
    "Content-Type": "application/x-amz-json-1.1",
    "X-Amz-Date": "20260101T000000Z",
    "Authorization": "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/kinesis/aws4_request, "
                     "SignedHeaders=host;x-amz-date, Signature=0000",
}
TICK = os.sysconf("SC_CLK_TCK")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Server:
    def __init__(self, kind, tmp, fsync="always", binary=None):
        self.kind = kind
        self.port = free_port()
        self.log = open(os.path.join(tmp, "%s-%s.log" % (kind, fsync)), "wb")
        if kind == "kinesind":
            binary = (binary or os.environ.get("KN_BENCH_KINESIND") or
                      os.path.join(ROOT, "build-bench", "bin", "kinesind"))
            argv = [binary, "--port", str(self.port),
                    "--data-dir", os.path.join(tmp, "kinesind-data-" + fsync), "--create-stream-ms", "0",
                    "--shard-limit", "10000", "--fsync", fsync]
        else:
            argv = ["node", os.path.join(ROOT, "bench", "node_modules", "kinesalite", "cli.js"),
                    "--port", str(self.port), "--createStreamMs", "0", "--shardLimit", "10000"]
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=self.log, stdin=subprocess.DEVNULL)
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                self.call("ListStreams", {})
                return
            except OSError:
                time.sleep(0.05)
        raise SystemExit("%s did not start" % kind)

    def call(self, op, payload, conn=None):
        c = conn or http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        h = dict(HEADERS)
        h["X-Amz-Target"] = "Kinesis_20131202." + op
        c.request("POST", "/", body=json.dumps(payload), headers=h)
        r = c.getresponse()
        body = r.read()
        if conn is None:
            c.close()
        if r.status != 200:
            raise RuntimeError("%s %s: %d %s" % (self.kind, op, r.status, body[:300]))
        return json.loads(body) if body else {}

    def cpu_seconds(self):
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK

    def rss(self):
        vals = {}
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "VmHWM"):
                    vals[k] = int(v.split()[0]) / 1024.0
        return vals

    def create(self, name, shards):
        self.call("CreateStream", {"StreamName": name, "ShardCount": shards})
        for _ in range(200):
            if self.call("DescribeStreamSummary", {"StreamName": name})["StreamDescriptionSummary"][
                    "StreamStatus"] == "ACTIVE":
                return
            time.sleep(0.05)
        raise SystemExit("%s: stream %s never became ACTIVE" % (self.kind, name))

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def b64(n, seed):
    raw = (seed * (n // len(seed) + 1))[:n]
    return base64.b64encode(raw).decode()


def put_records_body(stream, count, size):
    return json.dumps({"StreamName": stream, "Records": [
        {"Data": b64(size, b"record-%d-" % i), "PartitionKey": "pk-%d" % i} for i in range(count)]})


def run_wrk(server, op, body_file, conns, seconds, iterator_file=None):
    argv = ["wrk", "-t", str(min(conns, 2)), "-c", str(conns), "-d", "%ds" % seconds, "--timeout", "10s",
            "-s", WRK_SCRIPT, "http://127.0.0.1:%d/" % server.port, "--", op, body_file]
    if iterator_file:
        argv.append(iterator_file)
    cpu0, t0 = server.cpu_seconds(), time.time()
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    cpu = (server.cpu_seconds() - cpu0) / (time.time() - t0)
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if not line:
        raise SystemExit("wrk failed: %s %s" % (out.stdout, out.stderr))
    r = json.loads(line[-1])
    secs = r["duration_us"] / 1e6
    return {
        "req_s": r["requests"] / secs,
        "rec_s": r["records"] / secs,
        "mb_s": r["bytes_in"] / secs / 1e6 if "bytes_in" in r else None,
        "p50_ms": r["p50_us"] / 1000.0,
        "p99_ms": r["p99_us"] / 1000.0,
        "cpu": cpu * 100,
        "errors": r["errors"] + r["socket_errors"],
        "resp_bytes": r["bytes"],
        "secs": secs,
    }


def prefill(server, stream, total):
    """Fills a one-shard stream with `total` 100-byte records using PutRecords of 500."""
    server.create(stream, 1)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    body = json.loads(put_records_body(stream, 500, 100))
    for _ in range(total // 500):
        server.call("PutRecords", body, conn)
    conn.close()
    it = server.call("GetShardIterator", {"StreamName": stream, "ShardId": "shardId-000000000000",
                                          "ShardIteratorType": "TRIM_HORIZON"})["ShardIterator"]
    # bytes per returned record in this server's encoding, to count records from bytes read
    c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    h = dict(HEADERS)
    h["X-Amz-Target"] = "Kinesis_20131202.GetRecords"
    c.request("POST", "/", body=json.dumps({"ShardIterator": it, "Limit": 10000}), headers=h)
    page = c.getresponse().read()
    c.close()
    n = len(json.loads(page)["Records"])
    return it, len(page) / n


def latency(server, stream, seconds):
    """One writer puts a record every 10 ms; one reader polls GetRecords back to back (1 ms pause
    when empty). Returns put->get latencies in ms (from before the put to the read)."""
    server.create(stream, 1)
    sent = {}
    got = []
    stop = threading.Event()

    def reader():
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        it = server.call("GetShardIterator", {"StreamName": stream, "ShardId": "shardId-000000000000",
                                              "ShardIteratorType": "LATEST"}, conn)["ShardIterator"]
        while not stop.is_set():
            r = server.call("GetRecords", {"ShardIterator": it}, conn)
            now = time.perf_counter()
            for rec in r["Records"]:
                key = rec["PartitionKey"]
                if key in sent:
                    got.append((now - sent[key]) * 1000.0)
            it = r["NextShardIterator"]
            if not r["Records"]:
                time.sleep(0.001)
        conn.close()

    t = threading.Thread(target=reader)
    t.start()
    time.sleep(0.2)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    end = time.time() + seconds
    i = 0
    while time.time() < end:
        key = "lat-%d" % i
        sent[key] = time.perf_counter()
        server.call("PutRecord", {"StreamName": stream, "PartitionKey": key, "Data": b64(100, b"x")}, conn)
        i += 1
        time.sleep(0.01)
    time.sleep(0.5)
    stop.set()
    t.join()
    conn.close()
    got.sort()
    if not got:
        return None
    return {"n": len(got), "p50_ms": got[len(got) // 2], "p99_ms": got[min(len(got) - 1, int(len(got) * 0.99))]}


SHARD_COUNTS = (1, 4, 64, 256)


def shard_scenarios(tmp, seconds):
    """PutRecord 100 B, random keys, 16 connections: by shard count under --fsync always, and 4
    shards under --fsync never. Returns {(fsync, shards): wrk result}."""
    path = os.path.join(tmp, "PutRecord_random_key.json")
    out = {}
    for fsync, counts in (("always", SHARD_COUNTS), ("never", (4,))):
        srv = Server("kinesind", tmp, fsync=fsync)
        try:
            for n in counts:
                name = "shards%d" % n
                srv.create(name, n)
                with open(path, "w") as f:
                    f.write(json.dumps({"StreamName": name, "PartitionKey": "@PK@", "Data": b64(100, b"data")}))
                r = run_wrk(srv, "PutRecord", path, 16, seconds)
                out[(fsync, n)] = r
                print("%-10s PutRecord 100 B random key %3d shards c=16 --fsync %-6s %10s req/s  p50 %6.2f ms  "
                      "p99 %7.2f ms  cpu %3.0f%%%s" % ("kinesind", n, fsync, fmt(r["req_s"]), r["p50_ms"], r["p99_ms"],
                                                    r["cpu"], "  errors %d" % r["errors"] if r["errors"] else ""),
                      flush=True)
        finally:
            srv.stop()
    return out


def big_records(tmp, seconds):
    """PutRecord of 1 MiB (the largest record: key and data), 16 connections, --fsync always, on
    a fresh kinesind: its throughput and its resident memory when the run ends, one second later
    (kinesind hands a burst's heap back to the kernel once it is idle) and at peak."""
    path = os.path.join(tmp, "PutRecord_1MiB.json")
    size = 1048576 - len("pk")
    with open(path, "w") as f:
        f.write(json.dumps({"StreamName": "big", "PartitionKey": "pk", "Data": b64(size, b"big-record")}))
    srv = Server("kinesind", tmp, fsync="always")
    try:
        srv.create("big", 4)
        r = run_wrk(srv, "PutRecord", path, 16, seconds)
        r["mb_s"] = r["req_s"] * size / 1e6
        r.update(srv.rss())
        time.sleep(1)
        r["idle_rss"] = srv.rss().get("VmRSS", 0)
    finally:
        srv.stop()
    print("%-10s PutRecord 1 MiB            c=16 %10s req/s %8.0f MB/s  p50 %6.2f ms  p99 %7.2f ms  cpu %3.0f%%  "
          "RSS %.1f MB, %.1f MB 1 s later (peak %.1f MB)%s" % ("kinesind", fmt(r["req_s"]), r["mb_s"], r["p50_ms"],
                                             r["p99_ms"], r["cpu"], r["VmRSS"], r["idle_rss"], r["VmHWM"], "  errors %d" % r["errors"] if r["errors"] else ""),
          flush=True)
    return r


def big_table(r):
    return ("| scenario | req/s | MB/s | p50 / p99 ms | CPU | RSS at the end | RSS 1 s later | peak RSS |\n"
            "|---|---|---|---|---|---|---|---|\n"
            "| PutRecord 1 MiB, 16 connections | %s | %.0f | %.2f / %.2f | %.0f%% | %.1f MB | %.1f MB | %.1f MB |"
            % (fmt(r["req_s"]), r["mb_s"], r["p50_ms"], r["p99_ms"], r["cpu"], r["VmRSS"], r["idle_rss"], r["VmHWM"]))


def shard_table(res):
    one = res.get(("always", 1))
    rows = ["| shards | --fsync | req/s | p50 / p99 ms | CPU | vs 1 shard (always) |", "|---|---|---|---|---|---|"]
    for (fsync, n), r in res.items():
        rows.append("| %d | %s | %s | %.2f / %.2f | %.0f%% | %s |" % (
            n, fsync, fmt(r["req_s"]), r["p50_ms"], r["p99_ms"], r["cpu"],
            "%.0f%%" % (100.0 * r["req_s"] / one["req_s"]) if one else "-"))
    a4, n4 = res.get(("always", 4)), res.get(("never", 4))
    note = ("4 shards, always / never: %.0f%%" % (100.0 * a4["req_s"] / n4["req_s"])) if a4 and n4 else ""
    return "\n".join(rows) + ("\n\n" + note if note else "")


def fmt(v, digits=0):
    if v is None:
        return "-"
    if v >= 100 or digits == 0:
        return "{:,.0f}".format(v)
    return "{:,.{d}f}".format(v, d=digits)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--prefill", type=int, default=100000)
    ap.add_argument("--only", choices=["kinesind", "kinesalite"])
    ap.add_argument("--no-write", action="store_true", help="do not write docs/benchmarks.md")
    ap.add_argument("--scenario", choices=["all", "shards", "big"], default="all",
                    help="shards: only the shard-count runs; big: only the 1 MiB records (printed, not written)")
    args = ap.parse_args()
    load0 = os.getloadavg()[0]
    if args.scenario in ("shards", "big"):
        tmp = tempfile.mkdtemp(prefix="kn-bench-")
        try:
            table = (shard_table(shard_scenarios(tmp, args.seconds)) if args.scenario == "shards" else
                     big_table(big_records(tmp, args.seconds)))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        print()
        print(table)
        return
    kinds = [args.only] if args.only else ["kinesind", "kinesalite"]
    tmp = tempfile.mkdtemp(prefix="kn-bench-")
    bodies = {
        "PutRecord 100 B": ("PutRecord", json.dumps({"StreamName": "bench", "PartitionKey": "pk",
                                                     "Data": b64(100, b"data")}), 1),
        "PutRecords 500 x 100 B": ("PutRecords", put_records_body("bench", 500, 100), 500),
        "PutRecords 5 x 25 KiB": ("PutRecords", put_records_body("bench", 5, 25600), 5),
    }
    files = {}
    for name, (op, body, _) in bodies.items():
        path = os.path.join(tmp, name.replace(" ", "_") + ".json")
        with open(path, "w") as f:
            f.write(body)
        files[name] = path
    payload_bytes = {name: len(json.loads(b)["Data"]) * 3 // 4 if op == "PutRecord" else
                     sum(len(r["Data"]) * 3 // 4 for r in json.loads(b)["Records"])
                     for name, (op, b, _) in bodies.items()}
    results = {}
    relaxed = {}
    mem = {}
    lat = {}
    try:
        for kind in kinds:
            srv = Server(kind, tmp)
            try:
                srv.create("bench", 4)
                for name in bodies:
                    op = bodies[name][0]
                    for conns in (1, 16):
                        r = run_wrk(srv, op, files[name], conns, args.seconds)
                        r["mb_s"] = r["req_s"] * payload_bytes[name] / 1e6
                        results[(kind, name, conns)] = r
                        print("%-10s %-26s c=%-2d %10s req/s %12s rec/s  p50 %6.2f ms  p99 %7.2f ms  cpu %3.0f%%%s"
                              % (kind, name, conns, fmt(r["req_s"]), fmt(r["rec_s"]), r["p50_ms"], r["p99_ms"],
                                 r["cpu"], "  errors %d" % r["errors"] if r["errors"] else ""), flush=True)
                it, per_record = prefill(srv, "readout", args.prefill)
                itf = os.path.join(tmp, "iterator-%s" % kind)
                with open(itf, "w") as f:
                    f.write(it + "\n")
                for conns in (1, 16):
                    r = run_wrk(srv, "GetRecords", files["PutRecord 100 B"], conns, args.seconds, itf)
                    r["rec_s"] = r["resp_bytes"] / per_record / r["secs"]
                    r["mb_s"] = r["rec_s"] * 100 / 1e6
                    results[(kind, "GetRecords read-out (Limit 10000)", conns)] = r
                    print("%-10s %-26s c=%-2d %10s req/s %12s rec/s  p50 %6.2f ms  p99 %7.2f ms  cpu %3.0f%%"
                          % (kind, "GetRecords read-out", conns, fmt(r["req_s"]), fmt(r["rec_s"]), r["p50_ms"],
                             r["p99_ms"], r["cpu"]), flush=True)
                lat[kind] = latency(srv, "latency", args.seconds)
                print("%-10s put->get latency: %s" % (kind, lat[kind]), flush=True)
                mem[kind] = srv.rss()
                print("%-10s memory after the run: %s" % (kind, mem[kind]), flush=True)
            finally:
                srv.stop()
        if "kinesind" in kinds:
            # the same writes with syncing on a timer: what --fsync interval buys
            srv = Server("kinesind", tmp, fsync="interval=1000")
            try:
                srv.create("bench", 4)
                for name in ("PutRecord 100 B", "PutRecords 500 x 100 B"):
                    r = run_wrk(srv, bodies[name][0], files[name], 16, args.seconds)
                    relaxed[name] = r
                    print("%-10s %-26s c=16 %10s req/s %12s rec/s  (--fsync interval=1000)"
                          % ("kinesind", name, fmt(r["req_s"]), fmt(r["rec_s"])), flush=True)
            finally:
                srv.stop()
        shards = shard_scenarios(tmp, args.seconds) if "kinesind" in kinds else {}
        big = big_records(tmp, args.seconds) if "kinesind" in kinds else None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    rows = []
    header = ("| scenario | conns | kinesind req/s | kinesind records/s | kinesind MB/s | kinesind p50 / p99 ms "
              "| kinesind CPU | kinesalite req/s | kinesalite records/s | kinesalite MB/s "
              "| kinesalite p50 / p99 ms | kinesalite CPU | ratio (records/s) |")
    rows.append(header)
    rows.append("|" + "---|" * 13)
    names = list(bodies) + ["GetRecords read-out (Limit 10000)"]
    for name in names:
        for conns in (1, 16):
            cells = [name, str(conns)]
            vals = []
            for kind in ("kinesind", "kinesalite"):
                r = results.get((kind, name, conns))
                if r is None:
                    cells += ["-"] * 5
                    vals.append(None)
                    continue
                cells += [fmt(r["req_s"]), fmt(r["rec_s"]), fmt(r["mb_s"], 1),
                          "%.2f / %.2f" % (r["p50_ms"], r["p99_ms"]), "%.0f%%" % r["cpu"]]
                vals.append(r["rec_s"])
            cells.append("%.1f×" % (vals[0] / vals[1]) if all(vals) else "-")
            rows.append("| " + " | ".join(cells) + " |")
    lrow = ["put→get latency (polling reader)", "1"]
    for kind in ("kinesind", "kinesalite"):
        v = lat.get(kind)
        lrow += ["-", "-", "-", "%.2f / %.2f" % (v["p50_ms"], v["p99_ms"]) if v else "-", "-"]
    lv = [lat.get(k) for k in ("kinesind", "kinesalite")]
    lrow.append("%.1f× faster (p50)" % (lv[1]["p50_ms"] / lv[0]["p50_ms"]) if all(lv) else "-")
    rows.append("| " + " | ".join(lrow) + " |")
    mem_line = "; ".join("%s RSS %.1f MB (peak %.1f MB)" % (k, v.get("VmRSS", 0), v.get("VmHWM", 0))
                         for k, v in mem.items())
    table = "\n".join(rows)
    if relaxed:
        rel = ["", "With `--fsync interval=1000` (acknowledged after write(), synced every second), 16 connections:", "",
               "| scenario | kinesind req/s | kinesind records/s | p50 / p99 ms | CPU | ratio to kinesalite (records/s) |",
               "|---|---|---|---|---|---|"]
        for name, r in relaxed.items():
            k = results.get(("kinesalite", name, 16))
            rel.append("| %s | %s | %s | %.2f / %.2f | %.0f%% | %s |" % (
                name, fmt(r["req_s"]), fmt(r["rec_s"]), r["p50_ms"], r["p99_ms"], r["cpu"],
                "%.1f×" % (r["rec_s"] / k["rec_s"]) if k else "-"))
        table += "\n" + "\n".join(rel)
    if shards:
        table += ("\n\nkinesind alone, PutRecord 100 B with a random partition key per request, 16 connections, "
                  "by the stream's shard count:\n\n" + shard_table(shards))
    if big:
        table += ("\n\nkinesind alone, the largest records, on a fresh server with `--fsync always` (a 4-shard stream; "
                  "memory read when the run ends and again after a second idle):\n\n" + big_table(big))
    print()
    print(table)
    print()
    print("Memory after the whole run: " + mem_line)

    if args.no_write or args.only:
        return
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    doc = """# Benchmarks

Produced by `make bench` (`bench/run`): kinesind and kinesalite {kl} run one after the other on
the same machine under the same load, driven by `wrk` with `bench/wrk/kinesis.lua` (so neither
server's client library is measured). Each cell is a {secs}-second run; "records/s" counts records
acknowledged (puts) or returned (GetRecords). Ratios are kinesind / kinesalite.

kinesind runs with `--fsync always` (every acknowledged record is on disk: fdatasync, group
committed); kinesalite keeps everything in memory and never syncs. Under `always` a batch of
requests waits for one `fdatasync` of the shared journal, two batches syncing at once
(docs/durability.md), so the PutRecord rows depend on the disk's flush latency as much as on
CPU: on a shared machine, other work's disk traffic slows them most.

- Date: {date}
- Machine: {cpu}, {ncpu} CPUs, {mem:.0f} GiB RAM, {kernel}; 1-minute load average
  {load0:.1f} at the start and {load1:.1f} at the end (other work on the machine slows every figure)
- Load: PutRecord 100 B; PutRecords 500 × 100 B; PutRecords 5 × 25 KiB into a 4-shard stream;
  GetRecords (Limit 10000) read-out of a 1-shard stream pre-filled with {prefill} records of 100 B;
  put→get latency: one writer (a PutRecord every 10 ms) and one reader polling GetRecords back to
  back, over plain HTTP.

{table}

Memory after the whole run: {mem_line}.
""".format(kl="3.3.3", secs=args.seconds, date=datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M UTC"),
           cpu=cpu, ncpu=os.cpu_count(), mem=os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30,
           kernel=platform.platform(), load0=load0, load1=os.getloadavg()[0], prefill=args.prefill, table=table, mem_line=mem_line)
    with open(os.path.join(ROOT, "docs", "benchmarks.md"), "w") as f:
        f.write(doc)
    print("wrote docs/benchmarks.md")


if __name__ == "__main__":
    main()
