'use strict';
// kinesind --fault through the npm SDKs: @aws-sdk/client-kinesis v3 over HTTP/2 (its default
// handler) and aws-sdk v2 over HTTP/1.1 see AWS-shaped injected errors, a reset HTTP/2
// connection, a delayed answer that other requests overtake, and partial PutRecords failures.
const assert = require('assert');
const kn = require('kn');
const AWS = require('aws-sdk');
const {
  KinesisClient, CreateStreamCommand, DescribeStreamSummaryCommand, PutRecordCommand, ListStreamsCommand,
} = require('@aws-sdk/client-kinesis');

async function outcome(p) {
  try {
    await p;
    return 'ok';
  } catch (e) {
    return e.name || e.code || String(e);
  }
}

kn.main(async () => {
  const kd = await kn.start({
    inMemory: true, createMs: 0,
    args: ['--fault', 'error=throttle,op=PutRecord,stream=t,every=2',
      '--fault', 'reset,op=PutRecord,stream=r,every=2',
      '--fault', 'latency=2000,op=PutRecord,stream=slow',
      '--fault', 'partial=throttle,stream=p,every=2'],
  });
  const v3 = new KinesisClient({ region: 'us-east-1', endpoint: kd.endpoint, maxAttempts: 1 });
  try {
    for (const s of ['t', 'r', 'slow', 'p']) await v3.send(new CreateStreamCommand({ StreamName: s, ShardCount: 1 }));
    await v3.send(new DescribeStreamSummaryCommand({ StreamName: 'p' }));
    const put = (s, d) => v3.send(new PutRecordCommand({ StreamName: s, Data: Buffer.from(d), PartitionKey: 'k' }));

    // throttling: the v3 client's modelled exception, status 400
    const got = [];
    for (let i = 0; i < 4; i++) got.push(await outcome(put('t', 'x')));
    assert.deepStrictEqual(got, ['ok', 'ProvisionedThroughputExceededException', 'ok',
      'ProvisionedThroughputExceededException']);
    try {
      await put('t', 'x');
      await put('t', 'x');
      assert.fail('the 6th PutRecord on t was not throttled');
    } catch (e) {
      assert.strictEqual(e.$metadata.httpStatusCode, 400);
      assert.strictEqual(e.message, 'Rate exceeded for stream t under account 000000000000.');
    }

    // reset: the HTTP/2 connection goes; the client recovers on the next call
    const resets = [];
    for (let i = 0; i < 4; i++) resets.push(await outcome(put('r', 'y')));
    assert.deepStrictEqual(resets.map((o) => o === 'ok'), [true, false, true, false], `reset outcomes ${resets}`);
    assert.ok(!resets[1].includes('Exception'), `a reset is not an AWS error: ${resets[1]}`);

    // latency: a delayed PutRecord is overtaken by calls made after it
    let slowDone = false;
    const slow = put('slow', 'late').then((r) => { slowDone = true; return r; });
    await kn.sleep(300);
    const other = new KinesisClient({ region: 'us-east-1', endpoint: kd.endpoint, maxAttempts: 1 });
    await other.send(new ListStreamsCommand({}));
    await other.send(new PutRecordCommand({ StreamName: 't', Data: Buffer.from('z'), PartitionKey: 'k' })).catch(() => {});
    assert.strictEqual(slowDone, false, 'the delayed PutRecord answered before later calls');
    const r = await slow;
    assert.strictEqual(r.ShardId, 'shardId-000000000000');
    other.destroy();

    // partial failures through aws-sdk v2 (HTTP/1.1)
    const v2 = new AWS.Kinesis({ endpoint: kd.endpoint, region: 'us-east-1', maxRetries: 0 });
    const pr = await v2.putRecords({
      StreamName: 'p', Records: [0, 1, 2, 3, 4, 5].map((i) => ({ Data: String(i), PartitionKey: 'k' })),
    }).promise();
    assert.strictEqual(pr.FailedRecordCount, 3);
    assert.deepStrictEqual(pr.Records.map((e) => e.ErrorCode || null),
      [null, 'ProvisionedThroughputExceededException', null, 'ProvisionedThroughputExceededException', null,
        'ProvisionedThroughputExceededException']);
    const v2err = await v2.putRecord({ StreamName: 't', Data: 'q', PartitionKey: 'k' }).promise()
      .then(() => v2.putRecord({ StreamName: 't', Data: 'q', PartitionKey: 'k' }).promise())
      .then(() => null, (e) => e);
    assert.ok(v2err, 'one of two PutRecord calls on t is throttled');
    assert.strictEqual(v2err.code, 'ProvisionedThroughputExceededException');
    assert.strictEqual(v2err.statusCode, 400);
  } finally {
    v3.destroy();
    await kd.stop();
  }
});
