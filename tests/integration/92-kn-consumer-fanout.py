"""libkinesin's kn_consumer (the KCL in-process) with retrievalMode = FANOUT and a consumerName
of its own: two worker processes register or find that stream consumer and read a 4-shard stream
through SubscribeToShard; every record, plain and KPL-aggregated, is processed (de-aggregated),
each batch carries millisBehindLatest from its event, and a kinesin-kcl worker (aws-kcl) with
the same settings joins and takes its share through the same consumer."""
from kn import boto3_client, check, create_active, eq, soft
from kn_kcl import KclApp, main_with_workers, put, put_aggregated


def run(kd):
    k = boto3_client(kd.endpoint)
    create_active(k, "libfan", 4)
    arn = k.describe_stream_summary(StreamName="libfan")["StreamDescriptionSummary"]["StreamARN"]
    first = put(k, "libfan", "plain", 300)
    agg = put_aggregated(kd, "libfan", "agg", 400)

    app = KclApp(kd, "libfan", "libfanapp", extra={"retrievalMode": "FANOUT", "consumerName": "libfan-efo"})
    a = app.lib_worker("a")
    b = app.lib_worker("b")
    app.wait_owners(lambda o: len(o) == 4 and sorted(o.values()) == ["a", "a", "b", "b"], 30,
                    "two kn_consumer workers holding two shards each")
    app.wait_records(first + agg, timeout=30)
    with soft("the consumer named by consumerName, ACTIVE, and nothing polled"):
        cons = k.list_stream_consumers(StreamARN=arn)["Consumers"]
        eq([(c["ConsumerName"], c["ConsumerStatus"]) for c in cons], [("libfan-efo", "ACTIVE")], "stream consumers")
        for w in (a, b):
            check("GetShardIterator" not in w.text(), "%s never polls" % w.worker_id)
    with soft("records de-aggregated, millisBehindLatest from the events"):
        recs = app.processed()
        check(any(e["sub"] > 0 for e in recs if e["data"].startswith("agg-")), "aggregated records de-aggregated")
        check(all(e["mbl"] >= 0 for e in recs), "millisBehindLatest known for every batch: %r"
              % sorted({e["mbl"] for e in recs})[:5])

    w = app.worker("kcl")
    app.wait_owners(lambda o: "kcl" in o.values(), 40,
                    "kinesin-kcl taking a share from the kn_consumer workers")
    last = put(k, "libfan", "shared", 300)
    app.wait_records(last, timeout=40)
    eq(len(k.list_stream_consumers(StreamARN=arn)["Consumers"]), 1, "one stream consumer for the application")
    for x in (a, b, w):
        eq(x.stop(), 0, "exit status of %s after SIGTERM" % x.worker_id)


main_with_workers(run)
