-- POST /token/revoke of access tokens from the revoke pool (a token met a
-- second time is already revoked: RFC 7009 still answers 200).
local c = dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local tokens
function init() tokens = c.cycle(c.lines(os.getenv("BENCH_REVOKE_TOKENS"))) end
function request()
  return wrk.format("POST", "/token/revoke", c.auth_json,
    '{"token":"' .. tokens() .. '","token_type_hint":"access_token"}')
end
