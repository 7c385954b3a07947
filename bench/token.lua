-- wrk script for POST /v1/token: every request presents a different refresh token.
-- TOKENS_FILE: one refresh token a line. Thread i of n takes lines i, i+n, i+2n, ... so no two
-- threads present the same token; each request string is built once in init(), so the load
-- generator only copies bytes while it runs. A token is presented a second time only when a
-- thread has used up its share (it wraps around); within the 60 s grace window such a repeat
-- still issues a token (API.md), after it the answer is 401 and counts as a non-2xx answer.
local threads = {}
local counter = 0

function setup(thread)
  thread:set("index", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local path = os.getenv("TOKENS_FILE") or error("TOKENS_FILE is not set")
  local nthreads = tonumber(os.getenv("WRK_THREADS") or "1")
  local headers = { ["Content-Type"] = "application/json" }
  requests = {}
  local line_number = 0
  for line in io.lines(path) do
    if line ~= "" then
      if line_number % nthreads == index then
        local body = '{"grant_type":"refresh_token","refresh_token":"' .. line .. '"}'
        requests[#requests + 1] = wrk.format("POST", "/v1/token", headers, body)
      end
      line_number = line_number + 1
    end
  end
  if #requests == 0 then error("no refresh tokens for thread " .. index) end
  position = 0
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
