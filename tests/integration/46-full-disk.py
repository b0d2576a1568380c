"""A full disk: kinesind's data dir on a small tmpfs the test mounts, filled to the last byte.
While it is full every answer is a result or an AWS error (InternalFailure for writes that could
not be made durable), reads keep working, and nothing is half-true: a stream or tag answered 200
exists after a restart, a stream refused does not, every record acknowledged is read back, and
no record answered as failed is ever served. Once space returns, a restart resumes writes (a
shard log that failed stays failed until then, by design: docs/durability.md).

Skips, saying why, where a tmpfs cannot be mounted (not root, no CAP_SYS_ADMIN)."""

import base64
import errno
import os
import subprocess
import sys
import tempfile

from botocore.exceptions import ClientError

from kn import Kinesind, boto3_client, check, create_active, eq, main, read_shard


def mount_tmpfs(size):
    mnt = tempfile.mkdtemp(prefix="kn-full-")
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s" % size, "tmpfs", mnt],
                       capture_output=True, text=True)
    if p.returncode != 0:
        os.rmdir(mnt)
        return None, (p.stderr.strip() or "mount failed")
    return mnt, None


def fill(path):
    """Writes a file until the filesystem has no byte left."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for chunk in (1 << 20, 4096, 1):
            while True:
                try:
                    if os.write(fd, b"\0" * chunk) < chunk:
                        break
                except OSError as e:
                    if e.errno != errno.ENOSPC:
                        raise
                    break
    finally:
        os.close(fd)


def try_call(fn, **kw):
    """(True, answer) or (False, error code); anything else is a test failure."""
    try:
        return True, fn(**kw)
    except ClientError as e:
        return False, e.response["Error"]["Code"]


def test():
    if os.geteuid() != 0:
        print("SKIPPED: the full-disk test mounts a tmpfs and needs root")
        return
    mnt, why = mount_tmpfs("6m")
    if not mnt:
        print("SKIPPED: cannot mount a tmpfs here (%s)" % why)
        return
    try:
        run(mnt)
    finally:
        subprocess.run(["umount", "-l", mnt])
        os.rmdir(mnt)


def run(mnt):
    data = os.path.join(mnt, "data")
    filler = os.path.join(mnt, "filler")
    acked, failed = {}, set()
    created, refused = [], []
    with Kinesind(data_dir=data) as kd:
        c = boto3_client(kd.endpoint)
        create_active(c, "s", 1)
        for i in range(20):
            r = c.put_record(StreamName="s", PartitionKey="k", Data=b"before-%d" % i)
            acked[b"before-%d" % i] = r["SequenceNumber"]
        fill(filler)

        # writes on the full disk: each one either succeeds (and must be true) or fails cleanly
        for i in range(60):
            payload = b"full-%d-" % i + b"x" * 2000
            ok, r = try_call(c.put_record, StreamName="s", PartitionKey="k", Data=payload)
            if ok:
                acked[payload] = r["SequenceNumber"]
            else:
                check(r == "InternalFailure", "PutRecord on a full disk: %s" % r)
                failed.add(payload)
        batch = [{"PartitionKey": "k", "Data": b"batch-%d-" % i + b"y" * 3000} for i in range(40)]
        ok, r = try_call(c.put_records, StreamName="s", Records=batch)
        check(ok, "PutRecords answers 200 with per-record errors: %r" % (r,))
        for e, res in zip(batch, r["Records"]):
            if "SequenceNumber" in res:
                acked[e["Data"]] = res["SequenceNumber"]
            else:
                eq(res.get("ErrorCode"), "InternalFailure", "a failed record's ErrorCode")
                failed.add(e["Data"])
        check(failed, "the disk filled but no record failed (is the tmpfs size too big?)")
        for i in range(5):
            name = "new-%d" % i
            ok, r = try_call(c.create_stream, StreamName=name, ShardCount=1)
            (created if ok else refused).append(name)
            if not ok:
                check(r == "InternalFailure", "CreateStream on a full disk: %s" % r)
        ok, r = try_call(c.add_tags_to_stream, StreamName="s", Tags={"disk": "full"})
        tagged = ok
        if not ok:
            check(r == "InternalFailure", "AddTagsToStream on a full disk: %s" % r)

        # reads keep working
        got = [rec["Data"] for rec in read_shard(c, "s", "shardId-000000000000")]
        eq(set(got) & failed, set(), "records answered as failed are served while the disk is full")
        check(set(acked) <= set(got), "acknowledged records missing while the disk is full")

        # space returns; a restart recovers
        os.unlink(filler)
        kd.restart()
        c = boto3_client(kd.endpoint)
        got = [rec["Data"] for rec in read_shard(c, "s", "shardId-000000000000")]
        eq(set(got) & failed, set(), "records answered as failed came back after the restart")
        eq(sorted(set(acked) - set(got)), [], "acknowledged records lost")
        seqs = [acked[d] for d in got if d in acked]
        eq(seqs, sorted(seqs, key=int), "sequence numbers in order")
        names = c.list_streams()["StreamNames"]
        for name in created:
            check(name in names, "stream %s was created (200) but is gone after the restart" % name)
        for name in refused:
            check(name not in names, "stream %s was refused but exists after the restart" % name)
        tags = c.list_tags_for_stream(StreamName="s")["Tags"]
        eq(any(t["Key"] == "disk" for t in tags), tagged, "the tag exists exactly when AddTagsToStream said so")
        check(refused or not tagged, "every catalog write succeeded on a full disk: the test did not fill it")
        r = c.put_record(StreamName="s", PartitionKey="k", Data=b"after")
        check(r["SequenceNumber"], "writes resume after the restart")
        print("full disk: %d records acknowledged, %d refused; %d streams created, %d refused"
              % (len(acked), len(failed), len(created), len(refused)))


main(test)
