'use strict';
// The seed document's producer (AWS Big Data Blog, "Processing Amazon Kinesis Stream Data
// Using Amazon KCL for Node.js") as shipped in examples/seed/producer.js: the seed's code with
// AWS SDK for JavaScript v2, only the endpoint and region set. It runs twice (the second run
// meets ResourceInUseException, which the seed tolerates); then every record is read back from
// both shards and checked against what the seed writes: data-N under key pk-N, routed by MD5.
process.env.AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE = '1';

const assert = require('assert');
const path = require('path');
const { execFile } = require('child_process');
const kn = require('kn');

const PRODUCER = path.join(process.env.KN_SRC || path.join(__dirname, '..', '..'), 'examples', 'seed', 'producer.js');

function runProducer(endpoint) {
  return new Promise((resolve, reject) => {
    execFile('node', [PRODUCER], { env: Object.assign({}, process.env, { KINESIS_ENDPOINT: endpoint }), timeout: 30000 },
      (err, stdout, stderr) => (err ? reject(new Error(`producer failed: ${err.message}\n${stderr}`))
        : resolve({ stdout, stderr })));
  });
}

async function readAll(kinesis, streamName) {
  const d = await kinesis.describeStream({ StreamName: streamName }).promise();
  const shards = d.StreamDescription.Shards;
  const out = [];
  for (const s of shards) {
    let it = (await kinesis.getShardIterator({ StreamName: streamName, ShardId: s.ShardId,
      ShardIteratorType: 'TRIM_HORIZON' }).promise()).ShardIterator;
    for (let i = 0; i < 100; i++) {
      const r = await kinesis.getRecords({ ShardIterator: it }).promise();
      assert.ok(typeof r.MillisBehindLatest === 'number', `MillisBehindLatest: ${JSON.stringify(r)}`);
      assert.ok(r.NextShardIterator, 'NextShardIterator missing on an open shard');
      for (const rec of r.Records) out.push({ shard: s.ShardId, rec });
      if (r.Records.length === 0) break;
      it = r.NextShardIterator;
    }
  }
  return { shards, out };
}

kn.main(async () => {
  const kd = await kn.start();
  const AWS = require('aws-sdk');
  const kinesis = new AWS.Kinesis({ region: 'us-east-1', endpoint: kd.endpoint, maxRetries: 0 });
  for (let round = 1; round <= 2; round++) {
    const { stderr } = await runProducer(kd.endpoint);
    assert.strictEqual(stderr.trim(), '', `round ${round}: the seed producer printed errors`);
    // the seed fires its putRecord calls without waiting; the process exits once they are answered
  }
  const { shards, out } = await readAll(kinesis, 'TestStream');
  assert.deepStrictEqual(shards.map((s) => s.ShardId), ['shardId-000000000000', 'shardId-000000000001']);
  assert.strictEqual(out.length, 20, `read ${out.length} records, the two runs wrote 20`);
  for (const { shard, rec } of out) {
    assert.ok(Buffer.isBuffer(rec.Data), 'Data is not a Buffer');
    const m = /^data-(\d+)$/.exec(rec.Data.toString());
    assert.ok(m, `record data ${rec.Data.toString()}`);
    assert.strictEqual(rec.PartitionKey, `pk-${m[1]}`, 'partition key goes with the data');
    assert.match(rec.SequenceNumber, /^\d{56}$/);
    assert.ok(rec.ApproximateArrivalTimestamp instanceof Date, 'ApproximateArrivalTimestamp');
    assert.ok(Math.abs(rec.ApproximateArrivalTimestamp - Date.now()) < 60000, 'arrival time');
    assert.strictEqual(shard, kn.shardFor(shards, kn.hashKey(rec.PartitionKey)), `shard of ${rec.PartitionKey}`);
  }
  for (const s of shards) {
    const seqs = out.filter((o) => o.shard === s.ShardId).map((o) => BigInt(o.rec.SequenceNumber));
    for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i - 1] < seqs[i], `${s.ShardId}: sequence order`);
  }
  assert.ok(kd.alive(), 'kinesind died');
});
