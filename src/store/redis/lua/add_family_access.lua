-- An access token joins a live session (token exchange): revoking the
-- session then revokes it too. Nothing is written when the session is gone
-- (revoked, expired, or of a generation logout everywhere ended), so a
-- token can never outlive its session's revocation.
-- KEYS[1] family hash, KEYS[2] new access record, KEYS[3] user's generation
-- ARGV[1] access token key (key22), ARGV[2] access expiry s,
-- ARGV[3] access ttl ms
if redis.call('EXISTS', KEYS[1]) == 0 or not current(KEYS[1], KEYS[3]) then
  return 0
end
redis.call('HSET', KEYS[1], 'j:' .. ARGV[1], ARGV[2])
redis.call('SET', KEYS[2], generation(KEYS[3], ARGV[3]), 'PX', ARGV[3])
return 1
