'use strict';
// kinesind --auth sigv4 with the npm SDKs: aws-sdk v2 (HTTP/1.1) and @aws-sdk/client-kinesis v3
// (HTTP/2, where the signed host is the :authority) pass with the right key and get AWS's
// InvalidSignatureException with a wrong secret; the same for both SDKs' DynamoDB clients (the
// lease-table API goes through the same request pipeline and auth check).
const fs = require('fs');
const os = require('os');
const path = require('path');
const kn = require('kn');
const AWS = require('aws-sdk');
const { KinesisClient, ListStreamsCommand, CreateStreamCommand } = require('@aws-sdk/client-kinesis');
const { DynamoDBClient, ListTablesCommand, CreateTableCommand } = require('@aws-sdk/client-dynamodb');

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
  // DynamoDB: both SDKs, right key passes (a table is created and listed), wrong secret refused
  const table = (name) => ({ TableName: name, BillingMode: 'PAY_PER_REQUEST',
    KeySchema: [{ AttributeName: 'leaseKey', KeyType: 'HASH' }],
    AttributeDefinitions: [{ AttributeName: 'leaseKey', AttributeType: 'S' }] });
  const d2 = (sk) => new AWS.DynamoDB({ endpoint: kd.endpoint, region: 'us-east-1', maxRetries: 0,
    credentials: new AWS.Credentials(AK, sk) });
  await d2(SK).createTable(table('v2table')).promise();
  const t2 = await d2(SK).listTables({}).promise();
  if (!t2.TableNames.includes('v2table')) throw new Error(`v2 listTables: ${JSON.stringify(t2)}`);
  try {
    await d2('wrong').listTables({}).promise();
    throw new Error('v2 DynamoDB with a wrong secret succeeded');
  } catch (e) {
    if (e.code !== 'InvalidSignatureException') throw e;
  }
  const d3 = (sk) => new DynamoDBClient({ endpoint: kd.endpoint, region: 'us-east-1', maxAttempts: 1,
    credentials: { accessKeyId: AK, secretAccessKey: sk } });
  const gd3 = d3(SK);
  await gd3.send(new CreateTableCommand(table('v3table')));
  const t3 = await gd3.send(new ListTablesCommand({}));
  if (!t3.TableNames.includes('v3table') || !t3.TableNames.includes('v2table'))
    throw new Error(`v3 listTables: ${JSON.stringify(t3)}`);
  gd3.destroy();
  const bd3 = d3('wrong');
  try {
    await bd3.send(new ListTablesCommand({}));
    throw new Error('v3 DynamoDB with a wrong secret succeeded');
  } catch (e) {
    if (e.name !== 'InvalidSignatureException') throw e;
  } finally {
    bd3.destroy();
  }
  console.log('aws-sdk v2 and v3 signatures verified for Kinesis and DynamoDB');
});
