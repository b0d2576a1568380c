// The seed's record processor (AWS Big Data Blog, "Processing Amazon Kinesis Stream Data
// Using Amazon KCL for Node.js"), as printed, plus one line of logging per record so you can
// see it work: a record processor logs to stderr, which kinesin-kcl prints with the shard id.
// `new Buffer(...)` is the blog's; Buffer.from is today's spelling of the same call.
var kcl = require('aws-kcl');

var recordProcessor = {
  initialize: function(initializeInput, completeCallback) {
    // Your application specific initialization logic.
    this.shardId = initializeInput.shardId;

    // After initialization is done, call completeCallback,
    // to let the KCL know that the initialize operation is
    // complete.
    completeCallback();
  },

  processRecords: function(processRecordsInput, completeCallback) {
    // Sample code for record processing.
    if (!processRecordsInput || !processRecordsInput.records) {
      // Invoke callback to tell the KCL to process next batch
      // of records.
      completeCallback();
      return;
    }
    var records = processRecordsInput.records;
    var record, sequenceNumber, partitionKey, data;
    for (var i = 0 ; i < records.length ; ++i) {
      record = records[i];
      sequenceNumber = record.sequenceNumber;
      partitionKey = record.partitionKey;
      // Data is in base64 format.
      data = Buffer.from(record.data, 'base64').toString();
      // Record processing logic here.
      console.error(this.shardId + ' ' + sequenceNumber + ' ' + partitionKey + ' ' + data);
    }
    // Checkpoint last sequence number.
    processRecordsInput.checkpointer.checkpoint(
      sequenceNumber, function(err, sn) {
        // Error handling logic. In this case, we call
        // completeCallback to process more data.
        completeCallback();
      }
    );
  },

  shutdown: function(shutdownInput, completeCallback) {
    // Your shutdown logic.

    if (shutdownInput.reason !== 'TERMINATE') {
      completeCallback();
      return;
    }
    shutdownInput.checkpointer.checkpoint(function(err) {
      // Error handling logic.
      // Invoke the callback at the end to mark the shutdown
      // operation complete.
      completeCallback();
    });
  }
};

kcl(recordProcessor).run();
