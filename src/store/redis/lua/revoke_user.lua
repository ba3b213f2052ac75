-- Log out everywhere: every session and every stand-alone access token.
-- KEYS[1] sessions index, KEYS[2] stand-alone access index
-- ARGV[1] base, ARGV[2] now ms
local ended = 0
for _, sid in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  ended = ended + revoke_family(ARGV[1], sid)
end
for _, key in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  redis.call('DEL', ARGV[1] .. 'at:' .. key)
end
redis.call('DEL', KEYS[1], KEYS[2])
return ended
