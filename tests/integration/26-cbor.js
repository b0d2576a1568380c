'use strict';
// application/x-amz-cbor-1.1, as the Java SDKs speak it by default (spec §1.4, §1.5, §1.6): requests
// encoded with the npm `cbor` package (and one hand-built indefinite-length map) over plain HTTP/1.1;
// answers and errors must come back CBOR-encoded, Data as byte strings, timestamps as tag 1 +
// integer epoch milliseconds.
const assert = require('assert');
const http = require('http');
const cbor = require('cbor');
const kn = require('kn');

const CBOR_CT = 'application/x-amz-cbor-1.1';
const AUTH = 'AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/kinesis/aws4_request, ' +
  'SignedHeaders=host;x-amz-date, Signature=abcd';
// cbor.encode() silently truncates output beyond its 16 KiB stream highWaterMark: encode in one
// piece with room for the largest request.
const enc = (v) => cbor.encodeOne(v, { highWaterMark: 1 << 25 });
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

// Tag 1 is kept as {tag1: value} so the test sees what was on the wire (the package would
// otherwise turn it into a Date, reading the value as seconds).
class Tag1 {
  constructor(v) { this.value = v; }
}
const DECODE_OPTS = { tags: { 1: (v) => new Tag1(v) } };

function post(port, op, body, extraHeaders = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1', port, method: 'POST', path: '/', agent,
      headers: {
        'Content-Type': CBOR_CT, 'X-Amz-Target': `Kinesis_20131202.${op}`, Authorization: AUTH,
        'X-Amz-Date': '20240101T000000Z', 'Content-Length': body.length, ...extraHeaders,
      },
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

function decode(res, what) {
  if (res.body.length === 0) return undefined;
  const major = res.body[0] >> 5;
  assert.strictEqual(major, 5, `${what}: answer is not a CBOR map (first byte 0x${res.body[0].toString(16)}): ${res.body.toString('hex').slice(0, 200)}`);
  return cbor.decodeFirstSync(res.body, DECODE_OPTS);
}

// Sends a CBOR request; returns the decoded answer, asserting 200 and the CBOR content type.
async function ok(port, op, payload, raw) {
  const res = await post(port, op, raw || enc(payload));
  const what = `${op} ${raw ? raw.toString('hex').slice(0, 120) : JSON.stringify(payload, (k, v) => (v && v.type === 'Buffer' ? `<${v.data.length} bytes>` : v))}`;
  if (res.status !== 200) {
    let detail = res.body.toString('hex').slice(0, 400);
    try { detail = JSON.stringify(cbor.decodeFirstSync(res.body, DECODE_OPTS)); } catch (e) { /* keep hex */ }
    assert.fail(`${what}: HTTP ${res.status} ${detail}`);
  }
  assert.strictEqual((res.headers['content-type'] || '').split(';')[0], CBOR_CT, `${what}: Content-Type`);
  assert.strictEqual(Number(res.headers['content-length']), res.body.length, `${what}: Content-Length`);
  return decode(res, what);
}

async function err(port, op, payload, raw) {
  const res = await post(port, op, raw || enc(payload));
  const what = `${op} error`;
  assert.strictEqual(res.status, 400, `${what}: status (body ${res.body.toString('hex').slice(0, 200)})`);
  assert.strictEqual((res.headers['content-type'] || '').split(';')[0], CBOR_CT, `${what}: Content-Type`);
  return decode(res, what);
}

// An indefinite-length map (0xBF key value ... 0xFF), the way Jackson's CBORGenerator writes one.
function indefiniteMap(obj) {
  const parts = [Buffer.from([0xbf])];
  for (const [k, v] of Object.entries(obj)) parts.push(enc(k), enc(v));
  parts.push(Buffer.from([0xff]));
  return Buffer.concat(parts);
}

function assertTimestampMs(v, what) {
  assert.ok(v instanceof Tag1, `${what}: not tag 1 (${JSON.stringify(v)})`);
  assert.ok(Number.isInteger(v.value), `${what}: tag 1 content is not an integer: ${v.value}`);
  assert.ok(Math.abs(v.value - Date.now()) < 120000, `${what}: ${v.value} is not epoch milliseconds near now (${Date.now()})`);
  return v.value;
}

const failures = [];
async function soft(name, fn) {
  try {
    await fn();
    console.log(`ok   [${name}]`);
  } catch (e) {
    failures.push(name);
    console.error(`FAIL [${name}]: ${e && e.stack ? e.stack : e}`);
  }
}

kn.main(async () => {
  const kd = await kn.start({ createMs: 50, updateMs: 50 });
  const port = kd.port;
  const S = 'cbor-s';
  const ACCT = kn.ACCOUNT;

  await soft('CreateStream', async () => {
    const r = await ok(port, 'CreateStream', { StreamName: S, ShardCount: 2 });
    assert.ok(r === undefined || (typeof r === 'object' && Object.keys(r).length === 0), `CreateStream answer ${JSON.stringify(r)}`);
  });

  let summary;
  const deadline = Date.now() + 10000;
  for (;;) {
    summary = (await ok(port, 'DescribeStreamSummary', { StreamName: S })).StreamDescriptionSummary;
    if (summary.StreamStatus === 'ACTIVE' || Date.now() > deadline) break;
    await kn.sleep(20);
  }
  assert.strictEqual(summary.StreamStatus, 'ACTIVE', 'stream status');

  await soft('DescribeStreamSummary: fields, StreamCreationTimestamp as tag 1 + integer ms', async () => {
    assert.strictEqual(summary.StreamName, S);
    assert.strictEqual(summary.StreamARN, kn.streamArn(S));
    assert.strictEqual(summary.OpenShardCount, 2);
    assert.strictEqual(summary.RetentionPeriodHours, 24);
    assertTimestampMs(summary.StreamCreationTimestamp, 'StreamCreationTimestamp');
  });

  await soft('answers are indefinite-length maps (as the server promises)', async () => {
    const res = await post(port, 'DescribeStreamSummary', enc({ StreamName: S }));
    assert.strictEqual(res.body[0], 0xbf, `first byte 0x${res.body[0].toString(16)}`);
    assert.strictEqual(res.body[res.body.length - 1], 0xff, 'last byte');
  });

  const shards = (await ok(port, 'ListShards', { StreamName: S })).Shards;
  await soft('ListShards', async () => {
    assert.deepStrictEqual(shards.map((s) => s.ShardId), ['shardId-000000000000', 'shardId-000000000001']);
    assert.deepStrictEqual(shards.map((s) => [s.HashKeyRange.StartingHashKey, s.HashKeyRange.EndingHashKey]),
      [['0', String(2n ** 127n - 1n)], [String(2n ** 127n), String(2n ** 128n - 1n)]]);
    assert.match(shards[0].SequenceNumberRange.StartingSequenceNumber, /^\d{56}$/);
  });

  const written = []; // {shard, seq, data, pk}
  const allBytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  await soft('PutRecord with Data as a byte string', async () => {
    const r = await ok(port, 'PutRecord', { StreamName: S, Data: allBytes, PartitionKey: 'bytes' });
    assert.strictEqual(r.ShardId, kn.shardFor(shards, kn.hashKey('bytes')));
    assert.match(r.SequenceNumber, /^\d{56}$/);
    assert.ok(!('EncryptionType' in r), `EncryptionType on an unencrypted stream: ${r.EncryptionType}`);
    written.push({ shard: r.ShardId, seq: r.SequenceNumber, data: allBytes, pk: 'bytes' });
  });

  await soft('PutRecords', async () => {
    const entries = [];
    for (let i = 0; i < 12; i++) entries.push({ Data: Buffer.from(`cbor-${i}-${'y'.repeat(i * 3)}`), PartitionKey: `k${i}` });
    entries.push({ Data: Buffer.alloc(0), PartitionKey: 'empty', ExplicitHashKey: '0' });
    entries.push({ Data: Buffer.from([0xff, 0x00, 0xbf]), PartitionKey: 'top', ExplicitHashKey: String(2n ** 128n - 1n) });
    const r = await ok(port, 'PutRecords', { StreamName: S, Records: entries });
    assert.strictEqual(r.FailedRecordCount, 0);
    assert.strictEqual(r.Records.length, entries.length);
    r.Records.forEach((res, i) => {
      const e = entries[i];
      const h = e.ExplicitHashKey !== undefined ? BigInt(e.ExplicitHashKey) : kn.hashKey(e.PartitionKey);
      assert.strictEqual(res.ShardId, kn.shardFor(shards, h), `shard of entry ${i}`);
      written.push({ shard: res.ShardId, seq: res.SequenceNumber, data: e.Data, pk: e.PartitionKey });
    });
  });

  await soft('an indefinite-length map request (PutRecord)', async () => {
    const data = Buffer.from('indefinite \u00e9', 'utf8');
    const r = await ok(port, 'PutRecord', null, indefiniteMap({ StreamName: S, PartitionKey: 'indef', Data: data }));
    assert.strictEqual(r.ShardId, kn.shardFor(shards, kn.hashKey('indef')));
    written.push({ shard: r.ShardId, seq: r.SequenceNumber, data, pk: 'indef' });
  });

  await soft('an indefinite-length map with a nested indefinite map (ListShards ShardFilter)', async () => {
    const body = Buffer.concat([Buffer.from([0xbf]), enc('StreamName'), enc(S),
      enc('ShardFilter'), indefiniteMap({ Type: 'AT_LATEST' }), Buffer.from([0xff])]);
    const r = await ok(port, 'ListShards', null, body);
    assert.deepStrictEqual(r.Shards.map((s) => s.ShardId), ['shardId-000000000000', 'shardId-000000000001']);
  });

  await soft('indefinite-length byte / text strings and an indefinite-length array (PutRecords)', async () => {
    // Records: [_ {_ "Data": (_ h'6368' h'756e6b'), "PartitionKey": (_ "chu" "nked")} ]
    const chunkedData = Buffer.concat([Buffer.from([0x5f]), enc(Buffer.from('ch')), enc(Buffer.from('unk')), Buffer.from([0xff])]);
    const chunkedKey = Buffer.concat([Buffer.from([0x7f]), enc('chu'), enc('nked'), Buffer.from([0xff])]);
    const entry = Buffer.concat([Buffer.from([0xbf]), enc('Data'), chunkedData, enc('PartitionKey'), chunkedKey, Buffer.from([0xff])]);
    const body = Buffer.concat([Buffer.from([0xbf]), enc('StreamName'), enc(S),
      enc('Records'), Buffer.from([0x9f]), entry, Buffer.from([0xff]), Buffer.from([0xff])]);
    const r = await ok(port, 'PutRecords', null, body);
    assert.strictEqual(r.FailedRecordCount, 0);
    assert.strictEqual(r.Records[0].ShardId, kn.shardFor(shards, kn.hashKey('chunked')));
    written.push({ shard: r.Records[0].ShardId, seq: r.Records[0].SequenceNumber, data: Buffer.from('chunk'), pk: 'chunked' });
  });

  await soft('a 1 MiB record (the maximum) as a byte string', async () => {
    const data = Buffer.alloc(1048576);
    for (let i = 0; i < data.length; i++) data[i] = (i * 31 + 7) & 0xff;
    const r = await ok(port, 'PutRecord', { StreamName: S, Data: data, PartitionKey: 'max', ExplicitHashKey: String(2n ** 127n) });
    assert.strictEqual(r.ShardId, 'shardId-000000000001');
    written.push({ shard: r.ShardId, seq: r.SequenceNumber, data, pk: 'max' });
  });

  await soft('Data above 1 MiB -> ValidationException with the blob rendering (spec §3.4)', async () => {
    const e = await err(port, 'PutRecord', { StreamName: S, Data: Buffer.alloc(1048577, 7), PartitionKey: 'big' });
    assert.deepStrictEqual(e, {
      __type: 'ValidationException',
      message: '1 validation error detected: Value \'java.nio.HeapByteBuffer[pos=0 lim=1048577 cap=1048577]\' at \'data\' ' +
        'failed to satisfy constraint: Member must have length less than or equal to 1048576',
    });
  });

  const iter = async (shardId, type, extra = {}) =>
    (await ok(port, 'GetShardIterator', { StreamName: S, ShardId: shardId, ShardIteratorType: type, ...extra })).ShardIterator;

  await soft('GetRecords: Data comes back as a byte string equal to what was put; timestamps as tag 1 ms', async () => {
    for (const s of shards) {
      const mine = written.filter((w) => w.shard === s.ShardId);
      const it = await iter(s.ShardId, 'TRIM_HORIZON');
      assert.strictEqual(typeof it, 'string');
      const r = await ok(port, 'GetRecords', { ShardIterator: it });
      assert.strictEqual(typeof r.NextShardIterator, 'string', 'NextShardIterator');
      assert.ok(Number.isInteger(r.MillisBehindLatest), `MillisBehindLatest ${r.MillisBehindLatest}`);
      assert.deepStrictEqual(r.Records.map((x) => x.SequenceNumber), mine.map((w) => w.seq), `${s.ShardId} sequence numbers`);
      r.Records.forEach((x, i) => {
        assert.ok(Buffer.isBuffer(x.Data), `${s.ShardId} record ${i}: Data is not a byte string (${typeof x.Data} ${JSON.stringify(x.Data)})`);
        assert.ok(x.Data.equals(mine[i].data), `${s.ShardId} record ${i} data`);
        assert.strictEqual(x.PartitionKey, mine[i].pk);
        assertTimestampMs(x.ApproximateArrivalTimestamp, `${s.ShardId} record ${i} ApproximateArrivalTimestamp`);
      });
    }
  });

  // AT_TIMESTAMP with a millisecond timestamp: plain integer and tag 1
  const ehk0 = shards[0].HashKeyRange.StartingHashKey;
  const put0 = async (text) => ok(port, 'PutRecord', { StreamName: S, Data: Buffer.from(text), PartitionKey: 'ts', ExplicitHashKey: ehk0 });
  await put0('before-ts');
  await kn.sleep(60);
  const ts = Date.now();
  await kn.sleep(60);
  const after = await put0('after-ts');
  const fromTs = async (timestamp) => {
    const it = await iter(shards[0].ShardId, 'AT_TIMESTAMP', { Timestamp: timestamp });
    return (await ok(port, 'GetRecords', { ShardIterator: it })).Records.map((x) => [x.SequenceNumber, x.Data.toString()]);
  };
  await soft('GetShardIterator AT_TIMESTAMP with integer epoch milliseconds', async () => {
    assert.deepStrictEqual(await fromTs(ts), [[after.SequenceNumber, 'after-ts']]);
  });
  await soft('GetShardIterator AT_TIMESTAMP with tag 1 + integer epoch milliseconds', async () => {
    assert.deepStrictEqual(await fromTs(new cbor.Tagged(1, ts)), [[after.SequenceNumber, 'after-ts']]);
  });
  await soft('AT_TIMESTAMP in the future (ms) -> InvalidArgumentException', async () => {
    const future = Date.now() + 3600000;
    const e = await err(port, 'GetShardIterator', { StreamName: S, ShardId: shards[0].ShardId, ShardIteratorType: 'AT_TIMESTAMP', Timestamp: future });
    assert.strictEqual(e.__type, 'InvalidArgumentException');
    assert.ok(e.message.startsWith(`The timestampInMillis parameter cannot be greater than the currentTimestampInMillis. timestampInMillis: ${future}, currentTimestampInMillis: `),
      `message ${e.message}`);
  });

  await soft('ResourceNotFoundException, CBOR-encoded', async () => {
    const e = await err(port, 'DescribeStreamSummary', { StreamName: 'nope' });
    assert.deepStrictEqual(e, { __type: 'ResourceNotFoundException', message: `Stream nope under account ${ACCT} not found.` });
  });
  await soft('ValidationException, CBOR-encoded (spec §3.4)', async () => {
    const e = await err(port, 'CreateStream', {});
    assert.deepStrictEqual(e, {
      __type: 'ValidationException',
      message: '2 validation errors detected: Value null at \'shardCount\' failed to satisfy constraint: Member must not be null; ' +
        'Value null at \'streamName\' failed to satisfy constraint: Member must not be null',
    });
  });
  await soft('an unparseable CBOR body -> SerializationException (spec §1.6 row 8)', async () => {
    const e = await err(port, 'ListStreams', null, Buffer.from([0xff, 0x00]));
    assert.strictEqual(e.__type, 'SerializationException');
  });
  await soft('UnknownOperationException, CBOR-encoded (spec §1.6 row 10)', async () => {
    const e = await err(port, 'Frobnicate', { StreamName: S });
    assert.strictEqual(e.__type, 'UnknownOperationException');
  });

  await soft('ListStreams: StreamSummaries timestamps as tag 1 ms', async () => {
    const r = await ok(port, 'ListStreams', {});
    assert.deepStrictEqual(r.StreamNames, [S]);
    assert.strictEqual(r.HasMoreStreams, false);
    if (r.StreamSummaries) assertTimestampMs(r.StreamSummaries[0].StreamCreationTimestamp, 'StreamSummaries timestamp');
  });

  await soft('a record put over JSON reads back as the same bytes over CBOR', async () => {
    const data = Buffer.from([1, 2, 3, 0xfe]);
    const body = JSON.stringify({ StreamName: S, Data: data.toString('base64'), PartitionKey: 'json', ExplicitHashKey: ehk0 });
    const res = await post(port, 'PutRecord', Buffer.from(body), { 'Content-Type': 'application/x-amz-json-1.1' });
    assert.strictEqual(res.status, 200, res.body.toString());
    const seq = JSON.parse(res.body.toString()).SequenceNumber;
    const it = await iter(shards[0].ShardId, 'AT_SEQUENCE_NUMBER', { StartingSequenceNumber: seq });
    const r = await ok(port, 'GetRecords', { ShardIterator: it, Limit: 1 });
    assert.ok(Buffer.isBuffer(r.Records[0].Data) && r.Records[0].Data.equals(data), 'Data');
  });

  await soft('DeleteStream', async () => {
    await ok(port, 'DeleteStream', { StreamName: S });
  });

  assert.ok(kd.alive(), 'kinesind died');
  agent.destroy();
  if (failures.length) throw new Error(`${failures.length} case(s) failed:\n  ${failures.join('\n  ')}`);
});
