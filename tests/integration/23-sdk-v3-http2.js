'use strict';
// AWS SDK for JavaScript v3 KinesisClient with its DEFAULT request handler: NodeHttp2Handler,
// i.e. h2c with prior knowledge against an http:// endpoint (spec §1.1, kinesalite #118).
const assert = require('assert');
const kn = require('kn');
const {
  KinesisClient, CreateStreamCommand, DescribeStreamSummaryCommand, PutRecordCommand, PutRecordsCommand,
  GetShardIteratorCommand, GetRecordsCommand, ListShardsCommand, ListStreamsCommand, DescribeStreamCommand,
  DeleteStreamCommand,
} = require('@aws-sdk/client-kinesis');

kn.main(async () => {
  const kd = await kn.start();
  const client = new KinesisClient({ region: 'us-east-1', endpoint: kd.endpoint, maxAttempts: 1 });
  try {
    const handler = client.config.requestHandler;
    const handlerName = handler && (handler.constructor.name || '');
    // NodeHttp2Handler.create() may wrap the handler; look for the h2 handler by name.
    assert.ok(/Http2/.test(handlerName) || /Http2/.test(String(handler && handler.handler && handler.handler.constructor.name)),
      `the v3 client is not using its HTTP/2 handler (got ${handlerName}); this test must exercise h2c`);

    const S = 'v3-h2';
    const ls0 = await client.send(new ListStreamsCommand({}));
    assert.deepStrictEqual(ls0.StreamNames, []);

    await client.send(new CreateStreamCommand({ StreamName: S, ShardCount: 2 }));
    let status;
    const deadline = Date.now() + 10000;
    for (;;) {
      const r = await client.send(new DescribeStreamSummaryCommand({ StreamName: S }));
      status = r.StreamDescriptionSummary.StreamStatus;
      if (status === 'ACTIVE' || Date.now() > deadline) break;
      await kn.sleep(20);
    }
    assert.strictEqual(status, 'ACTIVE', 'stream status');

    const summary = (await client.send(new DescribeStreamSummaryCommand({ StreamName: S }))).StreamDescriptionSummary;
    assert.strictEqual(summary.StreamARN, kn.streamArn(S));
    assert.strictEqual(summary.OpenShardCount, 2);
    assert.ok(summary.StreamCreationTimestamp instanceof Date, 'StreamCreationTimestamp is a Date');
    assert.ok(Math.abs(summary.StreamCreationTimestamp - Date.now()) < 60000, 'StreamCreationTimestamp near now');

    const shards = (await client.send(new ListShardsCommand({ StreamName: S }))).Shards;
    assert.deepStrictEqual(shards.map((s) => s.ShardId), ['shardId-000000000000', 'shardId-000000000001']);
    assert.deepStrictEqual(shards.map((s) => [s.HashKeyRange.StartingHashKey, s.HashKeyRange.EndingHashKey]),
      [['0', String(2n ** 127n - 1n)], [String(2n ** 127n), String(2n ** 128n - 1n)]]);
    const desc = (await client.send(new DescribeStreamCommand({ StreamName: S }))).StreamDescription;
    assert.deepStrictEqual(desc.Shards.map((s) => s.ShardId), shards.map((s) => s.ShardId));

    const written = []; // {shard, seq, data (Buffer), pk}
    const all = new Uint8Array(256).map((_, i) => i);
    const one = await client.send(new PutRecordCommand({ StreamName: S, Data: all, PartitionKey: 'bytes' }));
    assert.strictEqual(one.ShardId, kn.shardFor(shards, kn.hashKey('bytes')));
    assert.match(one.SequenceNumber, /^\d{56}$/);
    written.push({ shard: one.ShardId, seq: one.SequenceNumber, data: Buffer.from(all), pk: 'bytes' });

    const entries = [];
    for (let i = 0; i < 40; i++) {
      entries.push({ Data: new TextEncoder().encode(`v3-record-${i}-${'x'.repeat(i * 7)}`), PartitionKey: `pk-${i}` });
    }
    entries.push({ Data: new Uint8Array(0), PartitionKey: 'empty', ExplicitHashKey: '0' });
    entries.push({ Data: new Uint8Array([0, 255, 10, 13]), PartitionKey: 'ehk', ExplicitHashKey: String(2n ** 128n - 1n) });
    const pr = await client.send(new PutRecordsCommand({ StreamName: S, Records: entries }));
    assert.strictEqual(pr.FailedRecordCount, 0);
    assert.strictEqual(pr.Records.length, entries.length);
    pr.Records.forEach((res, i) => {
      const e = entries[i];
      const h = e.ExplicitHashKey !== undefined ? BigInt(e.ExplicitHashKey) : kn.hashKey(e.PartitionKey);
      assert.strictEqual(res.ShardId, kn.shardFor(shards, h), `shard of entry ${i}`);
      written.push({ shard: res.ShardId, seq: res.SequenceNumber, data: Buffer.from(e.Data), pk: e.PartitionKey });
    });

    for (const s of shards) {
      const mine = written.filter((w) => w.shard === s.ShardId);
      const it = (await client.send(new GetShardIteratorCommand({
        StreamName: S, ShardId: s.ShardId, ShardIteratorType: 'TRIM_HORIZON',
      }))).ShardIterator;
      const r = await client.send(new GetRecordsCommand({ ShardIterator: it }));
      assert.ok(r.NextShardIterator, 'NextShardIterator');
      assert.strictEqual(typeof r.MillisBehindLatest, 'number');
      assert.deepStrictEqual(r.Records.map((x) => x.SequenceNumber), mine.map((w) => w.seq), `${s.ShardId} sequence numbers`);
      r.Records.forEach((x, i) => {
        assert.ok(x.Data instanceof Uint8Array, 'Data is a Uint8Array');
        assert.ok(Buffer.from(x.Data).equals(mine[i].data), `${s.ShardId} record ${i} data`);
        assert.strictEqual(x.PartitionKey, mine[i].pk);
        assert.ok(x.ApproximateArrivalTimestamp instanceof Date, 'ApproximateArrivalTimestamp is a Date');
      });
      const r2 = await client.send(new GetRecordsCommand({ ShardIterator: r.NextShardIterator }));
      assert.deepStrictEqual(r2.Records, []);
      assert.ok(r2.NextShardIterator, 'NextShardIterator at the tip');
    }

    // AT_SEQUENCE_NUMBER via StreamARN (modern SDKs send StreamARN)
    const w = written[0];
    const it = (await client.send(new GetShardIteratorCommand({
      StreamARN: kn.streamArn(S), ShardId: w.shard, ShardIteratorType: 'AT_SEQUENCE_NUMBER', StartingSequenceNumber: w.seq,
    }))).ShardIterator;
    const r = await client.send(new GetRecordsCommand({ ShardIterator: it, Limit: 1, StreamARN: kn.streamArn(S) }));
    assert.strictEqual(r.Records.length, 1);
    assert.ok(Buffer.from(r.Records[0].Data).equals(w.data));

    // AT_TIMESTAMP: the v3 SDK sends epoch seconds with a millisecond fraction
    const ehk0 = shards[0].HashKeyRange.StartingHashKey;
    await client.send(new PutRecordCommand({ StreamName: S, Data: new TextEncoder().encode('before-ts'), PartitionKey: 'a', ExplicitHashKey: ehk0 }));
    await kn.sleep(60);
    const ts = new Date();
    await kn.sleep(60);
    const after = await client.send(new PutRecordCommand({ StreamName: S, Data: new TextEncoder().encode('after-ts'), PartitionKey: 'a', ExplicitHashKey: ehk0 }));
    const tsIt = (await client.send(new GetShardIteratorCommand({
      StreamName: S, ShardId: shards[0].ShardId, ShardIteratorType: 'AT_TIMESTAMP', Timestamp: ts,
    }))).ShardIterator;
    const tsRecs = (await client.send(new GetRecordsCommand({ ShardIterator: tsIt }))).Records;
    assert.deepStrictEqual(tsRecs.map((x) => [x.SequenceNumber, Buffer.from(x.Data).toString()]),
      [[after.SequenceNumber, 'after-ts']], 'AT_TIMESTAMP with a millisecond timestamp');

    // errors arrive as typed exceptions with the right name and message
    await assert.rejects(client.send(new DescribeStreamSummaryCommand({ StreamName: 'nope' })), (e) => {
      assert.strictEqual(e.name, 'ResourceNotFoundException');
      assert.strictEqual(e.message, 'Stream nope under account 000000000000 not found.');
      assert.strictEqual(e.$metadata.httpStatusCode, 400);
      return true;
    });
    await assert.rejects(client.send(new GetRecordsCommand({ ShardIterator: 'bogus' })), (e) => {
      assert.strictEqual(e.name, 'InvalidArgumentException');
      assert.strictEqual(e.message, 'Invalid ShardIterator.');
      return true;
    });

    // many sequential requests (the default handler opens a session per request)
    for (let i = 0; i < 30; i++) await client.send(new ListStreamsCommand({}));
    // and concurrent ones
    const many = await Promise.all(Array.from({ length: 20 }, (_, i) =>
      client.send(new PutRecordCommand({ StreamName: S, Data: new TextEncoder().encode(`c${i}`), PartitionKey: `c${i}` }))));
    assert.strictEqual(new Set(many.map((m) => m.SequenceNumber)).size, 20);

    await client.send(new DeleteStreamCommand({ StreamName: S }));
    assert.ok(kd.alive(), 'kinesind died');
  } finally {
    client.destroy();
  }
});
