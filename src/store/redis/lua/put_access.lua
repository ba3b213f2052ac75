-- A stand-alone access token: its record, and its entry in the user's index.
-- KEYS[1] access record, KEYS[2] user's stand-alone access index (zset)
-- ARGV[1] record, ARGV[2] ttl ms, ARGV[3] expiry ms,
-- ARGV[4] token key (key22: digest of the compact token), ARGV[5] now ms
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[5])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
expire_index(KEYS[2])
return 1
