-- A new session: family hash, first access token, index entry, and the cap.
-- KEYS[1] family hash, KEYS[2] first access record, KEYS[3] sessions index
-- ARGV[1] base, ARGV[2] sid, ARGV[3] family expiry ms, ARGV[4] access record,
-- ARGV[5] access ttl ms, ARGV[6] access token key (key22), ARGV[7] access expiry s,
-- ARGV[8] now ms, ARGV[9] max sessions, ARGV[10] feed stream ('' = none),
-- ARGV[11] oldest feed id to keep, ARGV[12] sub, ARGV[13..] family field/value pairs
local feed = { ARGV[10], ARGV[11], ARGV[12] }
local fields = {}
for i = 13, #ARGV do
  fields[#fields + 1] = ARGV[i]
end
redis.call('HSET', KEYS[1], 'j:' .. ARGV[6], ARGV[7], unpack(fields))
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
redis.call('SET', KEYS[2], ARGV[4], 'PX', ARGV[5])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', ARGV[8])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[2])
local evicted = {}
local max = tonumber(ARGV[9])
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
