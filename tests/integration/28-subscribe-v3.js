'use strict';
// SubscribeToShard with @aws-sdk/client-kinesis v3 and its default HTTP/2 handler: the event
// stream arrives as DATA frames on the request's HTTP/2 stream (spec Part C.3, C.6).
const assert = require('assert');
const kn = require('kn');
const {
  KinesisClient, CreateStreamCommand, DescribeStreamSummaryCommand, PutRecordCommand,
  RegisterStreamConsumerCommand, DescribeStreamConsumerCommand, SubscribeToShardCommand,
} = require('@aws-sdk/client-kinesis');

async function until(fn, what) {
  const deadline = Date.now() + 10000;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await kn.sleep(30);
  }
}

kn.main(async () => {
  const kd = await kn.start();
  const client = new KinesisClient({ region: 'us-east-1', endpoint: kd.endpoint, maxAttempts: 1 });
  try {
    const S = 'v3-fan';
    await client.send(new CreateStreamCommand({ StreamName: S, ShardCount: 1 }));
    await until(async () => (await client.send(new DescribeStreamSummaryCommand({ StreamName: S })))
      .StreamDescriptionSummary.StreamStatus === 'ACTIVE', 'ACTIVE stream');
    const consumer = (await client.send(new RegisterStreamConsumerCommand({
      StreamARN: kn.streamArn(S), ConsumerName: 'v3' }))).Consumer;
    await until(async () => (await client.send(new DescribeStreamConsumerCommand({
      ConsumerARN: consumer.ConsumerARN }))).ConsumerDescription.ConsumerStatus === 'ACTIVE', 'ACTIVE consumer');

    await client.send(new PutRecordCommand({ StreamName: S, PartitionKey: 'k', Data: Buffer.from('before') }));
    const res = await client.send(new SubscribeToShardCommand({
      ConsumerARN: consumer.ConsumerARN, ShardId: 'shardId-000000000000', StartingPosition: { Type: 'TRIM_HORIZON' },
    }));
    setTimeout(() => client.send(new PutRecordCommand({ StreamName: S, PartitionKey: 'k', Data: Buffer.from('after') })), 300);
    const seen = [];
    let heartbeats = 0;
    for await (const ev of res.EventStream) {
      const e = ev.SubscribeToShardEvent;
      assert.ok(e, `an event of an unexpected kind: ${JSON.stringify(Object.keys(ev))}`);
      assert.ok(e.ContinuationSequenceNumber, 'ContinuationSequenceNumber on every event');
      for (const r of e.Records) {
        assert.ok(r.ApproximateArrivalTimestamp instanceof Date, 'ApproximateArrivalTimestamp is a Date');
        seen.push(Buffer.from(r.Data).toString());
      }
      if (e.Records.length === 0) heartbeats++;
      if (seen.length >= 2) break;
    }
    assert.deepStrictEqual(seen, ['before', 'after'], 'records over the HTTP/2 event stream');
    console.log(`ok: 2 records and ${heartbeats} empty event(s) over HTTP/2`);
  } finally {
    client.destroy();
    await kd.stop();
  }
});
