"""Two kinesin-kcl applications sharing one stream consumer (the same consumerName): only one
subscription per consumer and shard may be live, so they keep taking the shard from each other.
A subscription refused within 5 s of the other's (ResourceInUseException, an error answer) or
taken over later (a ResourceInUseException message inside the stream) backs off 5 s and
subscribes again from its own last continuation: each application still processes every
record, exactly once."""
import time

from kn import boto3_client, check, create_active, eq, soft
from kn_kcl import KclApp, main_with_workers, put


def run(kd):
    k = boto3_client(kd.endpoint)
    create_active(k, "shared", 1)
    extra = {"retrievalMode": "FANOUT", "consumerName": "one-consumer"}
    a = KclApp(kd, "shared", "appa", extra=extra)
    b = KclApp(kd, "shared", "appb", extra=extra)
    wa = a.worker("wa")
    wb = b.worker("wb")
    datas = []
    t0 = time.monotonic()
    i = 0
    while time.monotonic() - t0 < 12:
        datas += put(k, "shared", "r%d" % i, 20)
        i += 1
        time.sleep(0.2)
    a.wait_records(datas, timeout=60)
    b.wait_records(datas, timeout=60)
    arn = k.describe_stream_summary(StreamName="shared")["StreamDescriptionSummary"]["StreamARN"]
    eq([c["ConsumerName"] for c in k.list_stream_consumers(StreamARN=arn)["Consumers"]], ["one-consumer"],
       "one stream consumer for both applications")
    with soft("the shard moved between the two subscriptions, each backing off on ResourceInUse"):
        for w in (wa, wb):
            n = w.text().count("ResourceInUseException")
            print("%s: %d ResourceInUseException" % (w.worker_id, n))
            check(n >= 1, "%s saw ResourceInUseException" % w.worker_id)
    with soft("each application processed every record exactly once"):
        for app in (a, b):
            seen = [e["data"] for e in app.processed()]
            eq(len(seen), len(set(seen)), "%s: records processed twice" % app.name)
    for w in (wa, wb):
        eq(w.stop(), 0, "exit status of %s" % w.worker_id)


main_with_workers(run)
