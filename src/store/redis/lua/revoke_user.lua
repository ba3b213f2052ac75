-- Log out everywhere: every session and every stand-alone access token.
-- KEYS[1] sessions index, KEYS[2] stand-alone access index
-- ARGV[1] base, ARGV[2] now ms, ARGV[3] feed stream ('' = none),
-- ARGV[4] oldest feed id to keep, ARGV[5] sub
-- One feed event covers it all: every token of sub issued before now.
local feed = { ARGV[3], ARGV[4], ARGV[5] }
publish(feed, 't', 'user', 'sub', ARGV[5], 'before', ARGV[2])
local quiet = { '', '', ARGV[5] }
local ended = 0
for _, sid in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  ended = ended + revoke_family(ARGV[1], sid, quiet)
end
for _, key in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  redis.call('DEL', ARGV[1] .. 'at:' .. key)
end
redis.call('DEL', KEYS[1], KEYS[2])
return ended
