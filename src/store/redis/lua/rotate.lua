-- Refresh-token rotation, atomically. The presented digest is
-- * the current one: rotate (the successor becomes current, the presented
--   one is remembered and may be retried until the grace deadline);
-- * the one the last rotation replaced, with that rotation's successor,
--   before the deadline and under the retry bound: a retry (the successor
--   stays current; only a new access token joins);
-- * any other remembered digest: reuse, which revokes the family.
-- KEYS[1] family hash, KEYS[2] new access record
-- ARGV[1] base, ARGV[2] sid, ARGV[3] presented digest, ARGV[4] next digest,
-- ARGV[5] access record, ARGV[6] access ttl ms, ARGV[7] access token key (key22),
-- ARGV[8] access expiry s, ARGV[9] now s, ARGV[10] digests remembered,
-- ARGV[11] now ms, ARGV[12] retry deadline ms (now + grace window),
-- ARGV[13] retries per rotation, ARGV[14] feed stream ('' = none),
-- ARGV[15] oldest feed id to keep, ARGV[16] sub
-- Family fields: rt current digest, p remembered digests (newest first),
-- rf last rotation (s), gt retry deadline (ms), gn retries since, j:<key22>.
local cur = redis.call('HMGET', KEYS[1], 'rt', 'p', 'gt', 'gn')
if not cur[1] then
  return 'unknown'
end
local prev = cur[2] or ''
local now_ms = tonumber(ARGV[11])
local outcome
if cur[1] == ARGV[3] then
  -- Remember the superseded digest, newest first, bounded.
  local kept = { cur[1] }
  for d in string.gmatch(prev, '[^,]+') do
    if #kept >= tonumber(ARGV[10]) then break end
    kept[#kept + 1] = d
  end
  -- Forget access tokens of this family that have expired.
  local now = tonumber(ARGV[9])
  local all = redis.call('HGETALL', KEYS[1])
  for i = 1, #all, 2 do
    if string.sub(all[i], 1, 2) == 'j:' and tonumber(all[i + 1]) <= now then
      redis.call('HDEL', KEYS[1], all[i])
    end
  end
  redis.call('HSET', KEYS[1], 'rt', ARGV[4], 'p', table.concat(kept, ','),
    'rf', ARGV[9], 'gt', ARGV[12], 'gn', 0)
  outcome = 'rotated'
else
  local retries = tonumber(cur[4] or '0')
  if string.match(prev, '^[^,]+') == ARGV[3] and cur[1] == ARGV[4]
      and now_ms < tonumber(cur[3] or '0') and retries < tonumber(ARGV[13]) then
    redis.call('HSET', KEYS[1], 'gn', retries + 1)
    outcome = 'retried'
  else
    for d in string.gmatch(prev, '[^,]+') do
      if d == ARGV[3] then
        revoke_family(ARGV[1], ARGV[2], { ARGV[14], ARGV[15], ARGV[16] })
        return 'reused'
      end
    end
    return 'unknown'
  end
end
redis.call('HSET', KEYS[1], 'j:' .. ARGV[7], ARGV[8])
redis.call('SET', KEYS[2], ARGV[5], 'PX', ARGV[6])
return outcome
