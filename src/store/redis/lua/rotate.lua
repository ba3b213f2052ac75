-- Refresh-token rotation, atomically. The presented digest is
-- * the current one: rotate (the successor becomes current, the presented
--   one is remembered and may be retried until the grace deadline);
-- * the one the last rotation replaced, with that rotation's successor,
--   before the deadline and under the retry bound: a retry (the successor
--   stays current; only a new access token joins);
-- * any other remembered digest: reuse, which revokes the family.
-- A session of a generation logout everywhere ended is unknown.
-- KEYS[1] family hash, KEYS[2] new access record, KEYS[3] user's generation
-- ARGV[1] base, ARGV[2] sid, ARGV[3] presented digest, ARGV[4] next digest,
-- ARGV[5] access ttl ms, ARGV[6] access token key (key22),
-- ARGV[7] access expiry s, ARGV[8] now s, ARGV[9] digests remembered,
-- ARGV[10] now ms, ARGV[11] retry deadline ms (now + grace window),
-- ARGV[12] retries per rotation, ARGV[13] feed stream ('' = none),
-- ARGV[14] oldest feed id to keep, ARGV[15] sub
-- Family fields: rt current digest, p remembered digests (newest first),
-- rf last rotation (s), gt retry deadline (ms), gn retries since, j:<key22>.
local cur = redis.call('HMGET', KEYS[1], 'rt', 'p', 'gt', 'gn')
if not cur[1] or not current(KEYS[1], KEYS[3]) then
  return 'unknown'
end
local prev = cur[2] or ''
local now_ms = tonumber(ARGV[10])
local outcome
if cur[1] == ARGV[3] then
  -- Remember the superseded digest, newest first, bounded.
  local kept = { cur[1] }
  for d in string.gmatch(prev, '[^,]+') do
    if #kept >= tonumber(ARGV[9]) then break end
    kept[#kept + 1] = d
  end
  -- Forget access tokens of this family that have expired.
  local now = tonumber(ARGV[8])
  local all = redis.call('HGETALL', KEYS[1])
  for i = 1, #all, 2 do
    if string.sub(all[i], 1, 2) == 'j:' and tonumber(all[i + 1]) <= now then
      redis.call('HDEL', KEYS[1], all[i])
    end
  end
  redis.call('HSET', KEYS[1], 'rt', ARGV[4], 'p', table.concat(kept, ','),
    'rf', ARGV[8], 'gt', ARGV[11], 'gn', 0)
  outcome = 'rotated'
else
  local retries = tonumber(cur[4] or '0')
  if string.match(prev, '^[^,]+') == ARGV[3] and cur[1] == ARGV[4]
      and now_ms < tonumber(cur[3] or '0') and retries < tonumber(ARGV[12]) then
    redis.call('HSET', KEYS[1], 'gn', retries + 1)
    outcome = 'retried'
  else
    for d in string.gmatch(prev, '[^,]+') do
      if d == ARGV[3] then
        revoke_family(ARGV[1], ARGV[2], { ARGV[13], ARGV[14], ARGV[15] })
        return 'reused'
      end
    end
    return 'unknown'
  end
end
redis.call('HSET', KEYS[1], 'j:' .. ARGV[6], ARGV[7])
redis.call('SET', KEYS[2], generation(KEYS[3], ARGV[5]), 'PX', ARGV[5])
return outcome
