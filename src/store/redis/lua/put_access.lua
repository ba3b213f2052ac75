-- A stand-alone access token: its record, and its entry in the user's index.
-- KEYS[1] access record, KEYS[2] user's stand-alone access index (zset),
-- KEYS[3] user's generation
-- ARGV[1] ttl ms, ARGV[2] expiry ms,
-- ARGV[3] token key (key22: digest of the compact token), ARGV[4] now ms
redis.call('SET', KEYS[1], generation(KEYS[3], ARGV[1]), 'PX', ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[4])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
expire_index(KEYS[2])
return 1
