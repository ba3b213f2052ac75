-- POST /token/issue with a refresh token (a new session each time).
local c = dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local users = tonumber(os.getenv("BENCH_USERS") or "10000")
function request()
  local body = string.format('{"sub":"user-%05d","scope":"read write","refresh":true}', math.random(users) - 1)
  return wrk.format("POST", "/token/issue", c.auth_json, body)
end
