-- Shared by every wrk script of the benchmark.
-- BENCH_DATA names a Lua file written by bench/run.py that returns
-- {keys = {...}, users = {...}, rate_id = "..."}; done() prints one JSON line
-- that run.py parses.
local M = {}

function M.load_data()
  local path = os.getenv("BENCH_DATA")
  if path == nil or path == "" then
    error("BENCH_DATA is not set")
  end
  return dofile(path)
end

function M.pick(list)
  return list[math.random(#list)]
end

function M.done(summary, latency, requests, extra)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f}%s}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean, extra and ("," .. extra) or ""))
end

return M
