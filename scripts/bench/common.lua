-- Shared by every scenario of scripts/bench.sh (loaded with dofile).
-- Environment: BENCH_NAME (scenario), BENCH_OUT (TSV file the summary is
-- appended to), BENCH_AUTH (Basic credentials, base64), BENCH_DELAY_MS
-- (optional pause between a connection's requests, for a paced run).

local M = {}

-- The lines of a file, or an error naming it.
function M.lines(path)
  local t = {}
  local f = assert(io.open(path, "r"), "cannot open " .. tostring(path))
  for line in f:lines() do
    if #line > 0 then t[#t + 1] = line end
  end
  f:close()
  assert(#t > 0, "no tokens in " .. path)
  return t
end

-- A cursor over `list` that starts at a random place (each wrk thread has
-- its own Lua state, so threads spread over the pool).
function M.cycle(list)
  local i = math.random(#list)
  return function()
    i = i % #list + 1
    return list[i]
  end
end

M.json = { ["Content-Type"] = "application/json" }
M.auth_json = {
  ["Content-Type"] = "application/json",
  ["Authorization"] = "Basic " .. (os.getenv("BENCH_AUTH") or ""),
}

-- wrk's delay() is in whole milliseconds: a fractional pause is the two
-- whole values around it, drawn so that their mean is the pause.
local pause = tonumber(os.getenv("BENCH_DELAY_MS") or "")
if pause then
  local low = math.floor(pause)
  local frac = pause - low
  function delay()
    if math.random() < frac then return low + 1 end
    return low
  end
end

-- wrk's summary, appended as one TSV line:
-- name rps p50_ms p99_ms p999_ms errors non2xx requests
function done(summary, latency, requests)
  local e = summary.errors
  local errors = e.connect + e.read + e.write + e.status + e.timeout
  local f = assert(io.open(os.getenv("BENCH_OUT"), "a"))
  f:write(string.format("%s\t%.1f\t%.3f\t%.3f\t%.3f\t%d\t%d\t%d\n",
    os.getenv("BENCH_NAME") or "?",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    latency:percentile(99.9) / 1000, errors, e.status, summary.requests))
  f:close()
end

math.randomseed(os.time() + math.floor(os.clock() * 1e6))
return M
