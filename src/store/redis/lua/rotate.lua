-- Refresh-token rotation, atomically. The presented digest is
-- * the current one: rotate (the successor becomes current, the presented
--   one is remembered and may be retried until the grace deadline);
-- * the one the last rotation replaced, with that rotation's successor,
--   before the deadline and under the retry bound: a retry (the successor
--   stays current; only a new access token joins);
-- * any other remembered digest: reuse, which revokes the family.
-- A session of a generation logout everywhere ended is unknown.
-- KEYS[1] family hash, KEYS[2] new access record, KEYS[3] user's generation
-- ARGV[1] base, ARGV[2] sid, ARGV[3] presented digest, ARGV[4] next digest
-- (both 32 raw bytes),
-- ARGV[5] access ttl ms, ARGV[6] access token key (key22),
-- ARGV[7] access expiry s, ARGV[8] now s, ARGV[9] digests remembered,
-- ARGV[10] now ms, ARGV[11] retry deadline ms (now + grace window),
-- ARGV[12] retries per rotation, ARGV[13] feed stream ('' = none),
-- ARGV[14] oldest feed id to keep, ARGV[15] sub
-- Family fields (src/store/session_hash.rs): d current digest (32 raw
-- bytes), q and Q the remembered prefixes of superseded digests (16 raw
-- bytes each, newest first, four to a field: every value within 64 bytes
-- keeps the hash compact), rf last rotation (s), gt retry deadline (ms), gn
-- retries since, j:<key22>. A session written before that encoding holds
-- rt (hex digest), p (comma-separated hex digests) and k (hex seed)
-- instead; its first rotation rewrites them.
local PREFIX = 16
local function unhex(h)
  return (string.gsub(h, '..', function(b) return string.char(tonumber(b, 16)) end))
end
local cur = redis.call('HMGET', KEYS[1], 'd', 'q', 'Q', 'gt', 'gn', 'rt', 'p', 'k')
local digest = cur[1] or (cur[6] and unhex(cur[6]))
if not digest or not current(KEYS[1], KEYS[3]) then
  return 'unknown'
end
local prev = (cur[2] or '') .. (cur[3] or '')
if cur[7] then
  for d in string.gmatch(cur[7], '[^,]+') do
    prev = prev .. string.sub(unhex(d), 1, PREFIX)
  end
end
local presented = ARGV[3]
local mark = string.sub(presented, 1, PREFIX)
local now_ms = tonumber(ARGV[10])
local outcome
if digest == presented then
  -- Remember the superseded digest's prefix, newest first, bounded.
  local kept = string.sub(mark .. prev, 1, PREFIX * tonumber(ARGV[9]))
  -- Forget access tokens of this family that have expired.
  local now = tonumber(ARGV[8])
  local all = redis.call('HGETALL', KEYS[1])
  for i = 1, #all, 2 do
    if string.sub(all[i], 1, 2) == 'j:' and tonumber(all[i + 1]) <= now then
      redis.call('HDEL', KEYS[1], all[i])
    end
  end
  redis.call('HSET', KEYS[1], 'd', ARGV[4], 'q', string.sub(kept, 1, 4 * PREFIX),
    'rf', ARGV[8], 'gt', ARGV[11], 'gn', 0)
  if #kept > 4 * PREFIX then
    redis.call('HSET', KEYS[1], 'Q', string.sub(kept, 4 * PREFIX + 1))
  end
  if cur[6] or cur[7] or cur[8] then
    if cur[8] then
      redis.call('HSET', KEYS[1], 'z', unhex(cur[8]))
    end
    redis.call('HDEL', KEYS[1], 'rt', 'p', 'k')
  end
  outcome = 'rotated'
else
  local retries = tonumber(cur[5] or '0')
  if string.sub(prev, 1, PREFIX) == mark and digest == ARGV[4]
      and now_ms < tonumber(cur[4] or '0') and retries < tonumber(ARGV[12]) then
    redis.call('HSET', KEYS[1], 'gn', retries + 1)
    outcome = 'retried'
  else
    for i = 1, #prev, PREFIX do
      if string.sub(prev, i, i + PREFIX - 1) == mark then
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
