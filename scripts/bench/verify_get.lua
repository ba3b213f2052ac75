-- GET /token/verify with a Bearer token (the gateway form).
local c = dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local tokens
function init() tokens = c.cycle(c.lines(os.getenv("BENCH_TOKENS"))) end
function request()
  return wrk.format("GET", "/token/verify", { ["Authorization"] = "Bearer " .. tokens() })
end
