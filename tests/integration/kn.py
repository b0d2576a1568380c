"""Helpers shared by the Python integration tests.

Every test starts its own kinesind on a free loopback port with a fresh temp dir:

    from kn import Kinesind, boto3_client, main

    def test():
        with Kinesind() as kd:
            c = boto3_client(kd.endpoint)
            ...

    main(test)

`main` runs the test, prints a traceback plus the stderr of every kinesind started by the
test when it fails, and exits 0 / 1.
"""

import base64
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

ACCOUNT = "000000000000"
REGION = "us-east-1"
UUID_RE = re.compile(r"^[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}$")
# A well-formed (never verified) SigV4 Authorization header, as the AWS clients send it.
AUTH = ("AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/kinesis/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=abcd")
AMZ_DATE = "20240101T000000Z"
JSON_CT = "application/x-amz-json-1.1"

_servers = []  # every Kinesind started in this process, for failure reports and cleanup


class TestFailure(AssertionError):
    pass


def fail(msg):
    raise TestFailure(msg)


def check(cond, msg):
    if not cond:
        fail(msg)


def eq(actual, expected, what):
    if actual != expected:
        fail("%s:\n  expected: %r\n  actual:   %r" % (what, expected, actual))


def stream_arn(name):
    return "arn:aws:kinesis:%s:%s:stream/%s" % (REGION, ACCOUNT, name)


def kn_bin():
    d = os.environ.get("KN_BIN")
    if not d:
        src = os.environ.get("KN_SRC") or os.path.abspath(
            os.path.join(os.path.dirname(__file__), "..", ".."))
        d = os.path.join(src, "build", "bin")
    return os.path.join(d, "kinesind")


def vm_hwm_mb(pid):
    """Peak resident memory of process pid, in MB."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return 0


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def terminate(proc, timeout):
    """SIGTERM, then wait up to timeout; a process still running then is SIGKILLed. Returns
    False when it had to be killed."""
    if proc.poll() is not None:
        return True
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
        return True
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return False


class Kinesind:
    """One kinesind process on a free port.

    data_dir: use this data dir (restart tests) instead of <tmp>/data.
    in_memory: pass --in-memory.
    args: extra command-line arguments.
    """

    def __init__(self, data_dir=None, in_memory=False, create_ms=50, delete_ms=50,
                 update_ms=50, shard_limit=None, log_level=None, args=(), port=None,
                 ready_timeout=10.0):
        self.tmp = tempfile.mkdtemp(prefix="kn-test-")
        self.data_dir = data_dir or os.path.join(self.tmp, "data")
        self.in_memory = in_memory
        self.port = port or free_port()
        self.endpoint = "http://127.0.0.1:%d" % self.port
        self.log_path = os.path.join(self.tmp, "kinesind.stderr")
        self.ready_timeout = ready_timeout
        self.argv = [kn_bin(), "--host", "127.0.0.1", "--port", str(self.port),
                     "--data-dir", self.data_dir]
        if in_memory:
            self.argv.append("--in-memory")
        if create_ms is not None:
            self.argv += ["--create-stream-ms", str(create_ms)]
        if delete_ms is not None:
            self.argv += ["--delete-stream-ms", str(delete_ms)]
        if update_ms is not None:
            self.argv += ["--update-stream-ms", str(update_ms)]
        if shard_limit is not None:
            self.argv += ["--shard-limit", str(shard_limit)]
        if log_level is not None:
            self.argv += ["--log-level", log_level]
        self.argv += list(args)
        self.proc = None
        self.returncode = None
        _servers.append(self)

    # -- lifecycle -------------------------------------------------------------------------
    def start(self):
        if not os.path.exists(self.argv[0]):
            fail("kinesind binary not found at %s (build first)" % self.argv[0])
        self._log = open(self.log_path, "ab")
        # Where this run's output begins; taken before the child can write (the child shares
        # the file offset, so tell() after Popen could already be past its first lines).
        start_size = os.fstat(self._log.fileno()).st_size
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=self._log)
        self.returncode = None
        want = ("listening on 127.0.0.1:%d" % self.port).encode()
        deadline = time.monotonic() + self.ready_timeout
        while True:
            with open(self.log_path, "rb") as f:
                f.seek(start_size)
                if want in f.read():
                    return self
            rc = self.proc.poll()
            if rc is not None:
                self.returncode = rc
                fail("kinesind exited with %d before listening; argv=%s\n%s"
                     % (rc, " ".join(self.argv), self.log()))
            if time.monotonic() > deadline:
                self.kill()
                fail("kinesind did not print %r within %.0fs; argv=%s\n%s"
                     % (want.decode(), self.ready_timeout, " ".join(self.argv), self.log()))
            time.sleep(0.02)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=10.0):
        """SIGTERM, wait; returns the exit code (negative = killed by that signal)."""
        if self.proc is None:
            return self.returncode
        pid = self.proc.pid
        if not terminate(self.proc, timeout):
            self._finish()
            fail("kinesind (pid %d) did not exit within %.0fs of SIGTERM\n%s" % (pid, timeout, self.log()))
        self._finish()
        return self.returncode

    def kill(self):
        """SIGKILL, wait; returns the exit code."""
        if self.proc is None:
            return self.returncode
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        self._finish()
        return self.returncode

    def _finish(self):
        self.returncode = self.proc.returncode
        self.proc = None
        try:
            self._log.close()
        except Exception:
            pass

    def restart(self, **kw):
        """Stop (SIGTERM) and start again on the same port and data dir."""
        self.stop(**kw)
        return self.start()

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return "(no log)"

    def cleanup(self):
        if self.proc is not None:
            self.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        if self.proc is None:
            self.start()
        return self

    def __exit__(self, et, ev, tb):
        if self.proc is not None:
            if self.proc.poll() is not None:
                self._finish()
                if et is None:
                    fail("kinesind died during the test (rc %s)\n%s" % (self.returncode, self.log()))
            else:
                rc = self.stop()
                if et is None and rc != 0:  # e.g. a sanitizer's report at exit (make asan)
                    fail("kinesind exited with rc %s after SIGTERM\n%s" % (rc, self.log()[-20000:]))
        return False


# -- clients ---------------------------------------------------------------------------------

def boto3_client(endpoint, max_attempts=1, read_timeout=20):
    import boto3
    from botocore.config import Config
    cfg = Config(region_name=REGION, retries={"total_max_attempts": max_attempts, "mode": "standard"},
                 connect_timeout=5, read_timeout=read_timeout)
    return boto3.client("kinesis", endpoint_url=endpoint, region_name=REGION,
                        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "AKIAKINESINTEST"),
                        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "secret"),
                        config=cfg)


def client_error(fn, *a, **kw):
    """Call fn expecting a botocore ClientError; returns (code, message, http status)."""
    from botocore.exceptions import ClientError
    try:
        r = fn(*a, **kw)
    except ClientError as e:
        err = e.response.get("Error", {})
        return (err.get("Code"), err.get("Message"),
                e.response.get("ResponseMetadata", {}).get("HTTPStatusCode"))
    fail("%s(%r) succeeded, expected an error; response: %r" % (getattr(fn, "__name__", fn), kw, r))


def expect_error(fn, code, message=None, prefix=None, **kw):
    c, m, status = client_error(fn, **kw)
    eq(c, code, "%s(%r) error code" % (fn.__name__, kw))
    if message is not None:
        eq(m, message, "%s(%r) error message" % (fn.__name__, kw))
    if prefix is not None:
        check(m is not None and m.startswith(prefix),
              "%s(%r) error message:\n  expected prefix: %r\n  actual: %r" % (fn.__name__, kw, prefix, m))
    return c, m, status


def aws(endpoint, *args, timeout=60):
    """Runs `aws --endpoint-url E --output json ARGS`; returns (rc, json or stdout, stderr)."""
    env = dict(os.environ)
    env.setdefault("AWS_ACCESS_KEY_ID", "AKIAKINESINTEST")
    env.setdefault("AWS_SECRET_ACCESS_KEY", "kinesin-test-secret")
    env["AWS_DEFAULT_REGION"] = REGION
    env["AWS_MAX_ATTEMPTS"] = "1"
    env["AWS_RETRY_MODE"] = "standard"
    env["AWS_PAGER"] = ""
    cmd = ["aws", "--endpoint-url", endpoint, "--output", "json", "--region", REGION] + list(args)
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=timeout, env=env)
    out = p.stdout
    if out.strip():
        try:
            out = json.loads(out)
        except ValueError:
            pass
    return p.returncode, out, p.stderr


def aws_ok(endpoint, *args):
    rc, out, err = aws(endpoint, *args)
    if rc != 0:
        fail("aws %s failed (rc %d):\nstdout: %s\nstderr: %s" % (" ".join(args), rc, out, err))
    return out


def wait_active(client, name, timeout=10.0):
    """Polls DescribeStreamSummary until the stream is ACTIVE; returns the summary."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        s = client.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        last = s["StreamStatus"]
        if last == "ACTIVE":
            return s
        time.sleep(0.02)
    fail("stream %s not ACTIVE after %.0fs (last status %s)" % (name, timeout, last))


def wait_gone(client, name, timeout=10.0):
    """Polls DescribeStreamSummary until ResourceNotFoundException; returns its message."""
    from botocore.exceptions import ClientError
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = client.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamStatus"]
        except ClientError as e:
            eq(e.response["Error"]["Code"], "ResourceNotFoundException", "error while waiting for deletion")
            return e.response["Error"]["Message"]
        time.sleep(0.02)
    fail("stream %s still exists after %.0fs (last status %s)" % (name, timeout, last))


def next_whole_second():
    """Sleeps until just past the next whole second; returns it (epoch seconds, int).

    boto3 and the AWS CLI send Timestamp truncated to whole seconds, so AT_TIMESTAMP tests
    write the records that must be excluded before this boundary and the others after it.
    """
    now = time.time()
    target = int(now) + 1
    time.sleep(target - now + 0.02)
    return target


def create_active(client, name, shards):
    client.create_stream(StreamName=name, ShardCount=shards)
    return wait_active(client, name)


def read_shard(client, name, shard_id, iterator_type="TRIM_HORIZON", limit=None, max_calls=200, **kw):
    """Reads a shard from iterator_type until an empty page; returns the records."""
    it = client.get_shard_iterator(StreamName=name, ShardId=shard_id, ShardIteratorType=iterator_type,
                                   **kw)["ShardIterator"]
    out = []
    for _ in range(max_calls):
        args = {"ShardIterator": it}
        if limit:
            args["Limit"] = limit
        r = client.get_records(**args)
        out += r["Records"]
        it = r.get("NextShardIterator")
        if not r["Records"] or not it:
            return out
    fail("shard %s of %s: still records after %d GetRecords calls" % (shard_id, name, max_calls))


# -- raw HTTP --------------------------------------------------------------------------------

class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.header_list = headers                       # [(name, value)] as received
        self.headers = {k.lower(): v for k, v in headers}  # last value wins
        self.body = body

    def header(self, name):
        return self.headers.get(name.lower())

    def json(self):
        try:
            return json.loads(self.body.decode("utf-8"))
        except ValueError:
            fail("response body is not JSON: %r" % self.body[:500])

    def __repr__(self):
        b = self.body if len(self.body) < 600 else self.body[:600] + b"..."
        return "HTTP %d %r %r" % (self.status, self.header_list, b)


def raw(port, method="POST", path="/", body=b"", headers=(), conn=None, chunked=False, timeout=15):
    """Sends one request with exactly these headers (plus Host and, for bodies, Content-Length).

    headers: list of (name, value) or dict. Returns a Response (status, headers, body).
    """
    own = conn is None
    if own:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    if isinstance(body, str):
        body = body.encode("utf-8")
    if isinstance(headers, dict):
        headers = list(headers.items())
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for k, v in headers:
            conn.putheader(k, v)
        if chunked:
            conn.putheader("Transfer-Encoding", "chunked")
            conn.endheaders()
            if body:
                half = len(body) // 2 or len(body)
                for piece in (body[:half], body[half:]):
                    if piece:
                        conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
            conn.send(b"0\r\n\r\n")
        else:
            if body or method in ("POST", "PUT"):
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body if body else None)
        resp = conn.getresponse()
        data = resp.read()
        return Response(resp.status, resp.getheaders(), data)
    finally:
        if own:
            conn.close()


def kinesis_headers(op, auth=True, ct=JSON_CT, extra=()):
    h = [("Content-Type", ct), ("X-Amz-Target", "Kinesis_20131202." + op)]
    if auth:
        h += [("Authorization", AUTH), ("X-Amz-Date", AMZ_DATE)]
    return h + list(extra)


def call(port, op, payload, auth=True, extra=(), conn=None):
    """POSTs one JSON 1.1 Kinesis call; payload is a dict (JSON-encoded) or raw bytes/str."""
    body = payload if isinstance(payload, (bytes, str)) else json.dumps(payload)
    return raw(port, body=body, headers=kinesis_headers(op, auth=auth, extra=extra), conn=conn)


# -- running a test --------------------------------------------------------------------------

_soft_failures = []


class soft:
    """`with soft("case name"):` records an assertion failure and lets the test go on.

    main() fails the test at the end if any soft case failed, listing all of them.
    """

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        return self

    def __exit__(self, et, ev, tb):
        if et is not None and issubclass(et, Exception):
            msg = "".join(traceback.format_exception(et, ev, tb)) if not isinstance(ev, TestFailure) \
                else str(ev)
            _soft_failures.append((self.name, msg))
            print("FAIL [%s]: %s" % (self.name, msg), file=sys.stderr)
            return True
        if et is None:
            print("ok   [%s]" % self.name)
        return False


def main(fn):
    rc = 0
    try:
        fn()
        if _soft_failures:
            fail("%d case(s) failed:\n" % len(_soft_failures) +
                 "\n".join("  [%s] %s" % (n, m.splitlines()[0] if m else "") for n, m in _soft_failures))
    except BaseException as e:  # noqa: B902 - report everything, including SystemExit(1)
        if isinstance(e, SystemExit) and not e.code:
            pass
        else:
            rc = 1
            traceback.print_exc()
            for s in _servers:
                print("\n----- kinesind stderr (%s) -----\n%s" % (" ".join(s.argv), s.log()[-20000:]),
                      file=sys.stderr)
    finally:
        for s in _servers:
            try:
                s.cleanup()
            except Exception:
                pass
    if rc == 0:
        print("PASS %s" % os.path.basename(sys.argv[0]))
    sys.exit(rc)


def b64(data):
    return base64.b64encode(data).decode("ascii")
