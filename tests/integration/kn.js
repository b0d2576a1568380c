'use strict';
// Helpers shared by the node integration tests.
//
//   const kn = require('kn');
//   kn.main(async () => {
//     const kd = await kn.start();          // {endpoint, port, dir, stop(), kill(), log()}
//     ...
//   });
//
// main() runs the test, prints the error plus the stderr of every kinesind it started when
// it fails, stops the servers it started (by pid) and exits 0 / 1.

const { spawn } = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');

const ACCOUNT = '000000000000';
const REGION = 'us-east-1';
const servers = [];

function knBin() {
  const src = process.env.KN_SRC || path.resolve(__dirname, '..', '..');
  const dir = process.env.KN_BIN || path.join(src, 'build', 'bin');
  return path.join(dir, 'kinesind');
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = srv.address().port;
      srv.close(() => resolve(port));
    });
  });
}

// Starts kinesind; resolves once it prints "listening on 127.0.0.1:PORT".
async function start(opts = {}) {
  const port = opts.port || (await freePort());
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kn-test-'));
  const dataDir = opts.dataDir || path.join(dir, 'data');
  const args = ['--host', '127.0.0.1', '--port', String(port), '--data-dir', dataDir];
  if (opts.inMemory) args.push('--in-memory');
  const ms = (k, d) => (opts[k] === undefined ? d : opts[k]);
  for (const [flag, key] of [['--create-stream-ms', 'createMs'], ['--delete-stream-ms', 'deleteMs'],
    ['--update-stream-ms', 'updateMs']]) {
    const v = ms(key, 50);
    if (v !== null) args.push(flag, String(v));
  }
  if (opts.shardLimit !== undefined) args.push('--shard-limit', String(opts.shardLimit));
  if (opts.logLevel) args.push('--log-level', opts.logLevel);
  if (opts.args) args.push(...opts.args);

  const bin = knBin();
  if (!fs.existsSync(bin)) throw new Error(`kinesind binary not found at ${bin} (build first)`);
  const logPath = path.join(dir, 'kinesind.stderr');
  const logFd = fs.openSync(logPath, 'a');
  const proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  let exited = null;
  const onData = (chunk) => {
    log += chunk.toString();
    fs.writeSync(logFd, chunk);
  };
  proc.stdout.on('data', onData);
  proc.stderr.on('data', onData);
  const exitPromise = new Promise((resolve) => proc.on('exit', (code, sig) => {
    exited = { code, sig };
    resolve(exited);
  }));

  const server = {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    dir,
    dataDir,
    argv: [bin, ...args],
    proc,
    log: () => log,
    alive: () => exited === null,
    async stop(timeoutMs = 10000) {
      if (exited) return exited;
      proc.kill('SIGTERM');
      const t = setTimeout(() => { if (!exited) proc.kill('SIGKILL'); }, timeoutMs);
      const r = await exitPromise;
      clearTimeout(t);
      return r;
    },
    async kill() {
      if (exited) return exited;
      proc.kill('SIGKILL');
      return exitPromise;
    },
    cleanup() {
      if (!exited) proc.kill('SIGKILL');
      try { fs.closeSync(logFd); } catch (e) { /* already closed */ }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  servers.push(server);

  const want = `listening on 127.0.0.1:${port}`;
  const deadline = Date.now() + (opts.readyTimeoutMs || 10000);
  for (;;) {
    if (log.includes(want)) return server;
    if (exited) throw new Error(`kinesind exited (${JSON.stringify(exited)}) before listening; argv=${server.argv.join(' ')}`);
    if (Date.now() > deadline) {
      await server.kill();
      throw new Error(`kinesind did not print "${want}" within 10 s; argv=${server.argv.join(' ')}`);
    }
    await sleep(20);
  }
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

function streamArn(name) {
  return `arn:aws:kinesis:${REGION}:${ACCOUNT}:stream/${name}`;
}

// MD5 of the partition key as an unsigned big-endian 128-bit integer (BigInt).
function hashKey(partitionKey) {
  return BigInt('0x' + crypto.createHash('md5').update(partitionKey, 'utf8').digest('hex'));
}

// Index of the shard whose [StartingHashKey, EndingHashKey] contains hash.
function shardFor(shards, hash) {
  const i = shards.findIndex((s) => BigInt(s.HashKeyRange.StartingHashKey) <= hash &&
    hash <= BigInt(s.HashKeyRange.EndingHashKey));
  if (i < 0) throw new Error(`no shard covers hash ${hash}`);
  return shards[i].ShardId;
}

async function main(fn) {
  let rc = 0;
  try {
    await fn();
  } catch (e) {
    rc = 1;
    console.error('FAIL:', e && e.stack ? e.stack : e);
    if (e && e.$metadata) console.error('metadata:', JSON.stringify(e.$metadata));
    for (const s of servers) {
      console.error(`\n----- kinesind stderr (${s.argv.join(' ')}) -----\n${s.log().slice(-20000)}`);
    }
  }
  for (const s of servers) {
    try {
      if (s.alive()) await s.stop();
    } catch (e) { /* ignore */ }
    s.cleanup();
  }
  if (rc === 0) console.log(`PASS ${path.basename(process.argv[1])}`);
  process.exit(rc);
}

module.exports = { ACCOUNT, REGION, start, freePort, sleep, streamArn, hashKey, shardFor, main, knBin };
