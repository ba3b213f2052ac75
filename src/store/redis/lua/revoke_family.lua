-- KEYS[1] family hash (for routing), ARGV[1] base, ARGV[2] sid,
-- ARGV[3] feed stream ('' = none), ARGV[4] oldest feed id to keep, ARGV[5] sub
return revoke_family(ARGV[1], ARGV[2], { ARGV[3], ARGV[4], ARGV[5] })
