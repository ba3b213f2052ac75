-- 90% verify (POST, live pool), 8% issue, 2% revoke (revoke pool).
local c = dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local users = tonumber(os.getenv("BENCH_USERS") or "10000")
local live, doomed
function init()
  live = c.cycle(c.lines(os.getenv("BENCH_TOKENS")))
  doomed = c.cycle(c.lines(os.getenv("BENCH_REVOKE_TOKENS")))
end
function request()
  local r = math.random(100)
  if r <= 90 then
    return wrk.format("POST", "/token/verify", c.json, '{"token":"' .. live() .. '"}')
  elseif r <= 98 then
    local body = string.format('{"sub":"user-%05d","scope":"read write","refresh":true}', math.random(users) - 1)
    return wrk.format("POST", "/token/issue", c.auth_json, body)
  end
  return wrk.format("POST", "/token/revoke", c.auth_json,
    '{"token":"' .. doomed() .. '","token_type_hint":"access_token"}')
end
