"""Smoke: kinesind starts, answers ListStreams, and refuses bad command lines loudly."""

import os
import shutil
import subprocess
import tempfile

from kn import Kinesind, boto3_client, check, eq, free_port, kn_bin, main, soft


def run_bad(args, what, timeout=10):
    """Runs kinesind with args; it must exit non-zero with a message on stderr, never serve."""
    p = subprocess.Popen([kn_bin()] + args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        raise AssertionError("%s: kinesind %s still running after %ds (expected exit non-zero)\n"
                             "stderr: %s" % (what, " ".join(args), timeout, err))
    check(p.returncode != 0, "%s: kinesind %s exited 0, expected non-zero\nstderr: %s"
          % (what, " ".join(args), err))
    check(p.returncode > 0, "%s: kinesind %s died of signal %d\nstderr: %s"
          % (what, " ".join(args), -p.returncode, err))
    check(err.strip() != "", "%s: kinesind %s exited %d without a message on stderr"
          % (what, " ".join(args), p.returncode))
    check("listening on" not in err, "%s: kinesind claimed to listen:\n%s" % (what, err))
    return err


def test():
    tmp = tempfile.mkdtemp(prefix="kn-smoke-")
    try:
        smoke(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def smoke(tmp):
    with Kinesind() as kd:
        c = boto3_client(kd.endpoint)
        with soft("ListStreams on a fresh server is empty"):
            r = c.list_streams()
            eq(r["StreamNames"], [], "StreamNames")
            eq(r["HasMoreStreams"], False, "HasMoreStreams")
            eq(r["ResponseMetadata"]["HTTPStatusCode"], 200, "status")

        with soft("unknown flag --nope"):
            err = run_bad(["--nope", "--host", "127.0.0.1", "--port", str(free_port()), "--data-dir",
                           os.path.join(tmp, "d1")], "bad flag")
            check("nope" in err, "message for --nope does not name the flag: %r" % err)

        with soft("missing flag value"):
            run_bad(["--host", "127.0.0.1", "--data-dir", os.path.join(tmp, "d2"), "--port"],
                    "--port without a value")

        with soft("non-numeric port"):
            run_bad(["--host", "127.0.0.1", "--port", "notaport", "--data-dir",
                     os.path.join(tmp, "d3")], "non-numeric port")

        with soft("busy port"):
            run_bad(["--host", "127.0.0.1", "--port", str(kd.port), "--data-dir",
                     os.path.join(tmp, "d4"), "--in-memory"], "busy port")

        with soft("--data-dir is a regular file"):
            f = os.path.join(tmp, "a-file")
            with open(f, "w") as fh:
                fh.write("not a directory\n")
            run_bad(["--host", "127.0.0.1", "--port", str(free_port()),
                     "--data-dir", f], "data dir is a regular file")

        with soft("--data-dir below a regular file"):
            f = os.path.join(tmp, "a-file")
            run_bad(["--host", "127.0.0.1", "--port", str(free_port()),
                     "--data-dir", os.path.join(f, "sub")], "data dir below a regular file")

        with soft("server still serves after the failed starts"):
            eq(c.list_streams()["StreamNames"], [], "StreamNames")
            check(kd.alive(), "kinesind died")

        rc = kd.stop()
        with soft("SIGTERM shuts down cleanly"):
            check(rc in (0, -15), "kinesind exit status after SIGTERM: %r\n%s" % (rc, kd.log()))

    with soft("--in-memory server starts and answers"):
        with Kinesind(in_memory=True) as kd:
            eq(boto3_client(kd.endpoint).list_streams()["StreamNames"], [], "StreamNames")


main(test)
