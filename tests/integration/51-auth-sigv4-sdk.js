'use strict';
// kinesind --auth sigv4 with the npm SDKs: aws-sdk v2 (HTTP/1.1) and @aws-sdk/client-kinesis v3
// (HTTP/2, where the signed host is the :authority) pass with the right key and get AWS's
// InvalidSignatureException with a wrong secret.
const fs = require('fs');
const os = require('os');
const path = require('path');
const kn = require('kn');
const AWS = require('aws-sdk');
const { KinesisClient, ListStreamsCommand, CreateStreamCommand } = require('@aws-sdk/client-kinesis');

const AK = 'AKIDKINESINJS';
const SK = 'js-secret-key';

kn.main(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kn-keys-'));
  const keys = path.join(dir, 'keys');
  fs.writeFileSync(keys, `${AK} ${SK}\n`);
  const kd = await kn.start({ args: ['--auth', 'sigv4', '--credentials', keys], logLevel: process.env.KN_LOG || undefined });
  const v2 = (sk) => new AWS.Kinesis({ endpoint: kd.endpoint, region: 'us-east-1', maxRetries: 0,
    credentials: new AWS.Credentials(AK, sk) });
  const v3 = (sk) => new KinesisClient({ endpoint: kd.endpoint, region: 'us-east-1', maxAttempts: 1,
    credentials: { accessKeyId: AK, secretAccessKey: sk } });

  await v2(SK).createStream({ StreamName: 'js', ShardCount: 1 }).promise();
  const l2 = await v2(SK).listStreams({}).promise();
  if (JSON.stringify(l2.StreamNames) !== '["js"]') throw new Error(`v2 listStreams: ${JSON.stringify(l2)}`);
  const good3 = v3(SK);
  await good3.send(new CreateStreamCommand({ StreamName: 'js3', ShardCount: 1 }));
  const l3 = await good3.send(new ListStreamsCommand({}));
  if (l3.StreamNames.length !== 2) throw new Error(`v3 listStreams: ${JSON.stringify(l3)}`);
  good3.destroy();

  try {
    await v2('wrong').listStreams({}).promise();
    throw new Error('v2 with a wrong secret succeeded');
  } catch (e) {
    if (e.code !== 'InvalidSignatureException') throw e;
  }
  const bad3 = v3('wrong');
  try {
    await bad3.send(new ListStreamsCommand({}));
    throw new Error('v3 with a wrong secret succeeded');
  } catch (e) {
    if (e.name !== 'InvalidSignatureException') throw e;
    if (!e.message.startsWith('The request signature we calculated')) throw new Error(`v3 message: ${e.message}`);
  } finally {
    bad3.destroy();
  }
  console.log('aws-sdk v2 and v3 signatures verified');
});
