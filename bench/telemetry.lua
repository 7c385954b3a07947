-- wrk script for POST /v1/telemetry: cycles through pre-generated (access token, deflated SenML
-- body) pairs, one per device, with Content-Encoding: deflate (zlib).
-- PAIRS_FILE (written by bench/bodies.py): for each pair, the token on a line, the body length
-- on a line, then the body bytes. Thread i of n starts at a different offset of the same list;
-- every request string is built once in init().
local counter = 0

function setup(thread)
  thread:set("index", counter)
  counter = counter + 1
end

function init(args)
  local path = os.getenv("PAIRS_FILE") or error("PAIRS_FILE is not set")
  local nthreads = tonumber(os.getenv("WRK_THREADS") or "1")
  local f = assert(io.open(path, "rb"))
  requests = {}
  while true do
    local token = f:read("*l")
    if token == nil or token == "" then break end
    local length = tonumber(f:read("*l"))
    local body = f:read(length)
    f:read("*l")  -- the newline after the body
    requests[#requests + 1] = wrk.format("POST", "/v1/telemetry", {
      ["Authorization"] = "Bearer " .. token,
      ["Content-Type"] = "application/senml+json",
      ["Content-Encoding"] = "deflate",
    }, body)
  end
  f:close()
  if #requests == 0 then error("no pairs in " .. path) end
  position = math.floor(#requests * index / nthreads)
end

function request()
  position = position + 1
  if position > #requests then position = 1 end
  return requests[position]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect_errors":%d,"read_errors":%d,' ..
    '"write_errors":%d,"status_errors":%d,"timeouts":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
