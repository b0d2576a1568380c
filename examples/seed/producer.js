// The seed's producer (AWS Big Data Blog, "Processing Amazon Kinesis Stream Data Using Amazon
// KCL for Node.js"), as printed, with two changes for kinesind: the client gets an endpoint
// ($KINESIS_ENDPOINT, default http://127.0.0.1:4567) and region us-east-1, and the stream is
// re-checked every second instead of every 5.
process.env.AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE = '1';
var AWS = require('aws-sdk');

var kinesis = new AWS.Kinesis({region : 'us-east-1',
                               endpoint : process.env.KINESIS_ENDPOINT || 'http://127.0.0.1:4567'});

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
      // The stream is not ACTIVE yet. Wait for another second before
      // checking the state again.
      else {
        setTimeout(function() {
          waitForStreamToBecomeActive(streamName, callback);
        }, 1000);
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
    return;
  }
  for (var i = 0 ; i < 10 ; ++i) {
    writeToKinesis('TestStream');
  }
});
