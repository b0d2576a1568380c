'use strict';
// The dashboard in headless Chromium (playwright-core, Debian's chromium): every screen loads
// with no console errors and shows what the test made: a stream, its shard lineage after a
// split, a record put by the test (and one more through the live tail), and the lag of a KCL
// application's lease. A screenshot of each screen goes to <build>/tests/dashboard-screenshots/.
const assert = require('assert');
const fs = require('fs');
const path = require('path');
const kn = require('kn');
const AWS = require('aws-sdk');
const { chromium } = require('playwright-core');

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => fs.existsSync(p));

kn.main(async () => {
  assert.ok(CHROMIUM, 'chromium not found (scripts/install-deps.sh test installs it)');
  const shots = path.join(process.env.KN_TEST_BIN || path.join(process.env.KN_SRC, 'build', 'tests'),
    'dashboard-screenshots');
  fs.mkdirSync(shots, { recursive: true });

  const kd = await kn.start();
  const opts = { region: 'us-east-1', endpoint: kd.endpoint, maxRetries: 0 };
  const kinesis = new AWS.Kinesis(opts);
  const ddb = new AWS.DynamoDB(opts);
  const S = 'browser-stream';
  const waitActive = async () => {
    for (let i = 0; i < 200; i++) {
      const d = await kinesis.describeStreamSummary({ StreamName: S }).promise();
      if (d.StreamDescriptionSummary.StreamStatus === 'ACTIVE') return;
      await kn.sleep(20);
    }
    throw new Error('stream not ACTIVE');
  };
  await kinesis.createStream({ StreamName: S, ShardCount: 1 }).promise();
  await waitActive();
  const put = [];
  for (let i = 0; i < 8; i++) {
    put.push(await kinesis.putRecord({ StreamName: S, PartitionKey: `order-${i}`,
      Data: JSON.stringify({ order: i, item: 'widget' }) }).promise());
  }
  await kinesis.splitShard({ StreamName: S, ShardToSplit: 'shardId-000000000000',
    NewStartingHashKey: (2n ** 127n).toString() }).promise();
  await waitActive();

  // a KCL application's lease table, as kinesin-kcl and the Java KCL write it: checkpoint at 3 of 8
  await ddb.createTable({ TableName: 'orders-app', BillingMode: 'PAY_PER_REQUEST',
    KeySchema: [{ AttributeName: 'leaseKey', KeyType: 'HASH' }],
    AttributeDefinitions: [{ AttributeName: 'leaseKey', AttributeType: 'S' }] }).promise();
  for (let i = 0; i < 200; i++) {
    if ((await ddb.describeTable({ TableName: 'orders-app' }).promise()).Table.TableStatus === 'ACTIVE') break;
    await kn.sleep(20);
  }
  await ddb.putItem({ TableName: 'orders-app', Item: {
    leaseKey: { S: 'shardId-000000000000' }, leaseOwner: { S: 'worker-7' }, leaseCounter: { N: '12' },
    checkpoint: { S: put[2].SequenceNumber }, checkpointSubSequenceNumber: { N: '0' },
    ownerSwitchesSinceCheckpoint: { N: '0' } } }).promise();
  await ddb.putItem({ TableName: 'orders-app', Item: {
    leaseKey: { S: 'shardId-000000000001' }, leaseCounter: { N: '0' }, checkpoint: { S: 'TRIM_HORIZON' },
    parentShardId: { SS: ['shardId-000000000000'] } } }).promise();

  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  const errors = [];
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('requestfailed', (r) => errors.push(`request failed: ${r.url()}`));
    page.on('request', (r) => {
      if (!r.url().startsWith(kd.endpoint)) errors.push(`request outside kinesind: ${r.url()}`);
    });

    // overview
    await page.goto(kd.endpoint + '/', { waitUntil: 'load' });
    await page.waitForSelector('.card');
    const cards = await page.textContent('.cards');
    assert.match(cards, /Streams\s*1/, `overview cards: ${cards}`);
    // traffic on another stream while the page samples, so the rates and graphs have something
    await kinesis.createStream({ StreamName: 'load-stream', ShardCount: 1 }).promise();
    for (let i = 0; i < 200; i++) {
      const d = await kinesis.describeStreamSummary({ StreamName: 'load-stream' }).promise();
      if (d.StreamDescriptionSummary.StreamStatus === 'ACTIVE') break;
      await kn.sleep(20);
    }
    let loading = true;
    const load = (async () => {
      while (loading) {
        await kinesis.putRecords({ StreamName: 'load-stream', Records: Array.from({ length: 20 },
          (_, i) => ({ PartitionKey: `load-${i}`, Data: 'x'.repeat(200) })) }).promise();
        await kn.sleep(50);
      }
    })();
    try {
      await page.waitForFunction(() => document.querySelectorAll('svg.graph polyline').length > 0 &&
        !/Incoming\s*0\.0 rec\/s/.test(document.querySelector('.cards').textContent), null, { timeout: 15000 });
      await page.waitForTimeout(2500); // one more sample on the graphs
      await page.screenshot({ path: path.join(shots, '1-overview.png'), fullPage: true });
    } finally {
      loading = false;
      await load;
    }

    // streams list
    await page.click('a[data-nav="streams"]');
    await page.waitForSelector('a.stream-link');
    assert.deepStrictEqual(await page.$$eval('a.stream-link', (a) => a.map((x) => x.textContent)), [S, 'load-stream']);
    await page.screenshot({ path: path.join(shots, '2-streams.png'), fullPage: true });

    // stream detail: shard table and the lineage after the split
    await page.click('a.stream-link');
    await page.waitForSelector('svg.lineage g.shard');
    const shards = await page.$$eval('svg.lineage g.shard', (gs) => gs.map((g) => [g.dataset.shard, g.getAttribute('class')]));
    assert.deepStrictEqual(shards.map((s) => s[0]).sort(),
      ['shardId-000000000000', 'shardId-000000000001', 'shardId-000000000002']);
    assert.ok(shards.find((s) => s[0] === 'shardId-000000000000')[1].includes('closed'), 'parent drawn closed');
    assert.strictEqual(await page.$$eval('svg.lineage path.edge', (e) => e.length), 2, 'two lineage edges');
    const table = await page.textContent('main table');
    assert.match(table, /170141183460469231731687303715884105728/, 'hash range of the upper child');
    await page.screenshot({ path: path.join(shots, '3-stream.png'), fullPage: true });

    // record browser: the records put by the test, as JSON; then the live tail
    await page.click('a[href$="/shardId-000000000000"]');
    await page.waitForSelector('.record');
    await page.selectOption('#view', 'json');
    const first = await page.textContent('.record');
    assert.match(first, /order-0/, `first record: ${first}`);
    assert.match(first, /"item": "widget"/, 'data rendered as JSON');
    assert.strictEqual(await page.$$eval('.record', (r) => r.length), 8, 'records of the parent shard');
    await page.selectOption('#shard', 'shardId-000000000002');
    await page.waitForFunction(() => document.querySelector('#count') &&
      document.querySelector('#count').textContent.startsWith('0 of 0'));
    await page.click('#tail');
    await kinesis.putRecord({ StreamName: S, PartitionKey: 'tail-1', Data: 'live!',
      ExplicitHashKey: (2n ** 127n + 9n).toString() }).promise();
    await page.waitForFunction(() => document.body.textContent.includes('tail-1'), null, { timeout: 10000 });
    await page.selectOption('#view', 'hex');
    assert.match(await page.textContent('.record pre'), /6c 69 76 65 21/, 'hex view');
    await page.screenshot({ path: path.join(shots, '4-records.png'), fullPage: true });
    await page.click('#tail');

    // consumers: the KCL application's lag (checkpoint at 3 of 8 -> 5), its unowned child lease
    await page.click('a[data-nav="consumers"]');
    await page.waitForSelector('.app table');
    const app = await page.textContent('.app');
    assert.match(app, /orders-app/, 'application name');
    assert.match(app, /worker-7/, 'owner');
    const lag = await page.$$eval('.app tbody tr', (rows) => rows.map((r) => [...r.cells].map((c) => c.textContent)));
    const row0 = lag.find((r) => r[0] === 'shardId-000000000000');
    assert.strictEqual(row0[3], '5', `lag cell: ${JSON.stringify(row0)}`);
    assert.strictEqual(await page.$$eval('.app tr.unowned', (r) => r.length), 1, 'unowned lease highlighted');
    await page.screenshot({ path: path.join(shots, '5-consumers.png'), fullPage: true });

    assert.deepStrictEqual(errors, [], 'console errors');
    console.log(`screenshots in ${shots}`);
  } finally {
    await browser.close();
  }
});
