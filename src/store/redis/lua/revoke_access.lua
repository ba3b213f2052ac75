-- One access token: its record and its entry in the user's index. A script
-- rather than MULTI so that Redis Cluster clients follow a MOVED (after a
-- failover or resharding) instead of aborting the transaction.
-- KEYS[1] access record, KEYS[2] user's stand-alone access index
-- ARGV[1] token key (key22)
local deleted = redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return deleted
