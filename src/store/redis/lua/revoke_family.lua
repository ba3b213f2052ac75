-- KEYS[1] family hash (for routing), KEYS[2] user's generation,
-- ARGV[1] base, ARGV[2] sid,
-- ARGV[3] feed stream ('' = none), ARGV[4] oldest feed id to keep, ARGV[5] sub
-- A session logout everywhere already ended was not live: 0.
local live = current(KEYS[1], KEYS[2])
local n = revoke_family(ARGV[1], ARGV[2], { ARGV[3], ARGV[4], ARGV[5] })
if live then
  return n
end
return 0
