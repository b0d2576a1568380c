-- wrk script for kinesin's benchmarks: POSTs one Kinesis JSON 1.1 request body per call.
--   wrk ... -s kinesis.lua <url> -- <Operation> <body-file> [iterator-file]
-- With GetRecords and an iterator file, each connection follows NextShardIterator from the
-- TRIM_HORIZON iterator in the file and starts over when a page comes back empty.
-- A body containing @PK@ gets a random partition key there on every request (spreads the
-- writes over the stream's shards).
-- done() prints one JSON line with requests, records, bytes and latency percentiles.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

local op, body, iterator, start_iterator, body_head, body_tail
records, bytes, errors = 0, 0, 0 -- globals: done() reads them with thread:get

function init(args)
  op = args[1]
  local f = assert(io.open(args[2], "rb"))
  body = f:read("*a")
  f:close()
  local at = body:find("@PK@", 1, true)
  if at then
    body_head, body_tail = body:sub(1, at - 1), body:sub(at + 4)
    math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16))
  end
  if args[3] then
    local g = assert(io.open(args[3], "rb"))
    start_iterator = g:read("*l")
    g:close()
    iterator = start_iterator
  end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/x-amz-json-1.1"
  wrk.headers["X-Amz-Target"] = "Kinesis_20131202." .. op
  wrk.headers["X-Amz-Date"] = "20260101T000000Z"
  wrk.headers["Authorization"] = "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/kinesis/aws4_request, " ..
    "SignedHeaders=host;x-amz-date, Signature=0000"
end

function request()
  if iterator then
    return wrk.format(nil, nil, nil, '{"ShardIterator":"' .. iterator .. '","Limit":10000}')
  end
  if body_head then
    return wrk.format(nil, nil, nil, body_head .. math.random(0, 2147483647) .. body_tail)
  end
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, resp)
  if status ~= 200 then
    errors = errors + 1
    return
  end
  bytes = bytes + #resp
  if op == "GetRecords" then
    -- pages are big: look only where the keys are (records are counted from bytes afterwards)
    local empty = resp:sub(1, 40):find('"Records":[]', 1, true)
    local tail = resp:sub(-700)
    local nxt = tail:match('"NextShardIterator":"([^"]+)"') or resp:sub(1, 700):match('"NextShardIterator":"([^"]+)"')
    if empty or not nxt then iterator = start_iterator else iterator = nxt end
  elseif op == "PutRecords" then
    local _, n = resp:gsub('"SequenceNumber"', "")
    records = records + n
  else
    records = records + 1
  end
end

function done(summary, latency, requests)
  local r, b, e = 0, 0, 0
  for _, t in ipairs(threads) do
    r = r + t:get("records")
    b = b + t:get("bytes")
    e = e + t:get("errors")
  end
  io.write(string.format('{"requests":%d,"duration_us":%d,"records":%d,"bytes":%d,"errors":%d,' ..
    '"p50_us":%d,"p99_us":%d,"socket_errors":%d}\n',
    summary.requests, summary.duration, r, b, e + summary.errors.status,
    latency:percentile(50), latency:percentile(99),
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
