"""A real kinesin-kcl application seen from both sides: the worker's own /metrics
(kinesinMetricsPort: records processed, leases held, MillisBehindLatest, child restarts) and
kinesind's lease-table view of it (/metrics lag per lease, workers, /api/consumers)."""
import json
import re
import shutil
import subprocess
import time
import urllib.request

from kn import boto3_client, check, create_active, eq, fail, free_port, raw, soft
from kn_kcl import KclApp, main_with_workers, put

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$')


def scrape(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        eq(r.status, 200, "%s status" % url)
        return r.read().decode()


def values(text, name):
    """{labels text: value} of one metric family's samples."""
    out = {}
    for line in text.splitlines():
        m = SAMPLE.match(line)
        if m and m.group(1) == name:
            out[m.group(2) or ""] = float(m.group(3))
    return out


def wait_for(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        got = pred()
        if got:
            return got
        if time.monotonic() > deadline:
            fail("%s: not within %.0fs" % (what, timeout))
        time.sleep(0.2)


def run(kd):
    if not shutil.which("promtool"):
        fail("promtool not found (scripts/install-deps.sh test installs the prometheus package)")
    k = boto3_client(kd.endpoint)
    create_active(k, "kcl-m", 2)
    datas = put(k, "kcl-m", "m", 50)
    port = free_port()
    app = KclApp(kd, "kcl-m", "kcl-metrics-app")
    w = app.worker("mw1", {"kinesinMetricsPort": str(port)})
    app.wait_records(datas, timeout=30)
    url = "http://127.0.0.1:%d/metrics" % port

    with soft("kinesin-kcl /metrics: records processed, leases held, behind latest"):
        text = scrape(url)
        eq(values(text, "kinesin_kcl_records_processed_total"), {"": 50}, "records processed")
        eq(values(text, "kinesin_kcl_leases_held"), {"": 2}, "leases held")
        eq(values(text, "kinesin_kcl_child_starts_total"), {"": 2}, "children started")
        eq(values(text, "kinesin_kcl_child_restarts_total"), {"": 0}, "child restarts")
        eq(len(values(text, "kinesin_kcl_behind_latest_seconds")), 2, "behind-latest series")
        p = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
        check(p.returncode == 0, "promtool: %s%s" % (p.stdout, p.stderr))
        r = urllib.request.Request("http://127.0.0.1:%d/other" % port)
        try:
            urllib.request.urlopen(r, timeout=10)
            fail("GET /other answered 200")
        except urllib.error.HTTPError as e:
            eq(e.code, 404, "other path")

    with soft("kinesind sees the application: lag 0 once checkpointed, one worker with both leases"):
        def caught_up():
            t = scrape(kd.endpoint + "/metrics")
            lag = {lb: v for lb, v in values(t, "kinesin_lease_lag_records").items()
                   if 'application="kcl-metrics-app"' in lb}
            return t if len(lag) == 2 and set(lag.values()) == {0} else None
        t = wait_for(caught_up, 20, "both leases checkpointed at their last record")
        eq(values(t, "kinesin_kcl_workers"), {'{application="kcl-metrics-app"}': 1}, "workers")
        eq(values(t, "kinesin_kcl_worker_leases"), {'{application="kcl-metrics-app",worker="mw1"}': 2},
           "leases per worker")

    with soft("lag rises with records put while the worker is stopped, and shows in /api/consumers"):
        eq(w.stop(), 0, "worker exit status")
        more = put(k, "kcl-m", "n", 30)
        apps = json.loads(raw(kd.port, "GET", "/api/consumers").body)["applications"]
        app_view = [a for a in apps if a["name"] == "kcl-metrics-app"]
        eq(len(app_view), 1, "application listed")
        eq(app_view[0]["stream"], "kcl-m", "stream")
        eq(app_view[0]["lagRecords"], len(more), "lag after %d more records" % len(more))
        eq(app_view[0]["unownedLeases"], 2, "leases released by the graceful shutdown")


main_with_workers(run)
