"""Helpers for the kinesin-kcl integration tests (30-39): run kinesin-kcl workers with the
seed-style aws-kcl processor (kcl_seed_processor.js) against a Kinesind, and read what they did.

    from kn_kcl import KclApp
    app = KclApp(kd, stream="s", name="app", failover_ms=3000)
    w1 = app.worker("w1")          # started; stop() = SIGTERM + wait, kill() = SIGKILL
    c1 = app.lib_worker("c1")      # the same, a kn_consumer process (tests/tools/kn_consumer_worker)
    app.wait_records(datas, timeout=30)
    app.leases()                   # {shardId: item as plain dict}
"""

import json
import os
import signal
import subprocess
import time

from kn import REGION, Kinesind, check, fail, main, terminate

HERE = os.path.dirname(os.path.abspath(__file__))


def kcl_bin():
    d = os.environ.get("KN_BIN") or os.path.join(os.environ.get("KN_SRC", os.path.join(HERE, "..", "..")), "build", "bin")
    return os.path.join(d, "kinesin-kcl")


def consumer_worker_bin():
    d = os.environ.get("KN_TEST_BIN") or os.path.join(os.environ.get("KN_SRC", os.path.join(HERE, "..", "..")),
                                                      "build", "tests")
    return os.path.join(d, "kn_consumer_worker")


def ddb_client(endpoint):
    import boto3
    from botocore.config import Config
    return boto3.client("dynamodb", endpoint_url=endpoint, region_name=REGION,
                        aws_access_key_id="AKIAKINESINTEST", aws_secret_access_key="secret",
                        config=Config(retries={"total_max_attempts": 2, "mode": "standard"}))


def plain(item):
    out = {}
    for k, v in item.items():
        (t, x), = v.items()
        if t == "N":
            out[k] = int(x) if x.lstrip("-").isdigit() else float(x)  # throughputKBps is fractional
        else:
            out[k] = sorted(x) if t == "SS" else x
    return out


_workers = []


class Worker:
    """A kinesin-kcl worker, or (library=True) a kn_consumer process with the same settings."""

    def __init__(self, app, worker_id, extra=None, library=False, args=()):
        self.app = app
        self.worker_id = worker_id
        self.props = os.path.join(app.dir, "%s.properties" % worker_id)
        self.log_path = os.path.join(app.dir, "%s.log" % worker_id)
        lines = dict(app.props)
        lines["workerId"] = worker_id
        lines.update(extra or {})
        with open(self.props, "w") as f:
            for k, v in lines.items():
                f.write("%s = %s\n" % (k, v))
        self.started = time.monotonic()
        self.log = open(self.log_path, "ab")
        env = dict(os.environ)
        env["KCL_OUT"] = app.out
        if library:
            argv = [consumer_worker_bin(), app.out] + ["%s=%s" % kv for kv in lines.items() if kv[0] != "executableName"]
        else:
            argv = [kcl_bin(), "--properties", self.props] + list(args)
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log, env=env,
                                     cwd=HERE)
        _workers.append(self)

    def alive(self):
        return self.proc.poll() is None

    def stop(self, timeout=15):
        if not terminate(self.proc, timeout):
            fail("worker %s did not exit within %ss of SIGTERM\n%s" % (self.worker_id, timeout, self.text()))
        return self.proc.returncode

    def kill(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        return self.proc.returncode

    def text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def rss_kb(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return None


def cleanup_workers():
    for w in _workers:
        try:
            w.kill()
        except Exception:
            pass
    # Orphaned record processors (a SIGKILLed worker's children see EOF and exit by
    # themselves); give them a moment.
    time.sleep(0.2)


def dump_workers():
    for w in _workers:
        print("\n----- worker %s -----\n%s" % (w.worker_id, w.text()[-15000:]))


class KclApp:
    def __init__(self, kd, stream, name, failover_ms=3000, idle_ms=100, extra=None):
        self.kd = kd
        self.dir = os.path.join(kd.tmp, "kcl-" + name)
        os.makedirs(self.dir, exist_ok=True)
        self.out = os.path.join(self.dir, "processed.jsonl")
        open(self.out, "a").close()
        self.name = name
        self.ddb = ddb_client(kd.endpoint)
        self.props = {
            "executableName": "node kcl_seed_processor.js",
            "streamName": stream,
            "applicationName": name,
            "AWSCredentialsProvider": "DefaultCredentialsProvider",
            "initialPositionInStream": "TRIM_HORIZON",
            "regionName": REGION,
            "kinesisEndpoint": kd.endpoint,
            "dynamoDBEndpoint": kd.endpoint,
            "failoverTimeMillis": str(failover_ms),
            "idleTimeBetweenReadsInMillis": str(idle_ms),
            "parentShardPollIntervalMillis": "500",
            "shardSyncIntervalMillis": "2000",
            "taskBackoffTimeMillis": "500",
        }
        self.props.update(extra or {})

    def worker(self, worker_id, extra=None, args=()):
        return Worker(self, worker_id, extra, args=args)

    def lib_worker(self, worker_id, extra=None):
        return Worker(self, worker_id, extra, library=True)

    def events(self):
        # Processors append to the file while we read it: a line without its newline is still
        # being written and is read next time.
        with open(self.out) as f:
            return [json.loads(line) for line in f if line.endswith("\n") and line.strip()]

    def processed(self):
        return [e for e in self.events() if e["ev"] == "record"]

    def wait_records(self, datas, timeout=30.0):
        want = set(datas)
        deadline = time.monotonic() + timeout
        while True:
            got = {e["data"] for e in self.processed()}
            missing = want - got
            if not missing:
                return
            if time.monotonic() > deadline:
                fail("%d of %d records not processed within %.0fs, e.g. %r"
                     % (len(missing), len(want), timeout, sorted(missing)[:5]))
            time.sleep(0.1)

    def leases(self):
        items = []
        kw = {"TableName": self.name}
        while True:
            r = self.ddb.scan(**kw)
            items += r["Items"]
            if not r.get("LastEvaluatedKey"):
                break
            kw["ExclusiveStartKey"] = r["LastEvaluatedKey"]
        return {i["leaseKey"]["S"]: plain(i) for i in items}

    def owners(self):
        """{shardId: owner}, "" for an unowned lease."""
        return {k: v.get("leaseOwner") or "" for k, v in self.leases().items()}

    def wait_owners(self, pred, timeout, what):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                last = self.owners()
            except Exception as e:  # the table may not exist yet
                last = repr(e)
            if not isinstance(last, str) and pred(last):
                return last
            time.sleep(0.1)
        fail("%s: not reached within %.0fs; owners %r" % (what, timeout, last))


def put(client, stream, prefix, n, pk=None):
    """Puts n records 'prefix-i' (partition key pk or a varying one); returns their datas."""
    datas = []
    for i in range(0, n, 100):
        batch = [{"Data": ("%s-%d" % (prefix, j)).encode(), "PartitionKey": pk or ("%s-pk-%d" % (prefix, j))}
                 for j in range(i, min(n, i + 100))]
        r = client.put_records(StreamName=stream, Records=batch)
        check(r["FailedRecordCount"] == 0, "PutRecords failed: %r" % r)
        datas += [b["Data"].decode() for b in batch]
    return datas


def put_aggregated(kd, stream, prefix, n):
    """Puts n user records 'prefix-i' KPL-aggregated (kinesin put --aggregate); returns their datas."""
    bin_ = os.path.join(os.environ.get("KN_BIN") or os.path.join(os.environ["KN_SRC"], "build", "bin"), "kinesin")
    datas = ["%s-%d" % (prefix, i) for i in range(n)]
    p = subprocess.run([bin_, "--endpoint", kd.endpoint, "put", stream, "--aggregate"], input="\n".join(datas) + "\n",
                       capture_output=True, text=True, timeout=60)
    check(p.returncode == 0, "kinesin put --aggregate: status %d (%s)" % (p.returncode, p.stderr))
    return datas


def last_sequence_numbers(client, stream):
    """{shardId: sequence number of its last record} by reading every shard."""
    out = {}
    for s in client.list_shards(StreamName=stream)["Shards"]:
        it = client.get_shard_iterator(StreamName=stream, ShardId=s["ShardId"],
                                       ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        last = None
        while it:
            r = client.get_records(ShardIterator=it)
            if r["Records"]:
                last = r["Records"][-1]["SequenceNumber"]
            it = r.get("NextShardIterator")
            if not r["Records"] and r.get("MillisBehindLatest", 0) == 0:
                break
        out[s["ShardId"]] = last
    return out


def main_with_workers(run, **kinesind_args):
    """Runs run(kd) against a fresh kinesind as a test (kn.main): on a failure every worker's log
    is printed; the workers are always stopped."""
    def test():
        with Kinesind(**kinesind_args) as kd:
            try:
                run(kd)
            except BaseException:
                dump_workers()
                raise
            finally:
                cleanup_workers()

    main(test)
