"""A record processor that dies costs its lease, not the daemon: the lease is released, the
other shard goes on, and after taskBackoffTimeMillis the shard is processed by a new child
from its last checkpoint; every record is processed. A properties file with a bad value, or an
executableName that names no program, stops startup with a message naming the key."""
import os
import subprocess

from kn import boto3_client, check, create_active, eq
from kn_kcl import KclApp, kcl_bin, main_with_workers, put


def run(kd):
    k = boto3_client(kd.endpoint)
    create_active(k, "cf", 2)
    app = KclApp(kd, "cf", "cfapp")
    os.environ["KCL_CRASH_ONCE"] = os.path.join(app.dir, "crashed")
    try:
        datas = put(k, "cf", "a", 200)
        w = app.worker("w1")
        app.wait_records(datas, timeout=30)
    finally:
        del os.environ["KCL_CRASH_ONCE"]
    crashed = [e for e in app.events() if e["ev"] == "crash"]
    eq(len(crashed), 1, "crashes")
    check(w.alive(), "the daemon survived its child's death")
    log = w.text()
    check("its record processor failed" in log and "retry after taskBackoffTimeMillis" in log,
          "the failure is logged")
    inits = [e for e in app.events() if e["ev"] == "initialize" and e["shard"] == crashed[0]["shard"]]
    eq(len(inits), 2, "initializations of the crashed shard")
    eq(w.stop(), 0, "exit status")

    bad = os.path.join(app.dir, "bad.properties")
    with open(bad, "w") as f:
        f.write("executableName = node x.js\nstreamName = cf\napplicationName = a\n"
                "AWSCredentialsProvider = DefaultCredentialsProvider\nfailoverTimeMillis = soon\n")
    p = subprocess.run([kcl_bin(), bad], capture_output=True, text=True, timeout=10)
    eq(p.returncode, 1, "exit status with a bad value")
    check("failoverTimeMillis" in p.stderr, "message names the key: %r" % p.stderr)

    with open(bad, "w") as f:
        f.write("executableName = no-such-record-processor app.js\nstreamName = cf\napplicationName = a\n"
                "AWSCredentialsProvider = DefaultCredentialsProvider\n")
    p = subprocess.run([kcl_bin(), bad], capture_output=True, text=True, timeout=10)
    eq(p.returncode, 1, "exit status with a program that does not exist")
    check("executableName" in p.stderr and "no-such-record-processor" in p.stderr,
          "message names the key and the program: %r" % p.stderr)


main_with_workers(run)
