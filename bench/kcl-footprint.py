"""kinesin-kcl footprint: the daemon's RSS holding 2 and 100 leases, and the time from start to
its first processRecords, with each retrieval mode (POLLING: GetRecords; FANOUT: one
SubscribeToShard per lease). Measured, not asserted (see DESIGN.md "Tests and numbers").

    KN_SRC=$PWD tests/integration/run bench/kcl-footprint.py
    KN_FOOTPRINT_MODES=FANOUT KN_SRC=$PWD tests/integration/run bench/kcl-footprint.py   # one mode

The 100-lease run uses a small C record processor (test_child --fake-child good) so the
machine is not asked for 100 node processes; the 2-lease run uses node and aws-kcl. The last run
holds 100 leases in KCL 3.x mode (clientVersionConfig = CLIENT_VERSION_CONFIG_3X: leader, lease
assignment manager, worker metrics, GSI discovery)."""
import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
from kn import Kinesind, boto3_client, create_active, main  # noqa: E402
from kn_kcl import KclApp, cleanup_workers, put  # noqa: E402


def measure(kd, k, shards, executable, mode, v3=False):
    name = "fp%d%s%s" % (shards, mode.lower(), "v3" if v3 else "")
    create_active(k, name, shards)
    put(k, name, "x", 4 * shards)
    extra = {"executableName": executable} if executable else {}
    extra["retrievalMode"] = mode
    if v3:
        extra.update(clientVersionConfig="CLIENT_VERSION_CONFIG_3X", workerMetricsReporterFreqInMillis="1000")
    label = "%s %3d leases%s" % (mode, shards, " (KCL 3.x)" if v3 else "")
    app = KclApp(kd, name, name, failover_ms=10000, idle_ms=1000, extra=extra)
    w = app.worker("w")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        leases = app.leases() if time.monotonic() - w.started > 1 else {}
        leases = {key: l for key, l in leases.items() if l.get("entityType", "LEASE") == "LEASE"}
        if len(leases) == shards and all(l.get("leaseOwner") == "w" for l in leases.values()):
            break
        time.sleep(0.5)
    time.sleep(3)  # every consumer polling, every child initialized
    rss = [w.rss_kb() for _ in range(5) if not time.sleep(0.2)]
    m = re.search(r"first processRecords (\d+) ms after start", w.text())
    with open("/proc/%d/smaps_rollup" % w.proc.pid) as f:
        roll = dict((l.split()[0].rstrip(":"), l.split()[1]) for l in f if l.split()[0] in ("Pss:", "Private_Dirty:"))
    print("%s: RSS %d kB (max of 5 samples; PSS %s kB, private dirty %s kB), first processRecords %s ms "
          "after start (new lease table)" % (label, max(rss), roll.get("Pss"), roll.get("Private_Dirty"),
                                             m.group(1) if m else "?"))
    w.stop()
    put(k, name, "y", 4 * shards)
    w = app.worker("w-again")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and "first processRecords" not in w.text():
        time.sleep(0.1)
    m = re.search(r"first processRecords (\d+) ms after start", w.text())
    print("%s: first processRecords %s ms after start (existing table, released leases)"
          % (label, m.group(1) if m else "?"))
    w.stop()


def test():
    with Kinesind(args=("--shard-limit", "1000")) as kd:
        try:
            k = boto3_client(kd.endpoint)
            fake = os.path.join(os.environ.get("KN_BIN", "build/bin"), "..", "tests", "test_child")
            os.environ["KCL_FAKE_LOG"] = "/dev/null"
            for mode in os.environ.get("KN_FOOTPRINT_MODES", "POLLING,FANOUT").split(","):
                measure(kd, k, 2, None, mode)
                measure(kd, k, 100, os.path.abspath(fake) + " --fake-child good", mode)
            measure(kd, k, 100, os.path.abspath(fake) + " --fake-child good", "POLLING", v3=True)
        finally:
            cleanup_workers()


main(test)
