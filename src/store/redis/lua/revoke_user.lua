-- Log out everywhere, in O(1) on Redis's thread whatever the number of the
-- user's tokens: the generation goes up (every record written before is
-- dead), the two indexes are unlinked (freed off the main thread), and
-- the records left behind expire with their tokens.
-- KEYS[1] sessions index, KEYS[2] stand-alone access index,
-- KEYS[3] user's generation
-- ARGV[1] now ms, ARGV[2] feed stream ('' = none),
-- ARGV[3] oldest feed id to keep, ARGV[4] sub
-- Answers {live sessions, live stand-alone access tokens} it ended.
-- One feed event covers it all: every token of sub issued before now.
publish({ ARGV[2], ARGV[3], ARGV[4] }, 't', 'user', 'sub', ARGV[4], 'before', ARGV[1])
local after_now = '(' .. ARGV[1]
local sessions = redis.call('ZCOUNT', KEYS[1], after_now, '+inf')
local tokens = redis.call('ZCOUNT', KEYS[2], after_now, '+inf')
-- Every live record is under an index (whose TTL is its latest member's
-- end) or was written under a raised generation (whose TTL covers it):
-- the new generation must outlast them all, or it would fall back to 1
-- and bring them back.
local keep = math.max(redis.call('PTTL', KEYS[1]), redis.call('PTTL', KEYS[2]),
  redis.call('PTTL', KEYS[3]), 0)
local gen = tonumber(redis.call('GET', KEYS[3]) or '1') + 1
redis.call('SET', KEYS[3], gen, 'PX', keep + 1000)
redis.call('UNLINK', KEYS[1], KEYS[2])
return { sessions, tokens }
