// kinesind's dashboard: one ES module, no dependencies. Each screen reads one JSON endpoint of
// docs/dashboard.md and re-reads it every REFRESH_MS while the page is visible; nothing here
// writes to the server. Everything the server sends is put on the page as text (never as HTML).

const REFRESH_MS = 2000;
const TAIL_MS = 1000;
const HISTORY = 60; // samples kept for the live graphs

const main = document.getElementById('main');
const statusEl = document.getElementById('status');
let timer = null;
let screenToken = 0; // bumped on every navigation; stale fetches check it and give up

// ---- small helpers ----

function h(tag, attrs, ...children) {
  const svg = ['svg', 'rect', 'line', 'path', 'polyline', 'text', 'g', 'title'].includes(tag);
  const el = svg ? document.createElementNS('http://www.w3.org/2000/svg', tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.setAttribute('class', v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

async function api(path) {
  const r = await fetch(path, {cache: 'no-store'});
  const body = await r.json();
  if (!r.ok) throw new Error(body.message || ('HTTP ' + r.status));
  return body;
}

const fmtInt = (n) => (n === undefined || n === null ? '–' : Number(n).toLocaleString('en-US'));

function fmtBytes(n) {
  if (n === undefined || n === null) return '–';
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : String(n)) + ' ' + u[i];
}

function fmtAge(ms) {
  if (ms === undefined || ms === null || ms < 0) return '–';
  if (ms < 1000) return ms + ' ms';
  const s = ms / 1000;
  if (s < 120) return s.toFixed(1) + ' s';
  if (s < 7200) return (s / 60).toFixed(1) + ' min';
  return (s / 3600).toFixed(1) + ' h';
}

const fmtTime = (ms) => (ms ? new Date(ms).toISOString().replace('T', ' ').replace('Z', '') : '–');
const shortId = (id) => (id ? '#' + parseInt(id.replace(/^shardId-/, ''), 10) : '');

function setStatus(text, bad) {
  statusEl.textContent = text;
  statusEl.className = bad ? 'bad' : '';
}

function card(label, value, extra) {
  return h('div', {class: 'card'}, h('div', {class: 'label'}, label), h('div', {class: 'value'}, value),
    extra ? h('div', {class: 'extra'}, extra) : null);
}

function table(headers, rows, rowClass) {
  return h('table', {},
    h('thead', {}, h('tr', {}, headers.map((x) => h('th', {}, x)))),
    h('tbody', {}, rows.map((r, i) => h('tr', {class: rowClass ? rowClass(i) : null}, r.map((x) => h('td', {}, x))))));
}

// Per-second rates from successive counter samples.
class Rates {
  constructor(keys) { this.keys = keys; this.prev = null; this.series = Object.fromEntries(keys.map((k) => [k, []])); }
  add(sample, atMs) {
    if (this.prev && atMs > this.prev.at) {
      const dt = (atMs - this.prev.at) / 1000;
      for (const k of this.keys) {
        const s = this.series[k];
        s.push(Math.max(0, (sample[k] - this.prev.v[k]) / dt));
        if (s.length > HISTORY) s.shift();
      }
    }
    this.prev = {at: atMs, v: Object.fromEntries(this.keys.map((k) => [k, sample[k]]))};
  }
  last(k) { const s = this.series[k]; return s.length ? s[s.length - 1] : 0; }
}

// A live line graph of some series (inline SVG).
function graph(title, series, unit) {
  const W = 520, H = 120, P = 28;
  let max = 1;
  for (const s of series) for (const v of s.values) max = Math.max(max, v);
  const svg = h('svg', {class: 'graph', viewBox: `0 0 ${W} ${H + 20}`, role: 'img', 'aria-label': title});
  svg.append(h('line', {x1: P, y1: H, x2: W, y2: H, class: 'axis'}));
  svg.append(h('text', {x: 2, y: 12, class: 'tick'}, (unit === 'B' ? fmtBytes(max) : max.toFixed(1)) + '/s'));
  svg.append(h('text', {x: 2, y: H, class: 'tick'}, '0'));
  series.forEach((s, i) => {
    const pts = s.values.map((v, j) => `${P + (j * (W - P)) / (HISTORY - 1)},${H - (v / max) * (H - 16)}`);
    if (pts.length > 1) svg.append(h('polyline', {points: pts.join(' '), class: 'series s' + i}));
    svg.append(h('text', {x: P + 10 + i * 170, y: H + 16, class: 'legend s' + i},
      `${s.name}: ${unit === 'B' ? fmtBytes(Math.round(s.values.at(-1) || 0)) : (s.values.at(-1) || 0).toFixed(1)}/s`));
  });
  return h('div', {class: 'panel'}, h('h3', {}, title), svg);
}

// ---- screens ----

const overviewRates = new Rates(['incomingRecords', 'incomingBytes', 'outgoingRecords', 'outgoingBytes',
  'writeThrottled', 'readThrottled', 'requests', 'errors']);

async function overview(token) {
  const o = await api('/api/overview');
  if (token !== screenToken) return;
  overviewRates.add(o, o.nowMs);
  const r = overviewRates;
  const disk = o.diskSizeBytes ? `${fmtBytes(o.diskFreeBytes)} free of ${fmtBytes(o.diskSizeBytes)}` : 'in memory';
  main.replaceChildren(
    h('h2', {}, 'Overview'),
    h('p', {class: 'muted'}, `kinesind ${o.version} · ${o.region} · account ${o.account} · fsync ${o.fsync}` +
      (o.inMemory ? ' · in memory' : ` · ${o.dataDir}`) + ` · up ${fmtAge(o.nowMs - o.startedMs)}`),
    h('div', {class: 'cards'},
      card('Streams', fmtInt(o.streams), h('a', {href: '#/streams'}, 'list')),
      card('Shards', fmtInt(o.openShards), `${fmtInt(o.closedShards)} closed`),
      card('Consumers', fmtInt(o.consumers), `${fmtInt(o.subscriptions)} subscriptions`),
      card('Incoming', `${r.last('incomingRecords').toFixed(1)} rec/s`, `${fmtBytes(Math.round(r.last('incomingBytes')))}/s · ${fmtInt(o.incomingRecords)} total`),
      card('Outgoing', `${r.last('outgoingRecords').toFixed(1)} rec/s`, `${fmtBytes(Math.round(r.last('outgoingBytes')))}/s · ${fmtInt(o.outgoingRecords)} total`),
      card('Throttled', `${fmtInt(o.writeThrottled)} / ${fmtInt(o.readThrottled)}`, 'writes / reads' + (o.enforceThroughput ? '' : ' (limits off)')),
      card('Requests', `${r.last('requests').toFixed(1)} /s`, `${fmtInt(o.requests)} total · ${fmtInt(o.errors)} errors`),
      card('Storage', fmtBytes(o.storageBytes), disk)),
    h('div', {class: 'graphs'},
      graph('Records', [{name: 'in', values: r.series.incomingRecords}, {name: 'out', values: r.series.outgoingRecords}], 'rec'),
      graph('Bytes', [{name: 'in', values: r.series.incomingBytes}, {name: 'out', values: r.series.outgoingBytes}], 'B'),
      graph('Throttles', [{name: 'writes', values: r.series.writeThrottled}, {name: 'reads', values: r.series.readThrottled}], 'rec')));
}

async function streams(token) {
  const {streams: list} = await api('/api/streams');
  if (token !== screenToken) return;
  main.replaceChildren(h('h2', {}, 'Streams'),
    list.length === 0 ? h('p', {class: 'muted'}, 'No streams yet.') :
      table(['Stream', 'Status', 'Mode', 'Shards', 'Records in', 'Bytes in', 'Records out', 'Iterator age', 'Storage', 'Consumers'],
        list.map((s) => [h('a', {href: '#/streams/' + encodeURIComponent(s.name), class: 'stream-link'}, s.name),
          h('span', {class: 'pill ' + s.status.toLowerCase()}, s.status), s.mode,
          `${s.openShards} open` + (s.closedShards ? ` · ${s.closedShards} closed` : ''),
          fmtInt(s.incomingRecords), fmtBytes(s.incomingBytes), fmtInt(s.outgoingRecords),
          fmtAge(s.iteratorAgeMs), fmtBytes(s.storageBytes), fmtInt(s.consumers)])));
}

// Split/merge lineage: a column per generation, each shard drawn at its hash range.
function lineage(shards) {
  const byId = Object.fromEntries(shards.map((s) => [s.shardId, s]));
  const depth = {};
  const depthOf = (s) => {
    if (depth[s.shardId] !== undefined) return depth[s.shardId];
    let d = 0;
    for (const p of [s.parentShardId, s.adjacentParentShardId]) if (p && byId[p]) d = Math.max(d, depthOf(byId[p]) + 1);
    return (depth[s.shardId] = d);
  };
  shards.forEach(depthOf);
  const cols = Math.max(...Object.values(depth)) + 1;
  const W = Math.max(480, cols * 200), H = 240, colW = W / cols, boxW = Math.min(120, colW - 60);
  const SPACE = 2n ** 128n;
  const y = (k) => Number((BigInt(k) * 100000n) / SPACE) / 100000 * H;
  const box = {};
  const svg = h('svg', {class: 'lineage', width: W, height: H + 20, viewBox: `0 0 ${W} ${H + 20}`, role: 'img', 'aria-label': 'shard lineage'});
  for (const s of shards) {
    const x = depth[s.shardId] * colW + 10;
    const y0 = y(s.startingHashKey), y1 = y((BigInt(s.endingHashKey) + 1n).toString());
    box[s.shardId] = {x, y0, y1};
  }
  for (const s of shards) {
    for (const p of [s.parentShardId, s.adjacentParentShardId]) {
      if (!p || !box[p]) continue;
      const a = box[p], b = box[s.shardId];
      const ay = (Math.max(a.y0, b.y0) + Math.min(a.y1, b.y1)) / 2;
      svg.append(h('path', {class: 'edge', d: `M${a.x + boxW},${ay} C${a.x + boxW + 30},${ay} ${b.x - 30},${ay} ${b.x},${ay}`}));
    }
  }
  for (const s of shards) {
    const b = box[s.shardId];
    const g = h('g', {class: 'shard ' + s.state.toLowerCase(), 'data-shard': s.shardId},
      h('title', {}, `${s.shardId} (${s.state})\nhash ${s.startingHashKey} – ${s.endingHashKey}`),
      h('rect', {x: b.x, y: b.y0 + 1, width: boxW, height: Math.max(2, b.y1 - b.y0 - 2), rx: 4}),
      h('text', {x: b.x + 6, y: (b.y0 + b.y1) / 2 + 4}, shortId(s.shardId)));
    svg.append(g);
  }
  svg.append(h('text', {x: 10, y: H + 16, class: 'tick'}, 'hash key 0 (top) to 2^128−1 (bottom); generations left to right'));
  return h('div', {class: 'panel'}, h('h3', {}, 'Shard lineage'), svg);
}

const streamRates = {};

async function streamDetail(token, name) {
  const s = await api('/api/streams/' + encodeURIComponent(name));
  if (token !== screenToken) return;
  const rates = streamRates[name] || (streamRates[name] = new Rates(['incomingRecords', 'incomingBytes', 'outgoingRecords', 'outgoingBytes']));
  rates.add(s, Date.now());
  const shardRows = s.shards.map((x) => [
    h('a', {href: `#/records/${encodeURIComponent(name)}/${x.shardId}`}, x.shardId),
    h('span', {class: 'pill ' + x.state.toLowerCase()}, x.state),
    [x.parentShardId, x.adjacentParentShardId].filter(Boolean).map(shortId).join(' + ') || '–',
    h('code', {}, x.startingHashKey), h('code', {}, x.endingHashKey),
    fmtInt(x.endOffset - x.firstOffset), fmtInt(x.incomingRecords), fmtInt(x.outgoingRecords), fmtAge(x.iteratorAgeMs)]);
  main.replaceChildren(
    h('h2', {}, h('a', {href: '#/streams'}, 'Streams'), ' / ', s.name),
    h('p', {class: 'muted'}, `${s.status} · ${s.mode} · retention ${s.retentionHours} h · encryption ${s.encryption} · ` +
      `${fmtBytes(s.storageBytes)} stored · created ${fmtTime(s.createdMs)}` +
      (s.shardLevelMetrics.length ? ' · shard metrics: ' + s.shardLevelMetrics.join(', ') : '')),
    h('div', {class: 'graphs'},
      graph('Throughput (records)', [{name: 'in', values: rates.series.incomingRecords}, {name: 'out', values: rates.series.outgoingRecords}], 'rec'),
      graph('Throughput (bytes)', [{name: 'in', values: rates.series.incomingBytes}, {name: 'out', values: rates.series.outgoingBytes}], 'B')),
    lineage(s.shards),
    h('h3', {}, 'Shards'),
    table(['Shard', 'State', 'Parents', 'Starting hash key', 'Ending hash key', 'Records kept', 'In', 'Out', 'Iterator age'], shardRows),
    h('h3', {}, 'Enhanced fan-out consumers'),
    s.fanoutConsumers.length === 0 ? h('p', {class: 'muted'}, 'None registered.') :
      table(['Consumer', 'Status', 'Created', 'Subscriptions'], s.fanoutConsumers.map((c) => [c.name, c.status, fmtTime(c.createdMs),
        c.subscriptions.map((x) => `${shortId(x.shardId)} (${fmtAge(x.millisBehindLatest)} behind)`).join(', ') || '–'])));
}

// ---- record browser and live tail ----

function decodeB64(b64) {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function render(bytes, view) {
  if (view === 'hex') {
    const lines = [];
    for (let i = 0; i < bytes.length && i < 4096; i += 16) {
      const row = Array.from(bytes.slice(i, i + 16));
      lines.push(i.toString(16).padStart(6, '0') + '  ' + row.map((b) => b.toString(16).padStart(2, '0')).join(' ').padEnd(48) +
        '  ' + row.map((b) => (b >= 32 && b < 127 ? String.fromCharCode(b) : '.')).join(''));
    }
    return lines.join('\n');
  }
  const text = new TextDecoder('utf-8', {fatal: false}).decode(bytes);
  if (view === 'json') {
    try { return JSON.stringify(JSON.parse(text), null, 2); } catch (e) { return '(not JSON) ' + text; }
  }
  return text;
}

const browser = {stream: null, shard: null, records: [], cursor: null, tail: false, view: 'text', key: '', tailTimer: null};

function recordRow(r) {
  const data = h('pre', {class: 'data'}, render(decodeB64(r.data), browser.view));
  const subs = r.subRecords ? h('div', {class: 'subs'}, h('div', {class: 'muted'}, `KPL aggregate: ${r.subRecords.length} user records`),
    r.subRecords.map((s, i) => h('div', {class: 'sub'}, h('span', {class: 'pk'}, `${i}: ${s.partitionKey}`),
      h('pre', {class: 'data'}, render(decodeB64(s.data), browser.view))))) : null;
  return h('div', {class: 'record'},
    h('div', {class: 'meta'}, h('span', {class: 'pk'}, r.partitionKey), ` · ${fmtInt(r.size)} B · ${fmtTime(r.arrivalMs)} · `,
      h('code', {class: 'seq'}, r.sequenceNumber)),
    subs || data);
}

function drawRecords() {
  const list = document.getElementById('records');
  if (!list) return;
  const shown = browser.records.filter((r) => !browser.key || r.partitionKey.includes(browser.key) ||
    (r.subRecords || []).some((s) => s.partitionKey.includes(browser.key)));
  list.replaceChildren(...(shown.length ? shown.map(recordRow) : [h('p', {class: 'muted'}, 'No records here yet.')]));
  document.getElementById('count').textContent = `${shown.length} of ${browser.records.length} records` +
    (browser.tail ? ' · tailing' : '');
}

async function fetchRecords(query) {
  const r = await api(`/api/streams/${encodeURIComponent(browser.stream)}/records?shard=${browser.shard}&` + query);
  browser.records.push(...r.records);
  if (browser.records.length > 1000) browser.records.splice(0, browser.records.length - 1000);
  browser.cursor = r.cursor;
  drawRecords();
  return r;
}

async function tailTick(token) {
  if (token !== screenToken || !browser.tail) return;
  try { await fetchRecords('limit=100&cursor=' + browser.cursor); setStatus('live'); } catch (e) { setStatus(e.message, true); }
  if (token === screenToken && browser.tail) browser.tailTimer = setTimeout(() => tailTick(token), TAIL_MS);
}

async function recordBrowser(token, name, shard) {
  const s = await api('/api/streams/' + encodeURIComponent(name));
  if (token !== screenToken) return;
  Object.assign(browser, {stream: name, shard: shard || s.shards.find((x) => x.state === 'OPEN')?.shardId || s.shards[0].shardId,
    records: [], cursor: null, tail: false});
  const pos = h('select', {id: 'position'}, ['TRIM_HORIZON', 'LATEST', 'AT_SEQUENCE_NUMBER', 'AFTER_SEQUENCE_NUMBER', 'AT_TIMESTAMP']
    .map((p) => h('option', {value: p}, p)));
  const at = h('input', {id: 'at', placeholder: 'sequence number, or time (ISO 8601)', size: 40});
  const shardSel = h('select', {id: 'shard', onchange: () => { location.hash = `#/records/${encodeURIComponent(name)}/${shardSel.value}`; }},
    s.shards.map((x) => h('option', {value: x.shardId, selected: x.shardId === browser.shard}, `${x.shardId} (${x.state})`)));
  const view = h('select', {id: 'view', onchange: () => { browser.view = view.value; drawRecords(); }},
    ['text', 'json', 'hex'].map((v) => h('option', {value: v}, v)));
  const key = h('input', {id: 'key', placeholder: 'partition key contains', oninput: () => { browser.key = key.value; drawRecords(); }});
  const tail = h('button', {id: 'tail', onclick: () => {
    browser.tail = !browser.tail;
    tail.textContent = browser.tail ? 'Stop tail' : 'Live tail';
    if (browser.tail) tailTick(token); else clearTimeout(browser.tailTimer);
    drawRecords();
  }}, 'Live tail');
  const read = h('button', {id: 'read', onclick: async () => {
    browser.records = [];
    let q = 'limit=100&position=' + pos.value;
    if (pos.value.includes('SEQUENCE')) q += '&seq=' + encodeURIComponent(at.value.trim());
    if (pos.value === 'AT_TIMESTAMP') q += '&timestamp=' + Date.parse(at.value.trim());
    try { await fetchRecords(q); setStatus('read'); } catch (e) { setStatus(e.message, true); }
  }}, 'Read');
  main.replaceChildren(
    h('h2', {}, h('a', {href: '#/streams'}, 'Streams'), ' / ', h('a', {href: '#/streams/' + encodeURIComponent(name)}, name), ' / records'),
    h('div', {class: 'toolbar'}, shardSel, pos, at, read, tail, 'view ', view, key),
    h('div', {id: 'count', class: 'muted'}),
    h('div', {id: 'records'}));
  await fetchRecords('limit=100&position=TRIM_HORIZON');
}

// ---- consumers ----

async function consumers(token) {
  const c = await api('/api/consumers');
  if (token !== screenToken) return;
  const now = Date.now();
  const apps = c.applications.map((a) => h('div', {class: 'app'},
    h('h3', {}, `KCL application ${a.name}`, a.stream ? h('span', {class: 'muted'}, ` · stream ${a.stream}`) : null),
    h('p', {class: 'muted'}, `${a.workers.length} worker${a.workers.length === 1 ? '' : 's'} (${a.workers.map((w) => `${w.id}: ${w.leases}`).join(', ') || 'none'}) · ` +
      `${fmtInt(a.lagRecords)} records behind · ${a.unownedLeases} unowned · ${a.stuckLeases} stuck`),
    table(['Lease', 'Owner', 'Checkpoint', 'Lag (records)', 'Lag (time)', 'Last renewal', 'Checkpoint moved', 'Counter'],
      a.leases.map((l) => [l.leaseKey, l.owner || h('em', {}, 'unowned'), h('code', {class: 'seq'}, l.checkpoint),
        l.lagRecords === undefined ? '–' : h('span', {class: 'lag'}, fmtInt(l.lagRecords)), fmtAge(l.lagMs),
        fmtAge(now - l.renewedMs) + ' ago', fmtAge(now - l.checkpointedMs) + ' ago', fmtInt(l.leaseCounter)]),
      (i) => (a.leases[i].stuck ? 'stuck' : a.leases[i].unowned ? 'unowned' : a.leases[i].finished ? 'finished' : null))));
  main.replaceChildren(
    h('h2', {}, 'Consumers'),
    h('h3', {}, 'Enhanced fan-out consumers'),
    c.fanoutConsumers.length === 0 ? h('p', {class: 'muted'}, 'None registered.') :
      table(['Stream', 'Consumer', 'Status', 'Created', 'Live subscriptions'], c.fanoutConsumers.map((x) => [x.stream, x.name, x.status,
        fmtTime(x.createdMs), x.subscriptions.map((s) => `${shortId(s.shardId)} (${fmtAge(s.millisBehindLatest)} behind)`).join(', ') || '–'])),
    ...(apps.length ? apps : [h('h3', {}, 'KCL applications'), h('p', {class: 'muted'}, 'No lease tables (DynamoDB tables keyed by leaseKey) yet.')]),
    h('p', {class: 'muted legend-row'}, h('span', {class: 'swatch unowned'}), ' unowned ', h('span', {class: 'swatch stuck'}),
      ` stuck (not renewed for 30 s, or records waiting behind a checkpoint that has not moved for 60 s)`));
}

// ---- routing ----

function route() {
  screenToken++;
  clearTimeout(timer);
  clearTimeout(browser.tailTimer);
  const token = screenToken;
  const parts = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  let screen, nav, refresh = true;
  if (parts[0] === 'streams' && parts[1]) { screen = () => streamDetail(token, parts[1]); nav = 'streams'; }
  else if (parts[0] === 'streams') { screen = () => streams(token); nav = 'streams'; }
  else if (parts[0] === 'records' && parts[1]) { screen = () => recordBrowser(token, parts[1], parts[2]); nav = 'streams'; refresh = false; }
  else if (parts[0] === 'consumers') { screen = () => consumers(token); nav = 'consumers'; }
  else { screen = () => overview(token); nav = 'overview'; }
  for (const a of document.querySelectorAll('[data-nav]')) a.classList.toggle('active', a.dataset.nav === nav);
  const tick = async () => {
    if (token !== screenToken) return;
    if (!document.hidden) {
      try { await screen(); setStatus('updated ' + new Date().toLocaleTimeString()); } catch (e) { setStatus(e.message, true); }
    }
    if (refresh && token === screenToken) timer = setTimeout(tick, REFRESH_MS);
  };
  tick();
}

window.addEventListener('hashchange', route);
route();
