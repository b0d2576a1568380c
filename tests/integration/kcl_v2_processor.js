'use strict';
// An aws-kcl "version 2" record processor (leaseLost / shardEnded / shutdownRequested) that
// checkpoints only when asked to shut down or at shard end. Every event goes to $KCL_OUT.
const fs = require('fs');
const kcl = require('aws-kcl');

function note(obj) {
  obj.pid = process.pid;
  obj.t = Date.now();
  fs.appendFileSync(process.env.KCL_OUT, JSON.stringify(obj) + '\n');
}

kcl({
  initialize: function (input, done) {
    this.shardId = input.shardId;
    note({ ev: 'initialize', shard: this.shardId, seq: input.sequenceNumber });
    done();
  },
  processRecords: function (input, done) {
    for (const r of input.records) {
      note({ ev: 'record', shard: this.shardId, seq: r.sequenceNumber, data: Buffer.from(r.data, 'base64').toString() });
    }
    done();
  },
  shutdownRequested: function (input, done) {
    const shard = this.shardId;
    input.checkpointer.checkpoint(function (err, seq) {
      note({ ev: 'shutdownRequested', shard: shard, err: err || null, seq: seq || null });
      done();
    });
  },
  leaseLost: function (input, done) {
    note({ ev: 'leaseLost', shard: this.shardId });
    done();
  },
  shardEnded: function (input, done) {
    const shard = this.shardId;
    input.checkpointer.checkpoint(function (err) {
      note({ ev: 'shardEnded', shard: shard, err: err || null });
      done();
    });
  },
}).run();
