-- The HTTP ceiling: the same POST as verify, against the no-op server.
local c = dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local tokens
function init() tokens = c.cycle(c.lines(os.getenv("BENCH_TOKENS"))) end
function request()
  return wrk.format("POST", "/token/verify", c.json, '{"token":"' .. tokens() .. '"}')
end
