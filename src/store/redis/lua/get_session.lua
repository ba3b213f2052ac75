-- A session's fields, or none when logout everywhere ended it (its `g`
-- below the user's generation).
-- KEYS[1] family hash, KEYS[2] user's generation
if not current(KEYS[1], KEYS[2]) then
  return {}
end
return redis.call('HGETALL', KEYS[1])
