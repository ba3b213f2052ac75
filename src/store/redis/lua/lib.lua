-- Shared helpers, prepended to every script that revokes a family.
-- A family hash names its access tokens' records in fields `j:<key22>`.
-- `base` is the user's key prefix, e.g. "tessera:{user-42}:"; every key a
-- script touches starts with it, so all of them live in one hash slot.
-- `feed` is {stream key, oldest id to keep, sub}: the revocation feed,
-- appended in the same step as the revocation. An empty key means the
-- caller publishes after the script (Redis Cluster: the stream lives in
-- its own slot, which a script on the user's slot may not touch).

local function publish(feed, ...)
  if feed[1] ~= '' then
    redis.call('XADD', feed[1], 'MINID', '~', feed[2], '*', ...)
  end
end

local function revoke_family(base, sid, feed)
  local fam = base .. 'fam:' .. sid
  local exp = redis.call('HMGET', fam, 'e')[1]
  if exp then
    publish(feed, 't', 'session', 'sub', feed[3], 'sid', sid, 'exp', exp)
  end
  local fields = redis.call('HKEYS', fam)
  for _, f in ipairs(fields) do
    if string.sub(f, 1, 2) == 'j:' then
      redis.call('DEL', base .. 'at:' .. string.sub(f, 3))
    end
  end
  redis.call('ZREM', base .. 'sessions', sid)
  return redis.call('DEL', fam)
end

-- Sets the index's own TTL to its latest member's expiry (ms), or drops it.
local function expire_index(key)
  local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  if last[2] then
    redis.call('PEXPIREAT', key, last[2])
  end
end

-- The user's generation (`gen` key, absent = 1). Every access record holds
-- the generation it was written under, every session hash its `g` field;
-- logout everywhere raises it, which kills every older record at once.
-- A record written under a raised generation keeps the key alive at least
-- as long as itself (`ttl` ms), so the generation never falls back to 1
-- while a record of a raised one lives.
local function generation(key, ttl)
  local g = redis.call('GET', key)
  if not g then
    return '1'
  end
  if redis.call('PTTL', key) < tonumber(ttl) then
    redis.call('PEXPIRE', key, ttl)
  end
  return g
end

-- Whether the session hash `fam` belongs to the current generation.
local function current(fam, gen_key)
  local g = redis.call('HGET', fam, 'g') or '1'
  return tonumber(g) >= tonumber(redis.call('GET', gen_key) or '1')
end
