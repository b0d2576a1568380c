'use strict';
// Records the producer aggregates (`kinesin put --aggregate`, KPL format) read back with the
// npm library people use for that format, aws-kinesis-agg: every user record comes out once,
// with its partition key, its data, the sequence number of the aggregate it travelled in and
// the subsequence number the producer reported for it, on the shard its key hashes to. Then a
// lone record, which is sent plain.
process.env.AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE = '1';

const assert = require('assert');
const path = require('path');
const { execFileSync } = require('child_process');
const kn = require('kn');

const N = 5000;

function kinesinBin() {
  return path.join(process.env.KN_BIN || path.join(process.env.KN_SRC, 'build', 'bin'), 'kinesin');
}

async function readAll(kinesis, stream) {
  const shards = (await kinesis.listShards({ StreamName: stream }).promise()).Shards;
  const out = [];
  for (const s of shards) {
    let it = (await kinesis.getShardIterator({ StreamName: stream, ShardId: s.ShardId,
      ShardIteratorType: 'TRIM_HORIZON' }).promise()).ShardIterator;
    for (;;) {
      const r = await kinesis.getRecords({ ShardIterator: it }).promise();
      for (const rec of r.Records) out.push({ shard: s.ShardId, rec });
      if (r.Records.length === 0) break;
      it = r.NextShardIterator;
    }
  }
  return out;
}

function deaggregate(rec) {
  const agg = require('aws-kinesis-agg');
  let got;
  agg.deaggregateSync({ partitionKey: rec.PartitionKey, sequenceNumber: rec.SequenceNumber,
    data: rec.Data.toString('base64') }, true, (err, userRecords) => {
    if (err) throw err;
    got = userRecords;
  });
  return got;
}

kn.main(async () => {
  const kd = await kn.start({ inMemory: true });
  const AWS = require('aws-sdk');
  const kinesis = new AWS.Kinesis({ region: 'us-east-1', endpoint: kd.endpoint, maxRetries: 3 });
  await kinesis.createStream({ StreamName: 'agg', ShardCount: 3 }).promise();
  for (let i = 0; i < 100; i++) {
    const d = await kinesis.describeStreamSummary({ StreamName: 'agg' }).promise();
    if (d.StreamDescriptionSummary.StreamStatus === 'ACTIVE') break;
    await kn.sleep(50);
  }
  const lines = [];
  for (let i = 0; i < N; i++) lines.push(JSON.stringify({ k: `key-${i % 97}`, i, pad: 'x'.repeat(i % 300) }));
  const env = Object.assign({}, process.env, { AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'y' });
  const reports = execFileSync(kinesinBin(), ['--endpoint', kd.endpoint, 'put', 'agg', '--key-field', 'k', '--aggregate',
    '--report', '--producer-option', 'AggregationMaxSize=20000'], { input: lines.join('\n') + '\n', env,
    maxBuffer: 64 << 20 }).toString().trim().split('\n').map((l) => JSON.parse(l));
  assert.strictEqual(reports.length, N, 'one delivery report per record');
  const byNumber = new Map();
  for (const r of reports) {
    assert.ok(!r.ErrorCode, `record ${r.Record} failed: ${r.ErrorCode} ${r.ErrorMessage}`);
    assert.ok(!byNumber.has(r.Record), `two reports for record ${r.Record}`);
    byNumber.set(r.Record, r);
  }

  const out = await readAll(kinesis, 'agg');
  assert.ok(out.length < N / 10, `${out.length} Kinesis records for ${N} user records: not aggregated`);
  const seen = new Map();
  for (const { shard, rec } of out) {
    const users = deaggregate(rec);
    for (const u of users) {
      const data = JSON.parse(Buffer.from(u.data, 'base64').toString());
      assert.strictEqual(u.partitionKey, data.k, 'partition key of a sub-record');
      assert.ok(!seen.has(data.i), `record ${data.i} twice`);
      const rep = byNumber.get(data.i + 1);
      assert.strictEqual(rep.ShardId, shard, `record ${data.i}: reported shard`);
      assert.strictEqual(rep.SequenceNumber, u.sequenceNumber, `record ${data.i}: reported sequence number`);
      assert.strictEqual(rep.SubSequenceNumber, u.subSequenceNumber, `record ${data.i}: reported subsequence number`);
      assert.strictEqual(shard, kn.shardFor(await shardsOf(kinesis), kn.hashKey(data.k)), `record ${data.i}: shard`);
      seen.set(data.i, true);
    }
  }
  assert.strictEqual(seen.size, N, 'every record read back once');

  // A lone record is sent plain.
  const ehk = execFileSync(kinesinBin(), ['--endpoint', kd.endpoint, 'put', 'agg', '--key', 'one', '--aggregate',
    '--report'], { input: 'lonely\n', env }).toString().trim();
  const lone = JSON.parse(ehk);
  assert.strictEqual(lone.Aggregated, false, 'a batch of one record is sent plain');
  const again = await readAll(kinesis, 'agg');
  const plain = again.find(({ rec }) => rec.SequenceNumber === lone.SequenceNumber);
  assert.strictEqual(plain.rec.Data.toString(), 'lonely', 'the plain record as put');
  assert.ok(kd.alive(), 'kinesind died');
});

let shardCache;
async function shardsOf(kinesis) {
  if (!shardCache) shardCache = (await kinesis.listShards({ StreamName: 'agg' }).promise()).Shards;
  return shardCache;
}
