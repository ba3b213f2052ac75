-- POST /token/verify {"token": ...} over the live pool.
local c = dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local tokens
function init() tokens = c.cycle(c.lines(os.getenv("BENCH_TOKENS"))) end
function request()
  return wrk.format("POST", "/token/verify", c.json, '{"token":"' .. tokens() .. '"}')
end
