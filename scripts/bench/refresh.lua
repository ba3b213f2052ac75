-- POST /token/refresh. Refresh tokens are single-use (reuse revokes the
-- family), so each answer's new token goes back into this thread's queue
-- and every token is presented exactly once. Threads take disjoint slices
-- of the pre-issued pool.
local c = dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end
-- A FIFO with explicit ends (Lua's # is undefined on a table with holes).
local queue, head, tail = {}, 1, 0
local function push(t)
  tail = tail + 1
  queue[tail] = t
end
function init()
  local all = c.lines(os.getenv("BENCH_REFRESH_TOKENS"))
  local n = tonumber(os.getenv("BENCH_THREADS") or "2")
  for i = 1, #all do
    if (i - 1) % n == id then push(all[i]) end
  end
end
function request()
  local t = queue[head]
  queue[head] = nil
  if t then head = head + 1 end
  return wrk.format("POST", "/token/refresh", c.auth_json, '{"refresh_token":"' .. (t or "exhausted") .. '"}')
end
function response(status, headers, body)
  local t = body:match('"refresh_token":"([^"]+)"')
  if t then push(t) end
end
