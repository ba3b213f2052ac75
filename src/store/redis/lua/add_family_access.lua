-- An access token joins a live session (token exchange): revoking the
-- session then revokes it too. Nothing is written when the session is gone
-- (revoked, expired), so a token can never outlive its session's revocation.
-- KEYS[1] family hash, KEYS[2] new access record
-- ARGV[1] access token key (key22), ARGV[2] access expiry s,
-- ARGV[3] access record, ARGV[4] access ttl ms
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
redis.call('HSET', KEYS[1], 'j:' .. ARGV[1], ARGV[2])
redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[4])
return 1
