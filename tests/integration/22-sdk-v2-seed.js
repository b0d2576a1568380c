'use strict';
// The seed document's producer (AWS Big Data Blog, "Processing Amazon Kinesis Stream Data
// Using Amazon KCL for Node.js"), run as printed with AWS SDK for JavaScript v2; only the client
// options (region, endpoint) and the 5000 ms re-check delay (100 ms) are changed. Then every
// record is read back from both shards and checked.
process.env.AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE = '1';

const assert = require('assert');
const kn = require('kn');

// Records every putRecord the seed code makes, and every console.error it prints.
function instrument(kinesis, log) {
  const orig = kinesis.putRecord.bind(kinesis);
  kinesis.putRecord = function (params, callback) {
    const entry = { params: Object.assign({}, params), err: null, data: null, done: false };
    log.puts.push(entry);
    return orig(params, function (err, data) {
      entry.err = err;
      entry.data = data;
      entry.done = true;
      callback(err, data);
    });
  };
}

function runSeedProducer(endpoint, log) {
  var AWS = require('aws-sdk');

  var kinesis = new AWS.Kinesis({region : 'us-east-1', endpoint : endpoint});
  instrument(kinesis, log);
  var console = { error: function () { log.errors.push(Array.from(arguments).join(' ')); } };
  log.seedDone = false;

  // ---- seed code, as printed ----
  function createStream(streamName, numberOfShards, callback) {
    var params = {
      ShardCount: numberOfShards,
      StreamName: streamName
    };

    // Create the new stream if it does not already exist.
    kinesis.createStream(params, function(err, data) {
      if (err && err.code !== 'ResourceInUseException') {
        callback(err);
        return;
      }
      // Make sure the stream is in the ACTIVE state before
      // you start pushing data.
      waitForStreamToBecomeActive(streamName, callback);
    });
  }

  function waitForStreamToBecomeActive(streamName, callback) {
    kinesis.describeStream({StreamName : streamName},
      function(err, data) {
        if (err) {
          callback(err);
          return;
        }

        if (data.StreamDescription.StreamStatus === 'ACTIVE') {
          callback();
        }
        // The stream is not ACTIVE yet. Wait for another 5 seconds before
        // checking the state again.
        else {
          setTimeout(function() {
            waitForStreamToBecomeActive(streamName, callback);
          }, 100);
        }
      }
    );
  }

  function writeToKinesis(streamName) {
    var randomNumber = Math.floor(Math.random() * 100000);
    var data = 'data-' + randomNumber;
    var partitionKey = 'pk-' + randomNumber;
    var recordParams = {
      Data: data,
      PartitionKey: partitionKey,
      StreamName: streamName
    };

    kinesis.putRecord(recordParams, function(err, data) {
      if (err) {
        console.error(err);
      }
    });
  }

  createStream('TestStream', 2, function(err) {
    if (err) {
      console.error('Error starting Kinesis producer: ' + err);
      log.seedDone = true;
      return;
    }
    for (var i = 0 ; i < 10 ; ++i) {
      writeToKinesis('TestStream');
    }
    log.seedDone = true;
  });
  // ---- end of seed code ----
}

async function waitFor(what, cond, ms = 15000) {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await kn.sleep(20);
  }
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

async function produce(endpoint, round) {
  const log = { puts: [], errors: [], seedDone: false };
  runSeedProducer(endpoint, log);
  await waitFor(`round ${round}: the seed producer's 10 putRecord callbacks`,
    () => (log.seedDone && log.puts.length === 10 && log.puts.every((p) => p.done)) ||
      (log.seedDone && log.errors.length > 0));
  assert.deepStrictEqual(log.errors, [], `round ${round}: the seed producer printed errors`);
  for (const p of log.puts) {
    assert.strictEqual(p.err, null, `round ${round}: putRecord error ${p.err}`);
    assert.match(p.data.ShardId, /^shardId-00000000000[01]$/);
    assert.match(p.data.SequenceNumber, /^\d{56}$/);
  }
  return log.puts;
}

kn.main(async () => {
  const kd = await kn.start();
  const AWS = require('aws-sdk');
  const kinesis = new AWS.Kinesis({ region: 'us-east-1', endpoint: kd.endpoint, maxRetries: 0 });

  // Round 1 creates the stream; round 2 hits ResourceInUseException, which the seed tolerates.
  const puts = (await produce(kd.endpoint, 1)).concat(await produce(kd.endpoint, 2));

  const { shards, out } = await readAll(kinesis, 'TestStream');
  assert.deepStrictEqual(shards.map((s) => s.ShardId), ['shardId-000000000000', 'shardId-000000000001']);
  assert.strictEqual(out.length, puts.length, `read ${out.length} records, wrote ${puts.length}`);

  const bySeq = new Map(out.map((o) => [o.rec.SequenceNumber, o]));
  for (const p of puts) {
    const got = bySeq.get(p.data.SequenceNumber);
    assert.ok(got, `record ${p.data.SequenceNumber} (${p.params.Data}) not read back`);
    assert.strictEqual(got.shard, p.data.ShardId, `record ${p.params.Data} read from another shard`);
    assert.ok(Buffer.isBuffer(got.rec.Data), 'Data is not a Buffer');
    assert.strictEqual(got.rec.Data.toString(), p.params.Data, 'record data');
    assert.strictEqual(got.rec.PartitionKey, p.params.PartitionKey, 'partition key');
    assert.ok(got.rec.ApproximateArrivalTimestamp instanceof Date, 'ApproximateArrivalTimestamp');
    assert.ok(Math.abs(got.rec.ApproximateArrivalTimestamp - Date.now()) < 60000, 'arrival time');
    assert.strictEqual(p.data.ShardId, kn.shardFor(shards, kn.hashKey(p.params.PartitionKey)),
      `shard of partition key ${p.params.PartitionKey}`);
  }
  // within each shard, sequence numbers increase in read order
  for (const s of shards) {
    const seqs = out.filter((o) => o.shard === s.ShardId).map((o) => BigInt(o.rec.SequenceNumber));
    for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i - 1] < seqs[i], `${s.ShardId}: sequence order`);
  }
  assert.ok(kd.alive(), 'kinesind died');
});
