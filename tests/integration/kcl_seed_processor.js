'use strict';
// The seed's record processor (AWS Big Data Blog, KCL for Node.js), as the kinesin-kcl tests
// run it: initialize / processRecords with a checkpoint of the last sequence number after each
// batch / shutdown that checkpoints at TERMINATE. One addition: every record and every
// checkpoint outcome is appended as a JSON line to $KCL_OUT, so the test can check what was
// processed, by which process, in which order.
const fs = require('fs');
const kcl = require('aws-kcl');

const out = process.env.KCL_OUT;
function note(obj) {
  obj.pid = process.pid;
  obj.t = Date.now();
  fs.appendFileSync(out, JSON.stringify(obj) + '\n');
}

const recordProcessor = {
  initialize: function (initializeInput, completeCallback) {
    this.shardId = initializeInput.shardId;
    note({ ev: 'initialize', shard: this.shardId, seq: initializeInput.sequenceNumber });
    completeCallback();
  },

  processRecords: function (processRecordsInput, completeCallback) {
    if (!processRecordsInput || !processRecordsInput.records) {
      completeCallback();
      return;
    }
    const records = processRecordsInput.records;
    // Test hook: $KCL_CRASH_ONCE names a file; the first processor to see records creates it
    // and dies, as a buggy processor would.
    const crash = process.env.KCL_CRASH_ONCE;
    if (crash && records.length) {
      let first = false;
      try {
        fs.closeSync(fs.openSync(crash, 'wx'));
        first = true;
      } catch (e) { /* another processor crashed already */ }
      if (first) {
        note({ ev: 'crash', shard: this.shardId });
        process.exit(3);
      }
    }
    let sequenceNumber;
    for (let i = 0; i < records.length; ++i) {
      const record = records[i];
      sequenceNumber = record.sequenceNumber;
      note({ ev: 'record', shard: this.shardId, seq: sequenceNumber, sub: record.subSequenceNumber,
        pk: record.partitionKey, data: Buffer.from(record.data, 'base64').toString(),
        arrival: record.approximateArrivalTimestamp });
    }
    if (sequenceNumber === undefined) {
      completeCallback();
      return;
    }
    const shard = this.shardId;
    const checkpoint = function () {
      processRecordsInput.checkpointer.checkpoint(sequenceNumber, function (err, sn) {
        note({ ev: 'checkpoint', shard: shard, seq: sequenceNumber, err: err || null });
        completeCallback();
      });
    };
    // Test hook: $KCL_SLOW_MS makes every batch take that long, as a slow processor would.
    const slow = parseInt(process.env.KCL_SLOW_MS || '0', 10);
    if (slow > 0) {
      note({ ev: 'batch', shard: shard, n: records.length, mbl: processRecordsInput.millisBehindLatest });
      setTimeout(checkpoint, slow);
    } else {
      checkpoint();
    }
  },

  shutdown: function (shutdownInput, completeCallback) {
    const shard = this.shardId;
    note({ ev: 'shutdown', shard: shard, reason: shutdownInput.reason });
    if (shutdownInput.reason !== 'TERMINATE') {
      completeCallback();
      return;
    }
    shutdownInput.checkpointer.checkpoint(function (err) {
      note({ ev: 'checkpoint', shard: shard, seq: 'SHARD_END', err: err || null });
      completeCallback();
    });
  },
};

kcl(recordProcessor).run();
