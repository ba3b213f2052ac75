-- A new session: family hash, first access token, index entry, and the cap.
-- Both carry the user's generation (the hash as field `g`, absent = 1).
-- KEYS[1] family hash, KEYS[2] first access record, KEYS[3] sessions index,
-- KEYS[4] user's generation
-- ARGV[1] base, ARGV[2] sid, ARGV[3] family expiry ms,
-- ARGV[4] access ttl ms, ARGV[5] access token key (key22), ARGV[6] access expiry s,
-- ARGV[7] now ms, ARGV[8] max sessions, ARGV[9] feed stream ('' = none),
-- ARGV[10] oldest feed id to keep, ARGV[11] sub, ARGV[12..] family field/value pairs
local feed = { ARGV[9], ARGV[10], ARGV[11] }
local gen = generation(KEYS[4], tonumber(ARGV[3]) - tonumber(ARGV[7]))
local fields = { 'j:' .. ARGV[5], ARGV[6] }
if gen ~= '1' then
  -- Absent = 1: the field costs nothing until a logout everywhere.
  fields[#fields + 1] = 'g'
  fields[#fields + 1] = gen
end
for i = 12, #ARGV do
  fields[#fields + 1] = ARGV[i]
end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
redis.call('SET', KEYS[2], gen, 'PX', ARGV[4])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[2])
local evicted = {}
local max = tonumber(ARGV[8])
if redis.call('ZCARD', KEYS[3]) <= max then
  -- Under the cap (the common case): dead entries may stay until the cap,
  -- a listing or a revocation prunes them (each copes with a missing
  -- family), and the index lives as long as its latest member: this one,
  -- unless an earlier session outlives it.
  local ttl = redis.call('PTTL', KEYS[3])
  if ttl < 0 or tonumber(ARGV[7]) + ttl < tonumber(ARGV[3]) then
    redis.call('PEXPIREAT', KEYS[3], ARGV[3])
  end
  return evicted
end
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', ARGV[7])
-- The earliest-expiring sessions other than this new one go: the new one
-- may expire first (a client with a shorter refresh life), and evicting it
-- would answer the caller with dead tokens.
while redis.call('ZCARD', KEYS[3]) > max do
  local victim = nil
  for _, sid in ipairs(redis.call('ZRANGE', KEYS[3], 0, 1)) do
    if sid ~= ARGV[2] then
      victim = sid
      break
    end
  end
  if victim == nil then
    break
  end
  revoke_family(ARGV[1], victim, feed)
  evicted[#evicted + 1] = victim
end
expire_index(KEYS[3])
return evicted
