-- One access token: its record and its entry in the user's index, and the
-- feed event naming it. A script rather than MULTI so that Redis Cluster
-- clients follow a MOVED (after a failover or resharding) instead of
-- aborting the transaction.
-- KEYS[1] access record, KEYS[2] user's stand-alone access index
-- ARGV[1] token key (key22), ARGV[2] feed stream ('' = none),
-- ARGV[3] oldest feed id to keep, ARGV[4..] the event's field/value pairs
local deleted = redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
if deleted == 1 and ARGV[2] ~= '' then
  local event = {}
  for i = 4, #ARGV do
    event[#event + 1] = ARGV[i]
  end
  redis.call('XADD', ARGV[2], 'MINID', '~', ARGV[3], '*', unpack(event))
end
return deleted
