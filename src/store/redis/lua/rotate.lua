-- Refresh-token rotation, atomically: the presented digest must be the
-- current one; a remembered older digest means reuse and revokes the family.
-- KEYS[1] family hash, KEYS[2] new access record
-- ARGV[1] base, ARGV[2] sid, ARGV[3] presented digest, ARGV[4] next digest,
-- ARGV[5] access record, ARGV[6] access ttl ms, ARGV[7] access token key (key22),
-- ARGV[8] access expiry s, ARGV[9] now s, ARGV[10] digests remembered
local cur = redis.call('HMGET', KEYS[1], 'rt', 'p')
if not cur[1] then
  return 'unknown'
end
local prev = cur[2] or ''
if cur[1] ~= ARGV[3] then
  for d in string.gmatch(prev, '[^,]+') do
    if d == ARGV[3] then
      revoke_family(ARGV[1], ARGV[2])
      return 'reused'
    end
  end
  return 'unknown'
end
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
  'rf', ARGV[9], 'j:' .. ARGV[7], ARGV[8])
redis.call('SET', KEYS[2], ARGV[5], 'PX', ARGV[6])
return 'rotated'
