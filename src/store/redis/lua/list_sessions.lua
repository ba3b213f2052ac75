-- The live sessions of a user, earliest expiry first, pruning dead entries.
-- KEYS[1] sessions index; ARGV[1] base, ARGV[2] now ms
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
local out = {}
for _, sid in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local fields = redis.call('HGETALL', ARGV[1] .. 'fam:' .. sid)
  if #fields > 0 then
    out[#out + 1] = { sid, fields }
  end
end
return out
